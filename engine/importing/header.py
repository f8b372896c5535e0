"""The head of a plan: title, number, date and place of issue, period, and who issues it.

>>> number_and_date("Số:  66 -KH/TĐTN-ĐKTHTN        Rạch Giá, ngày 19  tháng 02  năm 2014")
('66-KH/TĐTN-ĐKTHTN', '19/02/2014')
>>> period_of("Kế hoạch hoạt động Đội giai đoạn 2023 - 2028", None)
'2023 - 2028'
"""

from __future__ import annotations

import re
import unicodedata

from .units import subject

_NUMBER = re.compile(r"\bSố\s*:?\s*(\d[\w\-/. ]*?[\w])(?=\s{2,}|\s+[A-ZĐ][^\W\d_]+\s*[,.]|$)")
_ISSUED = re.compile(
    r"[^\W\d_][^,]{1,40}?,\s*ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+(\d{4})", re.IGNORECASE
)
#: First words of a title that are common words, written in lower case after «Kế hoạch».
_COMMON_FIRST = {
    "tổ",
    "hoạt",
    "thực",
    "triển",
    "tổng",
    "xây",
    "công",
    "chương",
    "tuyên",
    "phát",
    "nâng",
    "kiểm",
    "đẩy",
    "tăng",
    "về",
}
_TITLE_END = re.compile(
    r"^(?:-{3,}|\*{3,}|[IVX]+\s*[./)]|căn cứ|thực hiện\s+(?:nghị|thông|kế|quyết|chỉ))",
    re.IGNORECASE,
)


def clean(text: str, columns: bool = False) -> str:
    """NFC, plain spaces, no markdown marks («##», «**»), no bullets' odd characters; with
    `columns`, a run of spaces (a letterhead's two columns) stays two spaces."""
    s = unicodedata.normalize("NFC", text)
    s = re.sub(r"[\u00a0\u2007\u202f\u200b\t\r\ufeff]", " ", s)
    s = re.sub(r"^\s*#{1,6}\s*", "", s)
    s = s.replace("**", "").replace("__", "")
    s = re.sub(r"([:,;])(?=[^\W\d_])", r"\1 ", s)  # «tuổi:giáo dục», «ban,ngành»
    if columns:
        return re.sub(r" {2,}", "  ", s).strip()
    return re.sub(r"\s+", " ", s).strip()


