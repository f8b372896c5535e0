"""Named campaigns that plans cite without a date, and the months they are held in by custom.

A plan writes «tổ chức Tháng Thanh niên» or «Chiến dịch tình nguyện Hè» and gives no date: the
reader knows when. The importer does not pretend the document said it: it drafts the customary
window (`DEFAULTS`), with a low confidence and an item in the review list, so that a person
confirms or corrects it. The windows are the conventions of the Youth Union's calendar (see the
domain notes, and the comments of the hand-written plans, which date these campaigns so):

- «Tháng Thanh niên»: March (the Union's founding month, 26/3);
- «Tháng Nhân đạo»: May; «Tháng hành động vì trẻ em»: June;
- a summer campaign («Chiến dịch … Hè», «Mùa hè xanh», «Hoạt động hè» of a campaign): June –
  August, the school summer holidays;
- a spring campaign («Xuân tình nguyện», «Xuân biên giới», «Xuân yêu thương»): around Tết, which
  falls between 21/01 and 20/02: January – February;
- «Tiếp sức mùa thi»: the national entrance exams, June – July.

>>> for c in find_campaigns("Tổ chức Xuân tình nguyện, Tháng Thanh niên.", None):
...     print(c.name, "→", c.phrase)
Xuân tình nguyện → từ tháng 1 đến tháng 2 hằng năm
Tháng Thanh niên → tháng 3 hằng năm
>>> [c.phrase for c in find_campaigns("Ra quân Chiến dịch tình nguyện Hè", 2025)]
['từ tháng 6 đến tháng 8 năm 2025']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: (pattern of the name, first month, last month, what the custom is).
DEFAULTS: tuple[tuple[re.Pattern[str], int, int, str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), a, b, why)
    for p, a, b, why in (
        (r"\btháng\s+thanh\s+niên\b", 3, 3, "Tháng Thanh niên là tháng 3"),
        (r"\btháng\s+nhân\s+đạo\b", 5, 5, "Tháng Nhân đạo là tháng 5"),
        (r"\btháng\s+hành\s+động\s+vì\s+trẻ\s+em\b", 6, 6, "Tháng hành động vì trẻ em là tháng 6"),
        (
            r"\bchiến\s+dịch(?:\s+[^\W\d_]+){0,5}?\s+(?:mùa\s+)?hè(?:\s+tình\s+nguyện)?\b|\bmùa\s+hè\s+xanh\b",
            6,
            8,
            "chiến dịch hè: tháng 6 – tháng 8, mùa hè của học sinh",
        ),
        (
            r"\bxuân\s+(?:tình\s+nguyện|biên\s+giới|yêu\s+thương|biển\s+đảo|chiến\s+sĩ)\b",
            1,
            2,
            "chiến dịch xuân: quanh Tết (21/01 – 20/02), tháng 01 – tháng 02",
        ),
        (
            r"\btiếp\s+sức\s+mùa\s+thi\b",
            6,
            7,
            "Tiếp sức mùa thi: kỳ thi tuyển sinh, tháng 6 – tháng 7",
        ),
    )
)


@dataclass(frozen=True, slots=True)
class Campaign:
    name: str  # as written
    phrase: str  # the `when:` drafted for it
    why: str
    start: int
    end: int


def find_campaigns(sentence: str, year: int | None) -> list[Campaign]:
    """The campaigns a sentence names, in order, each with its customary window: in `year` if
    the plan or its section has one, else every year."""
    out = []
    for pattern, a, b, why in DEFAULTS:
        for m in pattern.finditer(sentence):
            months = f"tháng {a}" if a == b else f"từ tháng {a} đến tháng {b}"
            phrase = f"{months} năm {year}" if year else f"{months} hằng năm"
            name = m.group().strip()
            out.append(Campaign(name[:1].upper() + name[1:], phrase, why, m.start(), m.end()))
    return sorted(out, key=lambda c: c.start)
