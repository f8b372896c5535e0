"""Units named in a plan: who does a duty (the subject of its sentence, «giao X», «X phụ trách»),
ids derived from names, and one unit however many ways it is written.

>>> subject("Đoàn Sở Y tế Thành phố phụ trách nội dung khám, phát thuốc.")
'Đoàn Sở Y tế Thành phố'
>>> subject("Định kỳ, giao Cụm trưởng của từng khu vực tổng hợp nội dung")
'Cụm trưởng của từng khu vực'
>>> slug("Đoàn Khối Dân – Chính – Đảng Thành phố")
'doan-khoi-dan-chinh-dang-thanh-pho'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from engine.vi import plain_words

#: Words that open the name of a unit (compared in lower case).
HEADS = (
    "ban thường vụ",
    "ban chấp hành",
    "ban giám đốc",
    "ban giám hiệu",
    "ban chỉ đạo",
    "btv",
    "bch",
    "thường trực",
    "tt",
    "đoàn khối",
    "đoàn sở",
    "đoàn ủy",
    "đoàn thanh niên",
    "đoàn",
    "chi đoàn",
    "liên đội",
    "hội đồng đội",
    "hội khuyến học",
    "hội nông dân",
    "hội phụ nữ",
    "hội người cao tuổi",
    "hội ccb",
    "hội cựu chiến binh",
    "hội liên hiệp",
    "hội",
    "huyện đoàn",
    "tỉnh đoàn",
    "quận đoàn",
    "thành đoàn",
    "thị đoàn",
    "xã đoàn",
    "phường đoàn",
    "nhà thiếu nhi",
    "trung tâm",
    "phòng",
    "sở",
    "ubnd",
    "ủy ban",
    "ủy ban nhân dân",
    "hđnd",
    "đảng ủy",
    "quận ủy",
    "huyện ủy",
    "tỉnh ủy",
    "thành ủy",
    "cấp ủy",
    "cụm trưởng",
    "cụm",
    "khối",
    "mảng",
    "ban",
    "đội",
    "trạm y tế",
    "văn phòng",
    "tư pháp",
    "thông tin văn hóa",
    "thông tin văn hoá",
    "công an",
    "các",
    "mỗi",
    "từng",
)
#: Not units though they start like one.
NOT_UNITS = re.compile(
    r"^(?:hội\s+(?:nghị|thảo|thao|thi|trường|viên|diễn|trại|khỏe|chợ|sách|báo|giảng|ngộ|tụ|xuân|làng|đua)|ban\s+hành|đoàn\s+(?:viên|kết|thể|ra)"
    r"|phòng\s+(?:chống|ngừa|tránh)|đội\s+(?:hình|viên|ngũ|nhóm|trưởng|tuyển)|sở\s+trường|khối\s+đại|các\s+(?:nội|hoạt|chương|"
    r"hình|mô|lớp|văn|đồng|em|bạn|tiêu|hồ|thiết|câu|chuyên|phong|cấp\s+bộ|cấp|ban,)"
    r"|mỗi\s+(?:năm|quý|tháng|tuần|người)|từng\s+(?:năm|bước|nhóm|đơn|địa|đối)|tt\s+htcđ)",
    re.IGNORECASE,
)
#: First syllables of the verbs that end a unit's name.
VERBS = {
    "tổ",
    "phụ",
    "chủ",
    "phối",
    "xây",
    "thực",
    "tham",
    "hướng",
    "chỉ",
    "báo",
    "đăng",
    "nộp",
    "gửi",
    "cử",
    "mời",
    "đóng",
    "tổng",
    "theo",
    "kịp",
    "hỗ",
    "tuyên",
    "vận",
    "triển",
    "giao",
    "có",
    "là",
    "được",
    "sẽ",
    "cần",
    "đề",
    "trình",
    "lập",
    "rà",
    "đánh",
    "tiếp",
    "duy",
    "kiểm",
    "trao",
    "lắp",
    "nghiên",
    "đẩy",
    "tăng",
    "tạo",
    "nâng",
    "mở",
    "thăm",
    "khám",
    "chăm",
    "phát",
    "giúp",
    "căn",
    "xác",
    "bố",
    "tích",
    "chuẩn",
    "quán",
    "phổ",
    "thu",
    "dọn",
    "đôn",
    "nắm",
    "góp",
    "điều",
    "quản",
    "bảo",
    "làm",
    "tiến",
    "ứng",
    "phân",
    "hằng",
    "hàng",
    "định",
    "vào",
    "trong",
    "thường",
    "luôn",
    "chịu",
    "nhận",
    "thống",
    "huy",
    "ký",
    "yêu",
    "nghiêm",
    "chú",
    "đều",
    "đã",
    "đang",
    "phải",
    "cũng",
    "vẫn",
    "không",
    "chưa",
    "cùng",
    "giới",
}
#: Verbs whose first syllable also ends names («học sinh»): told by the next one.
_VERB_PAIRS = {("sinh", "hoạt"), ("ra", "quân"), ("học", "tập"), ("hoàn", "thành")}
_ORGS = re.compile(
    r"\b(?:đoàn|hội|ban|phòng|cụm|liên đội|trường|đơn vị|xã|phường|huyện|thị|khối|ủy|"
    r"trung tâm|trạm|khu phố|thôn|ngành|sở|tổ)\b"
)
_PREFIXES = (
    "ban giam doc ",
    "ban thuong vu ",
    "ban chap hanh ",
    "btv ",
    "bch ",
    "thuong truc ",
    "tt ",
    "cac ",
    "moi ",
)
_SUFFIXES = (" thanh pho", " tp", " quan", " huyen", " tinh")


@lru_cache(maxsize=4096)
def slug(name: str, limit: int = 48) -> str:
    """An id from a name: ASCII, lower case, words joined by «-»."""
    words = plain_words(name)
    out = ""
    for w in words:
        if len(out) + len(w) + 1 > limit and out:
            break
        out = f"{out}-{w}" if out else w[:limit]  # one word longer than the limit is cut
    return out or "x"


@lru_cache(maxsize=4096)
def key(name: str) -> str:
    """What stays the same however a unit is written: «BCH Tỉnh Đoàn» = «Ban Thường vụ Tỉnh
    Đoàn»."""
    s = " " + slug(name, 200).replace("-", " ") + " "
    s = s.replace(" giao thong van tai ", " giao thong van tai ")
    s = s.strip()
    changed = True
    while changed:
        changed = False
        for p in _PREFIXES:
            if s.startswith(p):
                s, changed = s[len(p) :], True
        for x in _SUFFIXES:
            if s.endswith(x) and len(s) > len(x) + 4:
                s, changed = s[: -len(x)], True
    return s


def _head(low: str) -> str | None:
    for h in sorted(HEADS, key=len, reverse=True):
        if low.startswith(h) and (len(low) == len(h) or not low[len(h)].isalnum()):
            return h
    return None


def subject(clause: str) -> str | None:
    """The unit a clause starts with (or that it gives the duty to, «giao X»), if any."""
    text = re.sub(r"^[\s\-–+•*·]+", "", clause).strip()
    m = re.search(
        r"(?<!bàn )(?<!chuyển )\b(?:[gG]iao|đề nghị|yêu cầu)\s+(?!Thông\b)(?=[A-ZĐ])", text
    )
    if m and not re.match(r"\s*(?:nhiệm vụ|cho)\b", text[m.end() :]):
        text = text[m.end() :]
    low = text.lower()
    head = _head(low)
    if NOT_UNITS.match(low) or head is None:
        return None
    if head in ("các", "mỗi", "từng") and not _ORGS.search(low):  # «Các chỉ tiêu cơ bản»
        return None
    words = re.findall(r"\S+", text)
    name: list[str] = []
    for k, w in enumerate(words):
        bare = w.strip(',;.()“”"').lower()
        following = words[k + 1].strip(",;.").lower() if k + 1 < len(words) else ""
        if k and (
            not bare or (bare in VERBS and w[:1].islower()) or (bare, following) in _VERB_PAIRS
        ):
            break
        name.append(w)
        if w.endswith((":", ";", ".")) or (
            w.endswith(",")
            and k + 1 < len(words)
            and _head(words[k + 1].lower()) is not None
            and words[k + 1][0].isupper()
        ):
            break
        if len(name) > 14:
            return None
    out = " ".join(name).strip(" ,;:.–-")
    if len(out) < 3 or out.lower() in ("các", "mỗi", "từng", "đoàn", "hội"):
        return None
    return out


def _extends(longer: str, shorter: str) -> bool:
    """«ban thuong vu quan doan binh tan» extends «quan doan binh»? Only a name of three words
    or more is extended by a place («… Bình Tân»), so «Chi đoàn» stays apart from «Chi đoàn
    khu phố 1, 2, 3»."""
    return len(shorter.split()) >= 3 and longer.startswith(shorter + " ")


@dataclass
class Units:
    """The units found so far, one per key, with the longest name seen for each."""

    names: dict[str, str] = field(default_factory=dict)  # key → name
    ids: dict[str, str] = field(default_factory=dict)  # key → id
    origin: dict[str, str] = field(default_factory=dict)  # key → where it was first seen

    def add(self, name: str, origin: str = "") -> str:
        """The id of the unit `name`, added if new."""
        name = re.sub(r"\s+", " ", name).strip(" ,;:.–-")
        k = key(name)
        same = (
            k
            if k in self.names
            else next((old for old in self.names if _extends(old, k) or _extends(k, old)), None)
        )
        if same is not None:
            if len(name) > len(self.names[same]) and not name.lower().startswith(("các", "mỗi")):
                self.names[same] = name
            return self.ids[same]
        base = slug(key(name) if name.lower().startswith(("các ", "mỗi ")) else name)
        uid, n = base, 2
        while uid in self.ids.values():
            uid, n = f"{base}-{n}", n + 1
        self.names[k], self.ids[k], self.origin[k] = name, uid, origin
        return uid

    def items(self) -> list[tuple[str, str, str]]:
        """(id, name, origin) for each unit, in the order first seen."""
        return [(self.ids[k], self.names[k], self.origin[k]) for k in self.names]