def is_upper(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 6 and sum(c.isupper() for c in letters) >= 0.8 * len(letters)


def sentence_case(text: str) -> str:
    if not is_upper(text):
        return text
    low = text.lower()
    return low[:1].upper() + low[1:]


def _lower_upper(line: str) -> str:
    """A line written in capitals, in lower case but for its acronyms («BCH», «TNCS»)."""
    letters = [c for c in line if c.isalpha()]
    if not letters or sum(c.isupper() for c in letters) < 0.6 * len(letters):
        return line

    def word(w: str) -> str:
        acronym = _ACRONYM.fullmatch(w) is not None
        return w if acronym else w.lower()

    return " ".join(word(w) for w in line.split(" "))


def number_and_date(line: str) -> tuple[str | None, str | None]:
    number = issued = None
    m = _NUMBER.search(line)
    if m:
        number = re.sub(r"\s*([-/])\s*", r"\1", m.group(1)).strip()
    d = _ISSUED.search(line)
    if d:
        issued = f"{int(d.group(1)):02d}/{int(d.group(2)):02d}/{d.group(3)}"
    return number, issued


def title_of(lines: list[str]) -> tuple[str, int]:
    """The title under «KẾ HOẠCH» (maybe several lines), and the index of the line after it."""
    start = next(
        (i for i, t in enumerate(lines[:60]) if re.fullmatch(r"kế hoạch\s*:?", t, re.IGNORECASE)),
        None,
    )
    if start is None:
        first = next((i for i, t in enumerate(lines) if t), 0)
        return sentence_case(lines[first] if lines else "Kế hoạch"), first + 1
    parts: list[str] = []
    i = start + 1
    while i < len(lines) and len(parts) < 6:
        t = lines[i]
        if not t:
            if parts:
                break
        elif (_TITLE_END.match(t) and (parts or not t.lower().startswith("thực hiện"))) or len(
            t
        ) > 300:
            break
        else:
            parts.append(t)
        i += 1
    raw = " ".join(_lower_upper(p) for p in parts).rstrip(".")
    body = raw
    first_word = body.split(" ", 1)[0] if body else ""
    if body and not body.lower().startswith("kế hoạch"):
        common = first_word.lower() in _COMMON_FIRST
        body = "Kế hoạch " + (body[:1].lower() + body[1:] if common else body)
    return body or "Kế hoạch", i


def period_of(title: str, issued: str | None) -> str | None:
    """The plan's period from its title, else the year of its date of issue (never from the
    years the text cites: a law of 2013 is not the plan's)."""
    m = re.search(
        r"(?:giai đoạn|từ năm|nhiệm kỳ)?\s*((?:19|20)\d{2})\s*[-–]\s*((?:19|20)\d{2})",
        title,
        re.IGNORECASE,
    )
    if m:
        return f"{m.group(1)} - {m.group(2)}"
    m = re.search(r"\bnăm\s+((?:19|20)\d{2})\b", title, re.IGNORECASE)
    if m:
        return m.group(1)
    if issued:
        return issued[-4:]
    return None


def issuer_of(lines: list[str], head: list[str] | None = None) -> str | None:
    """Who issues the plan: the unit of the signer, the one that «xây dựng kế hoạch», or «TM. …»."""
    for t in lines:
        m = re.search(r"\((?:Phó\s+)?(?:Bí thư|Giám đốc|Chủ tịch|Trưởng ban|Trưởng)\s+(.+?)\)", t)
        if m and subject(m.group(1)):
            return subject(m.group(1))
    for t in lines[:80]:
        m = re.search(r"([^,.;:“”]{3,120}?)\s+xây dựng (?:kế hoạch|chương trình)", t, re.IGNORECASE)
        if m:
            words = m.group(1).split()
            for k in range(len(words)):
                if words[k][0].isupper():
                    found = subject(" ".join(words[k:]) + " xây")
                    if found:
                        return found
    top = next(
        (i for i, t in enumerate(lines[:60]) if re.fullmatch(r"kế hoạch\s*:?", t, re.IGNORECASE)), 0
    )
    found = None
    for t in (head or lines)[:top]:  # the letterhead: «UBND XÃ …» over «HỘI ĐỒNG ĐỘI XÃ»: the last
        first = re.split(r"\s{2,}|\t", t.strip())[0]
        if is_upper(first) and not _NATIONAL.match(first) and subject(unit_case(first)):
            # «HUYỆN ĐOÀN CẦN GIỜ» over a bare «BAN THƯỜNG VỤ»: the organ of the unit above it
            found = (
                f"{unit_case(first)} {found}"
                if found and _ORGAN.fullmatch(first)
                else unit_case(first)
            )
    if found:
        return found
    for t in lines:
        m = re.match(r"^TM\.?\s+(.+)$", t)
        if m and len(m.group(1)) > 3:
            return unit_case(m.group(1)).strip(" .")
    return None


_ACRONYM = re.compile(
    r"\W*(?:[B-DF-HJ-NP-TV-XZĐ]{2,}|[IVX]+|UBND|HĐND|UBMTTQ|MTTQ|CCB|ĐTN|TU|HU|QU)\W*"
)
_ORGAN = re.compile(
    r"(?:ban thường vụ|ban chấp hành|thường trực|văn phòng|ban giám đốc|ban chỉ đạo)\W*",
    re.IGNORECASE,
)
_NATIONAL = re.compile(r"^(?:đoàn tncs hồ chí minh|cộng hòa|cộng hoà|độc lập|\*|-)", re.IGNORECASE)


def unit_case(name: str) -> str:
    """A unit's name written in capitals, each word capitalised but for acronyms («BCH Đoàn
    Phường 5»)."""
    if not is_upper(name):
        return name

    def word(w: str) -> str:
        if _ACRONYM.fullmatch(w):
            return w
        return w[:1] + w[1:].lower()

    out = " ".join(word(w) for w in name.split())
    out = _COMPOUND.sub(lambda m: m.group(1) + m.group(2).lower(), out)
    return out.replace("Ủy ban Nhân Dân", "Ủy ban nhân dân").replace(
        "Hội đồng Nhân Dân", "Hội đồng nhân dân"
    )


#: Names whose next words keep lower case: «Ban Thường vụ», «Ủy ban», «Hội Cựu chiến binh».
_COMPOUND = re.compile(
    r"\b(Thường |Chấp |Giám |Chỉ |Văn |Mặt |Liên |Phụ |Nông |Khuyến |Ủy |Tổ |Cựu |Hội )"
    r"(Vụ|Hành|Đốc|Đạo|Phòng|Trận|Hiệp|Nữ|Dân|Học|Ban|Quốc|Chiến Binh|Đồng)\b"
)
