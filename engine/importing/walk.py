"""Walk the lines of a plan, section by section, and collect its dated duties.

A section remembers what its lines leave unsaid: its time («Thời gian: …», «Cần thực hiện …
trong năm 2021:»), its year, its place, the unit it is about («2. Nhà thiếu nhi Quận:»), and
whether the lines are assignments («Phân công thực hiện:»).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from engine.errors import PlanError
from engine.phrases import Schedule, parse_when
from engine.rules import Fixed

from . import duties
from .campaigns import Campaign, find_campaigns
from .dates import (
    FROM_ACTIVITY,
    Context,
    Doubt,
    Found,
    find_when,
    has_anchor,
    has_day,
    lower_masked,
)
from .header import is_upper
from .units import subject

_ROMAN = re.compile(r"^([IVX]{1,5})\s*[./)]\s*(.*)$")
_NUMBERED = re.compile(r"^(\d{1,2})\s*[./)]\s*(\S.*)$")
_LABEL = re.compile(
    r"^(thời gian(?:\s*-\s*địa điểm)?(?:\s+(?:thực hiện|hoàn thành|tổ chức))?|địa điểm|"
    r"nội dung|phân công(?:\s+thực hiện|\s+nhiệm vụ)?|đơn vị thực hiện)\s*:\s*(.*)$",
    re.IGNORECASE,
)
#: Lines that describe the section's activity, not a duty of their own: «Thành phần: mỗi chi đoàn
#: cử 20 đoàn viên», «Hình thức: trực tuyến». One that names money is still read (a contribution).
_ATTRIBUTE = re.compile(
    r"^(?:thành phần(?:\s+tham (?:gia|dự))?|đối tượng(?:\s+tham (?:gia|dự))?|quy mô|hình thức|"
    r"số lượng|lực lượng(?:\s+[^:]{0,25})?|chủ trì|trang phục|ghi chú)\s*:",
    re.IGNORECASE,
)
#: What a line says of its item when it only dates it: «Dự kiến tổ chức trong tháng 3/2025 tại …».
_HELD_WORDS = r"(?:tổ chức|diễn ra|thực hiện|triển khai|khai mạc)"
_HELD = re.compile(rf"\b{_HELD_WORDS}\b", re.IGNORECASE)
_ONLY_WHEN = re.compile(
    rf"^\W*(?:(?:thời gian\s+)?dự kiến|sẽ|được)?\s*(?:{_HELD_WORDS}\s*)?(?:vào|trong|lúc|từ)?\s*$",
    re.IGNORECASE,
)
#: Headings that name a part of the plan, not an activity: its activity is the plan's own.
GENERIC_TITLE = re.compile(
    r"(?:(?:nội dung|thời gian|địa điểm|kinh phí|hình thức|phân công|tổ chức thực hiện|"
    r"chương trình|hoạt động|thực hiện|cụ thể)(?:\s*(?:,|và|-|–)\s*|\s+)?)+\W*",
    re.IGNORECASE,
)
_TARGETS = re.compile(r"chỉ tiêu|mục tiêu", re.IGNORECASE)
_BULLET = re.compile(r"^[\-–+•*·►▪●○◦]\s*")
_DUTY_WORDS = re.compile(
    r"\b(?:định kỳ|hạn chót|chậm nhất|thời hạn|(?:tháng|tuần|quý|năm) (?:này|tới|sau)|hôm nay|"
    r"ngày mai|sắp tới|trước ngày|trước khi|sau khi)\b",
    re.IGNORECASE,
)
_GOALS = re.compile(r"^\W*(?:mục đích|yêu cầu|căn cứ|ý nghĩa|sự cần thiết)", re.IGNORECASE)
#: «… thực hiện tốt các chỉ tiêu của kế hoạch», «tổ chức các hoạt động theo phân công»: a unit's
#: section gives it the plan's targets, or the duties of its «Nội dung» part, as a class.
#: Not «… các nội dung theo phân công»: that is the part assigned to it elsewhere, not the class.
_GENERIC = re.compile(
    r"\b(?:thực hiện|triển khai|tổ chức)\b[^.;:]{0,25}?\bcác\s+(chỉ tiêu|nội dung|hoạt động)\b"
    r"(?![^.;:]{0,40}\btheo\s+(?:sự\s+)?phân\s+công)",
    re.IGNORECASE,
)
_MONITORS = re.compile(
    r"\b(?:theo dõi|kiểm tra|giám sát|đôn đốc|đánh giá|tổng hợp)\b|\bviệc\s*$", re.IGNORECASE
)
#: «… phân công X là bộ phận thường trực …»: the issuer's staff, who drafts and reports for it.
_STANDING = re.compile(
    r"\b(?:phân công|giao|cử)\s+(.+?)\s+(?:là|làm)\s+(?:bộ phận|cơ quan|đơn vị)\s+thường trực\b",
    re.IGNORECASE,
)
#: «Xây dựng kế hoạch hoạt động hàng tháng»: a plan for a period is needed when the period starts.
_PLANS_PERIOD = re.compile(
    r"^\W*(?:xây dựng|lập|dự thảo)\s+(?:các\s+)?(?:kế hoạch|chương trình)\b", re.IGNORECASE
)
#: «hằng năm» and nothing else: a year, no day in it («định kỳ 01 năm»).
BARE_YEARLY = re.compile(
    r"(?:định\s+kỳ\s+)?(?:hằng|hàng|mỗi)\s+năm|định\s+kỳ\s+0?1\s+năm", re.IGNORECASE
)
_YEAR = re.compile(r"\b((?:19|20)\d{2})\b")
_BARE_PERIOD = re.compile(r"(?:định kỳ\s+)?(?:hằng|hàng|mỗi)\s+(năm|quý|tháng)", re.IGNORECASE)
_COLLECTIVE = re.compile(
    r"\b(?:cơ sở đoàn|đơn vị)(?:\s+thành viên)?\s+(?:trong|thuộc|của)?\s*cụm\b|"
    r"\bđơn vị thành viên\b",
    re.IGNORECASE,
)


_PERIODIC = re.compile(
    r"\bđịnh\s+kỳ\b|\b(?:hằng|hàng|mỗi)\s+(?:năm|quý|tháng|tuần)\b", re.IGNORECASE
)
_TENTATIVE = re.compile(r"\bdự\s+kiến\b", re.IGNORECASE)
_NOT_BY = re.compile(r"\bkhông\s+(?:được\s+)?[^,;.]{0,50}\btrước\s+ngày\b", re.IGNORECASE)
_STAMP_WORDS = re.compile(
    r"\b(?:thứ\s+(?:hai|ba|tư|năm|sáu|bảy|[2-7])|chủ\s+nhật|ngày|lúc)\b|[\d\W_]+", re.IGNORECASE
)


def _dateline(sentence: str, found: list[Found]) -> bool:
    """A line that is only a date and a time (a page's stamp, a letter's date), no duty."""
    rest = sentence
    for f in sorted(found, key=lambda f: -f.start):
        rest = rest[: f.start] + " " + rest[f.end :]
    return not _STAMP_WORDS.sub(" ", rest).strip()


def sentences(text: str) -> list[str]:
    """Split at «. » or «; » before a capital letter, never inside parentheses."""
    out, depth, start = [], 0, 0
    for m in re.finditer(r"[()]|(?<=[.;])\s+(?=[A-ZĐ“\"])", text):
        if m.group() in "()" and m.group():
            depth = max(0, depth + (1 if m.group() == "(" else -1))
        elif depth == 0:
            out.append(text[start : m.start()])
            start = m.end()
    out.append(text[start:])
    return [s for s in out if s.strip()]


def _period_start(f: Found) -> Found:
    """«Xây dựng kế hoạch … hàng tháng» is due at the start of each month («đầu hằng tháng»), not
    at its end as a bare «hàng tháng» would be; flagged for review."""
    m = _BARE_PERIOD.fullmatch(f.phrase.strip())
    if m is None:
        return f
    new = f"đầu hằng {m.group(1).lower()}"
    return Found(
        new,
        parse_when(new),
        f.start,
        f.end,
        (*f.flags, "kế hoạch của một kỳ lập vào đầu kỳ"),
        f.written,
    )


def _dated(sentence: str, c: Campaign, found: list[Found]) -> bool:
    """Whether the text dates the campaign itself: a phrase on its name («Tháng Thanh niên năm
    2026»), or in its clause a date other than «hằng năm» («Tổng kết Chiến dịch Hè ngày 30/8»)."""
    clause = _clause(sentence, c.start)
    at = sentence.find(clause)
    for f in found:
        if f.start < c.end and c.start < f.end:
            return True
        if at <= f.start < at + len(clause) and not BARE_YEARLY.fullmatch(
            " ".join(f.phrase.split())
        ):
            return True
    return False


def _without(sentence: str, f: Found) -> str:
    """The sentence without its `when:` phrase and its place («tại …»)."""
    rest = sentence[: f.start] + " " + sentence[f.end :]
    return re.sub(r"\btại\b.*$", "", rest, flags=re.IGNORECASE).strip(" .,;:")


def _clause(sentence: str, at: int) -> str:
    """The part of a sentence, between «;» or «đồng thời», that holds position `at`."""
    start = 0
    for m in re.finditer(r";\s*|,?\s+đồng thời\s+", sentence):
        if m.start() > at:
            return sentence[start : m.start()].strip()
        start = m.end()
    return sentence[start:].strip()


@dataclass
class Section:
    title: str
    level: int
    year: int | None = None
    lead: str | None = None  # the unit the heading names
    when: Found | None = None  # «Thời gian: …»
    when_line: int = 0
    dated: list[tuple[Found, int, str]] = field(default_factory=list)  # «+ Ngày 24/7/2022 tại …»
    expect_dates: bool = False
    intro: Found | None = None  # «… trong năm 2021:» then bullets
    carry: str | None = None  # «giao Cụm trưởng …:» then bullets
    heading_when: Found | None = None
    place: str | None = None
    mode: str = ""  # "", "content", "assign"
    emitted: int = 0
    took_when: bool = False  # a line of it was dated by its «Thời gian: …»
    first_unit: str | None = None  # the first unit its lines name as doing something
    item: bool = False  # a numbered item, not a heading: it has its parent's title
    line: int = 0
    part: str = ""  # the title of the top-level part it is in («III. NỘI DUNG»)


@dataclass
class Hit:
    """A duty found: its sentence, time, unit (name as written), line and how sure we are."""

    sentence: str
    found: Found
    unit: str | None
    line: int
    section: Section
    confidence: float
    reasons: list[str]
    kind: str | None = None
    title: str | None = None  # when the sentence does not name what it dates: its item's name


class Walker:
    def __init__(
        self, ctx: Context, on_doubt: Callable[[int, str, str], None], plan_title: str = "Kế hoạch"
    ):
        self.ctx = ctx
        self.plan_title = re.sub(r"^kế hoạch\s+", "", plan_title, flags=re.IGNORECASE) or plan_title
        self.stack: list[Section] = [Section("", 0, ctx.year)]
        self.hits: list[Hit] = []
        self.subjects: list[tuple[str, int]] = []
        self.closed: list[tuple[str, str]] = []  # (section title, the first unit its lines name)
        self.generic: list[
            tuple[str, str, int]
        ] = []  # («chỉ tiêu»/«nội dung»/«hoạt động», unit, line)
        self.standing: tuple[str, int] | None = None  # the issuer's standing staff, and its line
        self.counted: list[
            Hit
        ] = []  # deadlines counted from an activity («… kể từ ngày kết thúc hội nghị»)
        self.on_doubt = on_doubt

    @property
    def top(self) -> Section:
        return self.stack[-1]

    def name_of(self, sec: Section) -> str:
        """The activity a section is about: its title, or the plan's own when the title only
        names a part of the plan («NỘI DUNG», «KINH PHÍ») or there is none."""
        return self.plan_title if not sec.title or GENERIC_TITLE.fullmatch(sec.title) else sec.title

    def heading_level(self, text: str, bold: bool) -> tuple[int, str] | None:
        m = _ROMAN.match(text)
        if m and (m.group(2) == "" or m.group(2)[0].isupper()):
            return 1, m.group(2)
        m = _NUMBERED.match(text)
        if m:
            rest = m.group(2)
            if (
                rest.endswith(":")
                or bold
                or (is_upper(rest) and len(rest) < 120)
                or (
                    len(rest.split()) <= 14
                    and not has_anchor(rest)
                    and not duties.target_measure(rest)
                    and not rest.endswith(".")
                )
            ):
                return 2, rest
            return None
        m = re.match(r"^(tiêu chí|mục|phần|chương)\s+\d+\s*[:.]\s*(.*)$", text, re.IGNORECASE)
        if m:
            return 3, text
        if is_upper(text) and len(text) < 160 and not _BULLET.match(text) and not has_day(text):
            return (
                1,
                text,
            )  # a line in capitals that gives a day is a duty: «HỘI NGHỊ … NGÀY 15/12/2025»
        if (
            bold
            and len(text) < 120
            and not text.endswith((".", ";"))
            and not _BULLET.match(text)
            and not _LABEL.match(text)
            and not has_anchor(text)
            and " | " not in text
        ):
            return 3, text  # a bold line of its own, unnumbered
        return None

    def open(self, level: int, title: str, line: int) -> None:
        while len(self.stack) > 1 and self.top.level >= level:
            self.close()
        parent = self.top
        year = parent.year
        doubts: list[Doubt] = []
        found = find_when(title, self.ctx, doubts)
        years = [int(y) for y in _YEAR.findall(title)]
        if years:
            year = years[-1]
        lead = subject(title)
        if lead and len(lead) < 0.8 * len(title.rstrip(": ")):
            lead = None
        sec = Section(
            title.rstrip(": "), level, year, lead or parent.lead if level > 1 else lead, line=line
        )
        sec.part = sec.title if level == 1 else parent.part
        if _GOALS.search(title) or parent.mode == "goals":
            sec.mode = "goals"
        if found and re.search(r"chỉ tiêu|mục tiêu", title, re.IGNORECASE):
            sec.heading_when = found[0]
        elif parent.heading_when and level > parent.level:
            sec.heading_when = parent.heading_when
        self.stack.append(sec)
        self.ctx.year = year

    def close(self) -> None:
        sec = self.stack.pop()
        if sec.first_unit and sec.title and not sec.item:
            self.closed.append((sec.title, sec.first_unit))
        if sec.dated and sec.when:
            days = " và ".join(f.phrase for f, _, _ in sec.dated)
            self.on_doubt(
                sec.when_line,
                sec.when.phrase,
                f"mục còn ghi các ngày cụ thể ({days}): đã dùng các ngày đó; hãy kiểm tra",
            )
        # the section's own activity, at its «Thời gian: …», unless its lines took that time (who
        # does what at it) or it is a heading about time; lines with dates of their own do not count
        if not sec.dated and (
            sec.took_when or not sec.when or re.match(r"thời gian", sec.title, re.IGNORECASE)
        ):
            self.ctx.year = self.top.year
            return
        name = self.name_of(sec)
        own = [(sec.when, sec.when_line, sec.title)] if sec.when else []  # one of the two is there
        for f, line, text in sec.dated or own:
            title = name if text == sec.title else f"{name} – {duties.title_of(text)}"
            self.hits.append(Hit(title, f, sec.lead, line, sec, 0.75, ["thời gian của mục"]))
        self.ctx.year = self.top.year

    def section_when(self, sec: Section) -> tuple[Found | None, list[str]]:
        if sec.dated:
            if len(sec.dated) == 1:
                return sec.dated[0][0], []
            phrase = " và ".join(f.phrase for f, _, _ in sec.dated)
            joined = find_when(phrase, self.ctx)
            if len(joined) == 1:
                return joined[0], ["các ngày của mục"]
        for s in reversed(self.stack):
            if s.when:
                return s.when, ["thời gian của mục"]
            if s.intro:
                return s.intro, ["thời gian nêu ở câu dẫn"]
        return None, []

    def line(self, no: int, text: str, bold: bool = False) -> None:
        head = self.heading_level(text, bold)
        if head:
            self.open(head[0], head[1] or text, no)
            return
        if " | " in text or (text.startswith("|") and text.endswith("|")):
            cells = [c.strip() for c in text.strip("|").split("|")]
            if not all(re.fullmatch(r":?-*:?", c) for c in cells):  # not a Markdown rule row
                self.row(no, [c for c in cells if c])
            return
        if _NUMBERED.match(text):  # an item, not a heading: it ends the item before it
            while self.top.level >= 2 and len(self.stack) > 1:
                self.close()
            self.stack.append(
                Section(
                    self.top.title,
                    2,
                    self.top.year,
                    self.top.lead,
                    line=no,
                    item=True,
                    heading_when=self.top.heading_when,
                    mode=self.top.mode,
                    part=self.top.part,
                )
            )
        sec = self.top
        bullet = bool(_BULLET.match(text))
        body = _BULLET.sub("", text).strip()
        if _ATTRIBUTE.match(body) and not duties.money(body):
            return
        label = _LABEL.match(body)
        if label:
            self.label(sec, label.group(1).lower(), label.group(2), no)
            return
        if sec.expect_dates and bullet and has_anchor(body):
            doubts: list[Doubt] = []
            found = find_when(body, self.ctx, doubts)
            if found:
                sec.dated.append((found[0], no, body))
                return
        for sentence in sentences(body):
            self.sentence(sec, sentence, no, bullet)

    def _with_intro(self, intro: Found, doubts: list[Doubt]) -> tuple[list[Found], list[Doubt]]:
        """«Hằng tuần:» then «- Chào cờ vào sáng thứ Hai»: the line's phrase with the intro's
        period."""
        period = re.search(r"(?:hằng|hàng|mỗi)\s+(?:tuần|tháng|năm)", intro.phrase, re.IGNORECASE)
        if period is None:
            return [], doubts
        for k, d in enumerate(doubts):
            phrase = f"{d.text} {period.group().lower()}"
            try:
                f = Found(
                    phrase,
                    parse_when(phrase),
                    0,
                    0,
                    (f"«{period.group()}» lấy từ câu dẫn",),
                    d.text,
                )
            except PlanError:
                continue
            return [f], doubts[:k] + doubts[k + 1 :]
        return [], doubts

    def row(self, no: int, cells: list[str]) -> None:
        """A table row: one cell says when, one may name the unit, the first other is the title."""
        read: dict[str, tuple[list[Found], list[Doubt]]] = {}
        for c in cells:
            if has_anchor(c):
                doubts: list[Doubt] = []
                read[c] = (find_when(c, self.ctx, doubts), doubts)
        # the cell that says when is mostly a date («Trước 30/8/2026»); a title may hold one too
        # («Ra quân Tháng Thanh niên»), so its own doubts are not the row's
        cover = {
            c: sum(len(x.written) for x in f) / max(1, len(c.strip(" .;")))
            for c, (f, _) in read.items()
        }
        best = max(cover, key=cover.__getitem__, default=None)
        dated = [best] if best is not None and cover[best] >= 0.6 else list(read)
        found = [f for c in dated for f in read[c][0]]
        for c in dated:
            for d in read[c][1]:
                self.on_doubt(no, d.text, d.reason)
        units = [
            c
            for c in cells[1:]
            if c not in dated and subject(c) and len(subject(c) or "") >= 0.8 * len(c)
        ]
        rest = [
            c for c in cells if c not in dated and c not in units and not re.fullmatch(r"[\d.]+", c)
        ]
        if not found or not rest:
            if dated and not any(read[c][1] for c in dated):
                self.on_doubt(
                    no,
                    " | ".join(cells),
                    "dòng bảng có ngày nhưng không hiểu được"
                    if not found
                    else "dòng bảng có ngày nhưng không thấy việc gì",
                )
            return
        unit = (
            subject(units[0])
            if units
            else next((s.lead for s in reversed(self.stack) if s.lead), None)
        )
        if unit:
            self.subjects.append((unit, no))
        for f in found[:1]:
            self.hits.append(
                Hit(rest[0], f, unit, no, self.top, 0.85 if unit else 0.75, ["dòng bảng"])
            )
        self.top.emitted += 1

    def label(self, sec: Section, name: str, rest: str, no: int) -> None:
        if name.startswith("thời gian"):
            doubts: list[Doubt] = []
            found = find_when(rest, self.ctx, doubts) if rest else []
            for d in doubts:
                self.on_doubt(no, d.text, d.reason)
            if (
                found and sec.level == 0
            ):  # «Thời gian: …» before any section: the plan's own activity
                self.hits.append(
                    Hit(
                        self.name_of(sec),
                        found[0],
                        sec.lead,
                        no,
                        sec,
                        0.75,
                        ["thời gian của kế hoạch"],
                    )
                )
                return
            if found:
                sec.when, sec.when_line = found[0], no
                for hit in self.hits:  # «1. Lễ ra quân Tháng Thanh niên» then «- Thời gian: …»
                    if sec.item and hit.section is sec and hit.line == sec.line:
                        hit.found = found[0]
                        hit.reasons.append(f"thời gian ở dòng {no}")
                        sec.took_when = True
            sec.expect_dates = "địa điểm" in name or not rest
            sec.mode = ""
        elif name.startswith("địa điểm"):
            sec.place = rest.strip(" .;") or None
        elif name.startswith("nội dung"):
            sec.mode = "content" if sec.mode != "goals" else "goals"
        else:
            sec.mode = "assign"
            unit = subject(rest) if rest else None  # «Đơn vị thực hiện: Chi đoàn khu phố 1, 2, 3.»
            if unit:
                sec.lead = unit
                self.subjects.append((unit, no))
                for hit in self.hits:
                    if hit.section is sec and hit.unit is None:
                        hit.unit = unit

    def sentence(self, sec: Section, sentence: str, no: int, bullet: bool) -> None:
        doubts: list[Doubt] = []
        found = find_when(sentence, self.ctx, doubts)
        if (
            found
            and not bullet
            and not sentence.rstrip().endswith(":")
            and _dateline(sentence, found)
        ):
            # «Thứ ba, 15/02/2022 09:32»: a page's stamp
            return
        if found and _NOT_BY.search(sentence):  # «không được tổ chức nhập học trước ngày 22/8»
            doubts += [
                Doubt(
                    f.written or f.phrase,
                    "câu phủ định («không … trước ngày …»): không phải hạn phải làm; hãy kiểm tra",
                )
                for f in found
            ]
            found = []
        if _TENTATIVE.search(
            sentence
        ):  # «Dự kiến, lễ ra quân diễn ra vào ngày …»: the sentence hedges
            found = [replace(f, schedule=replace(f.schedule, tentative=True)) for f in found]
        if found and _PERIODIC.search(
            sentence
        ):  # «ngày 06 tháng 06 đối với báo cáo định kỳ 06 tháng»
            found = [
                replace(f, flags=(*f.flags, "câu nói «định kỳ»: ngày này có lặp lại không?"))
                if isinstance(f.schedule.rule, Fixed)
                and not f.flags
                and not _YEAR.search(f.written or f.phrase)
                and not _PERIODIC.search(f.written or f.phrase)
                else f
                for f in found
            ]
        if not found and doubts and sec.intro:
            found, doubts = self._with_intro(sec.intro, doubts)
        rest = sentence
        lead = re.match(
            r"^([^,:;]{0,60})[,:]\s*", sentence
        )  # «Hằng năm, Nhà thiếu nhi Quận tổ chức …»
        if lead and (
            has_anchor(lead.group(1))
            or re.fullmatch(r"\W*định kỳ\W*", lead.group(1), re.IGNORECASE)
        ):
            rest = sentence[lead.end() :]
        if _PLANS_PERIOD.match(rest):
            found = [_period_start(f) for f in found]
        unit = subject(rest) or subject(sentence)
        if unit and _COLLECTIVE.search(unit) is None:
            self.subjects.append((unit, no))
        if unit and sec.first_unit is None:
            sec.first_unit = unit
        if sentence.rstrip().endswith(":") and not (found and duties.target_measure(sentence)):
            if found:
                sec.intro = found[0]
                years = _YEAR.findall(sentence)
                if years:  # «Tháng 3/2026:» then «- … chậm nhất ngày 10/3»
                    self.ctx.year = int(years[-1])
            if unit:
                sec.carry = unit
            return
        named = unit is not None  # the line itself names who does it
        unit = unit or (sec.carry if bullet else None)
        heading_unit = next((s.lead for s in reversed(self.stack) if s.lead), None)
        if unit is None:
            unit = heading_unit
        staff = _STANDING.search(sentence)
        if staff and self.standing is None:
            name = subject(staff.group(1)) or staff.group(1)
            self.standing = (name, no)
            self.subjects.append((name, no))
        generic = _GENERIC.search(sentence)
        if generic and _MONITORS.search(sentence[: generic.start()]):
            generic = None  # «theo dõi việc thực hiện các chỉ tiêu»: who watches, not who does
        if generic and heading_unit and unit and sec.mode != "goals":
            self.generic.append((generic.group(1).lower(), unit, no))
        masked = lower_masked(sentence)  # a campaign a cited plan is about is not this plan's
        campaigns = [
            c
            for c in find_campaigns(sentence, self.ctx.single_year)
            if not _dated(sentence, c, found) and masked[c.start : c.end].strip()
        ]
        if campaigns:  # «Tháng Thanh niên» without a year: drafted below by custom, not doubted
            names = [c.name.lower() for c in campaigns]
            doubts = [
                d
                for d in doubts
                if not any(d.text.lower() in n or n in d.text.lower() for n in names)
            ]
        for d in doubts:
            self.on_doubt(no, d.text, d.reason)
            if d.reason.startswith(
                FROM_ACTIVITY
            ):  # resolved against the drafted obligations at the end
                self.counted.append(
                    Hit(sentence, Found(d.text, Schedule(Fixed(())), 0, 0), unit, no, sec, 0.5, [])
                )
        if any(d.reason.startswith(FROM_ACTIVITY) for d in doubts) and not found:
            return  # its date is counted from another activity's, not the section's
        if sec.mode == "content":
            return
        if sec.mode == "goals":
            if found:
                self.on_doubt(
                    no,
                    sentence,
                    "câu có thời gian trong phần mục đích, yêu cầu: "
                    "không lấy làm nghĩa vụ; nếu là một việc có hạn, hãy thêm vào",
                )
            return
        for c in campaigns:  # the hit's text starts with the name, which the review quotes
            f = Found(
                c.phrase,
                parse_when(c.phrase),
                0,
                len(c.name),
                (f"theo lệ thường: {c.why}",),
                c.name,
            )
            self.hits.append(
                Hit(
                    f"{c.name}: {_clause(sentence, c.start)}",
                    f,
                    unit,
                    no,
                    sec,
                    0.5,
                    [f"«{c.name}» không ghi ngày: {c.phrase} theo lệ thường"],
                    "phase",
                )
            )
        if campaigns and not found:
            sec.emitted += 1
            return
        if found:
            only_dates = (
                sec.level >= 2
                and len(found) == 1
                and set(found[0].flags) <= {"dự kiến"}
                and _HELD.search(sentence)
                and _ONLY_WHEN.match(_without(sentence, found[0]))
            )
            for f in found:
                conf = 0.9 if unit else 0.8
                self.hits.append(
                    Hit(
                        sentence,
                        f,
                        unit,
                        no,
                        sec,
                        conf - 0.15 * bool(f.flags),
                        list(f.flags),
                        title=self.name_of(sec) if only_dates else None,
                    )
                )  # «Dự kiến tổ chức …»
            sec.emitted += 1
            return
        when, why = self.section_when(sec)
        if (
            when
            and (bullet or named)
            and (sec.mode == "assign" or sec.intro or sec.when or sec.dated)
        ):
            for owner in self.stack:
                owner.took_when = owner.took_when or owner.when is when
            hit = Hit(sentence, when, unit, no, sec, 0.7 if unit else 0.6, why)
            if (
                when is sec.when and sec.title
            ):  # dated by its item («1. Hội nghị …» / «- Thời gian: …»)
                hit.title = f"{self.name_of(sec)} – {duties.title_of(sentence)}"
            self.hits.append(hit)
            sec.emitted += 1
            return
        if duties.money(sentence):  # money owed for the item's activity: due by its date
            event = next((h for h in reversed(self.hits) if h.section is sec), None)
            if event is None:
                self.on_doubt(no, sentence, "khoản đóng góp không ghi hạn; hãy ghi rõ thời gian")
                return
            reason = f"hạn đóng góp lấy theo ngày của hoạt động (dòng {event.line})"
            self.on_doubt(
                no,
                sentence,
                f"khoản đóng góp không ghi hạn: {reason}, «{event.found.phrase}»; hãy kiểm tra",
            )
            self.hits.append(Hit(sentence, event.found, unit, no, sec, 0.55, [reason]))
            sec.emitted += 1
            return
        if duties.target_measure(sentence) and sec.heading_when:
            self.hits.append(
                Hit(
                    sentence,
                    sec.heading_when,
                    unit,
                    no,
                    sec,
                    0.7,
                    ["thời gian của mục chỉ tiêu"],
                    "target",
                )
            )
            return
        if (
            duties.target_measure(sentence)
            and bullet
            and self.ctx.single_year
            and re.search(r"\b(?:đạt|trở lên|phấn đấu|tỷ lệ|tỉ lệ)\b", sentence, re.IGNORECASE)
        ):
            plan_year = find_when(f"Năm {self.ctx.single_year}", self.ctx)[0]
            self.hits.append(
                Hit(
                    sentence,
                    plan_year,
                    unit,
                    no,
                    sec,
                    0.5,
                    ["hạn lấy theo năm của kế hoạch"],
                    "target",
                )
            )
            return
        if (
            duties.target_measure(sentence)
            and self.ctx.end
            and _TARGETS.search(f"{sec.title} {sec.part}")
            and not doubts
        ):  # «I. CHỈ TIÊU» / «2. Kết nạp 150 đoàn viên mới trong năm học»
            end = find_when(self.ctx.end, self.ctx)
            if end:
                self.on_doubt(
                    no,
                    sentence,
                    f"chỉ tiêu không ghi hạn: đã lấy ngày cuối của kế hoạch "
                    f"(«{end[0].phrase}»); hãy kiểm tra",
                )
                self.hits.append(
                    Hit(
                        sentence,
                        end[0],
                        unit,
                        no,
                        sec,
                        0.45,
                        ["không ghi hạn: lấy ngày cuối của kế hoạch"],
                        "target",
                    )
                )
                return
        if not doubts and _DUTY_WORDS.search(sentence):
            self.on_doubt(
                no,
                sentence,
                "có vẻ là một việc định kỳ hoặc có hạn nhưng không thấy "
                "ngày hay chu kỳ; hãy ghi rõ thời gian",
            )
