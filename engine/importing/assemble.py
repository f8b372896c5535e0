"""Lines of a plan document → a draft plan (pure: no files, no clock).

>>> d = import_lines([(1, "KẾ HOẠCH"), (2, "Hội thao năm 2024"), (3, ""), (4, "I. NỘI DUNG"),
...                   (5, "- Hội thao: 08g00, ngày 19/5/2024."),
...                   (6, "- Báo cáo kết quả trước ngày 30/5/2024.")])
>>> [(o.kind, o.when) for o in d.obligations]
[('event', '08g00, ngày 19/5/2024'), ('deadline', 'trước ngày 30/5/2024')]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Literal

from engine.errors import PlanError
from engine.phrases import normalize, parse_when
from engine.rules import Fixed, Yearly

from . import duties, header, legacy
from .dates import ACTIVITY, FROM_ACTIVITY, Context, Found, has_day, lower_masked
from .model import Draft, DraftObligation, ReviewItem
from .units import Units, slug
from .walk import _COLLECTIVE, BARE_YEARLY, Hit, Walker

_SKIP = re.compile(
    r"^(?:trên đây|căn cứ|kính gửi|nơi nhận|thực hiện\s+(?:nghị|kế hoạch|thông|chương trình|"
    r"quyết|chỉ thị|công văn|hướng dẫn))",
    re.IGNORECASE,
)
_STAGES = re.compile(
    r"^giai đoạn\s+(\d)\s*:?\s*(?:từ\s+)?(?:năm\s+)?((?:19|20)\d{2})\s*[-–]\s*"
    r"(?:năm\s+)?((?:19|20)\d{2})",
    re.IGNORECASE,
)
_DATED_YEAR = re.compile(
    r"\d{1,2}\s*[/.-]\s*\d{1,2}\s*[/.-]\s*((?:19|20)\d{2})\b|\btháng\s+\d{1,2}\s*(?:[/.-]|,?\s*năm)\s*"
    r"((?:19|20)\d{2})\b|\bnăm\s+((?:19|20)\d{2})\b"
)
_MARKED = re.compile(r"^\s*(?:#{1,6}\s|\*\*|__)")  # a Markdown heading or a bold line
_PARTICIPATE = re.compile(
    r"^(.*?\b(?:cử|mời|tham gia|tham dự)\b.*?)\s+và\s+đóng góp", re.IGNORECASE
)


def import_lines(
    lines: Iterable[tuple[int, str] | tuple[int, str, bool]],
    name: str = "kế hoạch",
    progress: Callable[[int], None] | None = None,
) -> Draft:
    """Draft a plan from numbered lines (line or paragraph number, text[, bold])."""
    given, legacy = _unicode(list(lines))
    rows = [
        (
            r[0],
            header.clean(r[1]),
            (bool(r[2]) if len(r) > 2 else False) or bool(_MARKED.match(r[1])),
        )
        for r in given
    ]
    texts = [t for _, t, _ in rows]
    title, body_start = header.title_of(texts)
    title = title.strip() or "Kế hoạch"
    number = issued = None
    head = [header.clean(str(r[1]), columns=True) for r in given[: max(body_start, 12)]]
    for t in head:  # the letterhead keeps its columns: «Số: 66 -KH/TĐTN    Rạch Giá, ngày …»
        n, d = header.number_and_date(t)
        number, issued = number or n, issued or d
    # the years of the dates the body gives (not of the laws and plans it cites), if the title
    # and the date of issue say none
    years = [
        int(y)
        for t in texts[body_start:]
        for m in _DATED_YEAR.finditer(lower_masked(t))
        for y in m.groups()
        if y
    ]
    found_period = header.period_of(title, issued)
    guessed = found_period is None and bool(years)
    if guessed:
        found_period = (
            str(min(years)) if min(years) == max(years) else f"{min(years)} - {max(years)}"
        )
    period = found_period or "2000 - 2099"
    first, last = int(period[:4]), int(period[-4:])
    ctx = Context(
        single_year=first if first == last else None, year=last if first == last else None
    )
    spans = _period(period, issued, title)
    ctx.end = (
        f"ngày {spans['to']}"
        if isinstance(spans, dict) and "/" in spans["to"]
        else f"Đến năm {last}"
    )
    for t in texts:
        m = _STAGES.match(t)
        if m:
            ctx.stages[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    review: list[ReviewItem] = []
    units = Units()
    issuer_name = header.issuer_of(texts, head) or "Đơn vị ban hành"
    issuer = units.add(issuer_name, "đơn vị ban hành")
    cluster = re.search(r"\bcụm\s+([^\d,.;:]+?)(?=\s+(?:năm|giai đoạn)\b|$)", title, re.IGNORECASE)
    cluster_id = slug("cum " + cluster.group(1)) if cluster else None

    walker = Walker(ctx, lambda no, text, why: review.append(ReviewItem(no, text, why)), title)
    recipients = False
    for k, (no, text, bold) in enumerate(rows):
        if progress and k % 200 == 0:
            progress(k)
        if k < body_start or not text:
            continue
        if re.match(r"^nơi nhận\s*:?", text, re.IGNORECASE):
            recipients = True
            continue
        if recipients:
            if re.match(r"^[\-–+•]", text):
                entry = re.sub(r"^[\-–+•\s]+", "", text).split(":")[0].strip(" ;,.")
                if entry and not re.match(r"^lưu\b", entry, re.IGNORECASE):
                    units.add(entry, "nơi nhận")
                continue
            recipients = False
        grounds = re.match(
            r"^căn cứ|^thực hiện", text, re.IGNORECASE
        )  # a duty only if it dates one
        if (
            _SKIP.match(text) and (not grounds or (walker.top.level == 0 and not has_day(text)))
        ) or re.match(r"^TM\.?\s", text):
            continue
        walker.line(no, text, bold)
    while len(walker.stack) > 1:
        walker.close()
    _link_targets(walker)
    _standing_staff(walker)
    _assign_classes(walker, lambda name: _who(name, units, issuer, None) is not None)

    draft = Draft(
        id=slug(title, 60),
        title=title,
        issuer=issuer,
        number=number,
        issued=issued,
        period=spans,
        source=name,
    )
    for unit, no in walker.subjects:
        if not (cluster_id and _COLLECTIVE.search(unit)):
            units.add(unit, f"dòng {no}")
    taken: dict[str, int] = {}
    for hit in walker.hits:
        made = _obligations(hit, units, issuer, cluster_id, walker.name_of(hit.section))
        for ob in made:
            ob.id = _unique(ob.id, taken)
            draft.obligations.append(ob)
        doubt = _doubtful(hit, made[-1].kind)
        if doubt:
            written = hit.found.written or hit.found.phrase
            review.append(ReviewItem(hit.line, written, doubt))
    for hit in (
        walker.counted
    ):  # «… 5 ngày làm việc kể từ ngày kết thúc hội nghị»: the activity drafted here
        resolved = _from_activity(hit, draft.obligations)
        if resolved is None:
            continue
        made = _obligations(resolved, units, issuer, cluster_id, walker.name_of(hit.section))
        for ob in made:
            ob.id = _unique(ob.id, taken)
            draft.obligations.append(ob)
        review[:] = [
            r for r in review if not (r.line == hit.line and r.reason.startswith(FROM_ACTIVITY))
        ]
        review.append(
            ReviewItem(
                hit.line,
                hit.found.phrase,
                f"đã hiểu thành «{resolved.found.phrase}» ({resolved.reasons[0]}): hãy kiểm tra",
            )
        )
    if cluster_id and cluster:
        ids = [u for u, _, origin in units.items() if origin != "nơi nhận"]
        draft.clusters.append(
            {
                "id": cluster_id,
                "name": "Cụm " + cluster.group(1).strip(),
                "head": issuer,
                "members": list(dict.fromkeys([issuer, *ids])),
            }
        )
    draft.units = units.items()
    if _SCHOOL_YEAR.search(title) and isinstance(draft.period, dict):
        review.append(
            ReviewItem(
                1,
                title,
                f"năm học: đã hiểu là từ {draft.period['from']} đến "
                f"{draft.period['to']}; hãy sửa period nếu kế hoạch nói khác",
            )
        )
    if issued and found_period and not guessed and header.period_of(title, None) is None:
        review.append(
            ReviewItem(
                1,
                title,
                f"tiêu đề không ghi thời gian của kế hoạch: period lấy theo năm ban hành "
                f"({issued[-4:]}); hãy sửa nếu kế hoạch kéo dài hơn",
            )
        )
    if guessed:
        review.append(
            ReviewItem(
                1,
                title,
                f"tiêu đề và ngày ban hành không cho biết thời gian của kế hoạch: "
                f"period tạm lấy theo các ngày trong văn bản («{period}»); hãy kiểm tra",
            )
        )
    if found_period is None:
        review.append(
            ReviewItem(
                1,
                title,
                "không thấy thời gian của kế hoạch (năm, giai đoạn): "
                "period tạm ghi «2000 - 2099», hãy sửa",
            )
        )
    if issuer_name == "Đơn vị ban hành":
        review.append(
            ReviewItem(1, title, "không thấy đơn vị ban hành: hãy sửa đơn vị «don-vi-ban-hanh»")
        )
    if legacy:
        encoding, converted = legacy
        shown = ", ".join(map(str, converted[:10])) + (" …" if len(converted) > 10 else "")
        review.append(
            ReviewItem(
                converted[0],
                f"bảng mã {encoding}",
                f"văn bản gõ bằng bảng mã cũ {encoding}: đã "
                f"chuyển sang Unicode ({len(converted)} dòng: {shown}); hãy đọc lại các dòng đó",
                tuple(converted[1:]),
            )
        )
    draft.review = sorted(review, key=lambda r: r.line)
    return draft


def _unicode(
    lines: list[tuple[int, str] | tuple[int, str, bool]],
) -> tuple[list[tuple[int, str] | tuple[int, str, bool]], tuple[str, list[int]] | None]:
    """The lines in Unicode, and (the legacy encoding, the lines converted) if some were not."""
    seen = [legacy.repair(r[1])[1] for r in lines]
    found = [e for e in seen if e]
    if not found:
        return lines, None
    known = max(set(found), key=found.count)
    out: list[tuple[int, str] | tuple[int, str, bool]] = []
    converted = []
    for r in lines:
        text, encoding = legacy.repair(r[1], known)
        if encoding:
            converted.append(r[0])
        out.append((r[0], text, *r[2:]))
    return out, (known, converted)


_COMMON = {
    "cho",
    "va",
    "cac",
    "to",
    "chuc",
    "cua",
    "tai",
    "tren",
    "trong",
    "nhung",
    "mot",
    "so",
    "duoc",
    "de",
    "voi",
    "la",
    "co",
    "hang",
    "nam",
}


def _words(text: str) -> set[str]:
    return set(slug(text, 400).split("-")) - _COMMON


def _link_targets(walker: Walker) -> None:
    """A target that names no unit takes the unit of the section with the same title: plans list
    their targets («5. Hằng năm, trao 20 suất học bổng …») and later say who does each
    («5. Trao học bổng …: Khối hành chính sự nghiệp phối hợp …»)."""
    sections = [(title, unit, _words(title)) for title, unit in walker.closed]
    for hit in walker.hits:
        if (
            hit.unit is not None
            or (hit.kind or duties.kind_of(hit.sentence, hit.section.title)) != "target"
        ):
            continue
        words = _words(hit.sentence)
        best, score = None, 0.6
        for title, unit, tw in sections:
            if len(tw) >= 3 and len(words & tw) / len(tw) >= score:
                best, score = (title, unit), len(words & tw) / len(tw)
        if best:
            hit.unit = best[1]
            hit.confidence -= 0.15
            hit.reasons.append(f"đơn vị lấy từ mục «{best[0][:60]}»")


_PREPARES = re.compile(
    r"\b(?:xây dựng|dự thảo)\s+kế hoạch|\btrình\b|\bbáo cáo\b|\btổng hợp\b", re.IGNORECASE
)
_OWN_ACTS = re.compile(r"\bban hành\b|\btổng kết\b|\bsơ kết\b|\bphê duyệt\b", re.IGNORECASE)


def _standing_staff(walker: Walker) -> None:
    """The issuer's standing staff («phân công X là bộ phận thường trực») drafts the plan,
    submits it («trình») and reports: those duties, when their line names no unit, are the
    staff's; issuing and reviewing («ban hành», «tổng kết») stay the issuer's own."""
    if walker.standing is None:
        return
    name, no = walker.standing
    for hit in walker.hits:
        if (
            hit.unit is not None
            or not _PREPARES.search(hit.sentence)
            or _OWN_ACTS.search(hit.sentence)
        ):
            continue
        if (hit.kind or duties.kind_of(hit.sentence, hit.section.title)) in (
            "deadline",
            "milestone",
        ):
            hit.unit = name
            hit.confidence -= 0.15
            hit.reasons.append(
                f"đơn vị: bộ phận thường trực (dòng {no}) chuẩn bị, báo cáo cho đơn vị ban hành"
            )


def _assign_classes(walker: Walker, not_issuer: Callable[[str], bool]) -> None:
    """A unit's section that gives it a class of the plan's duties («phấn đấu thực hiện tốt các
    chỉ tiêu của kế hoạch», «tổ chức các hoạt động theo phân công») makes it responsible for those
    that name no unit: the targets, or the duties of the «Nội dung» part. A target measured over
    a class of lower units («Mỗi Đoàn xã … giúp đỡ 50% …») is answered for by the unit so named.
    When several units claim one class, none is given it: the review lists them."""
    claims: dict[str, set[str]] = {}
    for what, unit, _ in walker.generic:
        if not_issuer(unit):
            claims.setdefault(what, set()).add(unit)
    for what, unit, no in walker.generic:
        if not not_issuer(unit):
            continue
        if len(claims[what]) > 1:  # several units say so: which does which is not guessed
            walker.on_doubt(
                no,
                unit,
                f"nhiều đơn vị cùng nhận «các {what}» "
                f"({', '.join(sorted(claims[what]))}): hãy ghi đơn vị cho từng việc",
            )
            continue
        for hit in walker.hits:
            kind = hit.kind or duties.kind_of(hit.sentence, hit.section.title)
            if what == "chỉ tiêu":
                if kind != "target" or not (
                    hit.unit is None or re.match(r"(?:mỗi|từng)\s", hit.unit, re.IGNORECASE)
                ):
                    continue
                if hit.unit:
                    hit.reasons.append(f"«{hit.unit}» là đơn vị được đo")
            elif (
                hit.unit is not None
                or kind == "target"
                or "nội dung" not in hit.section.part.lower()
            ):
                continue
            hit.unit = unit
            hit.confidence -= 0.15
            hit.reasons.append(f"đơn vị: dòng {no} giao «các {what}» cho «{unit}»")


_NAMED_YEAR = re.compile(r"\bnăm\s+((?:19|20)\d{2})\s+là\b", re.IGNORECASE)


#: The reason an obligation whose line names no unit is given to the issuer.
ASSUMED_ISSUER = "đơn vị: mặc định là đơn vị ban hành"
DEFAULTED = "đã giao cho đơn vị ban hành"


def _doubtful(hit: Hit, kind: str) -> str | None:
    """Why a phrase that was understood still needs a look: it is tentative, or completed, or
    says only «hằng năm» of something that happens on some day (a target is measured over the
    year; an event, a report or a phase has a day the text does not give), or the year it
    names is the name of a year («chọn năm 2014 là Năm Tình nguyện»), not a deadline."""
    why = []
    f = hit.found
    if f.schedule.tentative:
        why.append("ngày dự kiến: hãy sửa khi có ngày chính thức")
    why += [
        f"đã hiểu thành «{f.phrase}» ({flag}): hãy kiểm tra"
        for flag in f.flags
        if flag != "dự kiến"
    ]
    rule = f.schedule.rule
    whole_years = isinstance(rule, Yearly) and rule.items == (
        ((1, 1), (12, 31)),
    )  # «hằng năm», «từ năm 2007»
    if (
        kind != "target"
        and not f.flags
        and (whole_years or BARE_YEARLY.fullmatch(normalize(f.phrase)))
    ):
        why.append(
            "không ghi tháng hay ngày: đã hiểu là trong cả năm, hạn ngày 31/12; "
            "hãy ghi rõ thời gian nếu kế hoạch định vào một tháng hay một quý"
        )
    named = _NAMED_YEAR.search(hit.sentence)
    if named and re.fullmatch(
        rf"(?:trong\s+|vào\s+)?năm\s+{named.group(1)}", f.phrase.strip(), re.IGNORECASE
    ):
        why.append(
            f"là tên gọi của một năm («{named.group(0)} …»), chưa chắc là hạn: "
            "hạn tạm ghi cuối năm, hãy kiểm tra"
        )
    return "; ".join(why) or None


def defaulted_units(draft: Draft, review: list[ReviewItem]) -> None:
    """One review item for the obligations whose line names no unit: the issuer was assumed.
    Counted on the obligations the draft keeps (`render` moves some to review)."""
    review[:] = [r for r in review if not r.reason.startswith(DEFAULTED)]
    assumed = [ob for ob in draft.obligations if ASSUMED_ISSUER in ob.reasons]
    lines = list(dict.fromkeys(ob.line for ob in assumed))
    if lines:
        shown = ", ".join(map(str, lines))
        review.append(
            ReviewItem(
                lines[0],
                f"{len(assumed)} nghĩa vụ không ghi đơn vị thực hiện",
                f"{DEFAULTED} «{draft.issuer}» (các dòng {shown}): "
                "hãy ghi đơn vị phụ trách nếu là đơn vị khác",
                tuple(lines[1:]),
            )
        )


_SCHOOL_YEAR = re.compile(
    r"\bnăm học\s+((?:19|20)\d{2})\s*[-–]\s*((?:19|20)\d{2})\b", re.IGNORECASE
)


def _period(
    period: str, issued: str | None, title: str = ""
) -> str | dict[Literal["from", "to"], str]:
    """The plan's period: from its date of issue when that falls inside; a school year («năm học
    2025 - 2026») runs from September (or its date of issue that autumn) to the end of August."""
    school = _SCHOOL_YEAR.search(title)
    if school and int(school.group(2)) == int(school.group(1)) + 1:
        first = school.group(1)
        start = (
            issued
            if issued and issued[-4:] == first and int(issued[3:5]) >= 8
            else f"01/09/{first}"
        )
        return {"from": start, "to": f"31/08/{school.group(2)}"}
    if (
        issued
        and int(period[:4]) <= int(issued[-4:]) <= int(period[-4:])
        and not issued.startswith("01/01")
    ):
        return {"from": issued, "to": period[-4:]}
    return period


def _from_activity(hit: Hit, obligations: list[DraftObligation]) -> Hit | None:
    """A deadline counted from an activity, counted from the obligation the draft has for it:
    the nearest one before it whose title names the activity («Hội nghị tổng kết …»)."""
    m = ACTIVITY.search(hit.found.phrase)
    if m is None:
        return None
    activity = m.group(1).strip(" .,;").lower()
    named = [
        ob
        for ob in obligations
        if activity and activity in ob.title.lower() and ob.line != hit.line
    ]
    before = [ob for ob in named if ob.line < hit.line]
    if not named:
        return None
    target = (before or named)[-1]
    phrase = hit.found.phrase[: m.start(1)].rstrip() + f" nghĩa vụ {target.id}"
    phrase = re.sub(
        r"\b(?:kể\s+từ|tính\s+từ)\s+(?:ngày\s+)?(?:kết\s+thúc\s+|hoàn\s+thành\s+|tổ\s+chức\s+)?nghĩa\s+vụ",
        "kể từ ngày kết thúc nghĩa vụ",
        phrase,
    )
    try:
        schedule = parse_when(phrase)
    except PlanError:
        return None
    found = Found(phrase, schedule, 0, 0, ("hạn tính từ một việc khác",), hit.found.phrase)
    return Hit(
        hit.sentence,
        found,
        hit.unit,
        hit.line,
        hit.section,
        0.5,
        [f"mốc: nghĩa vụ «{target.id}» (dòng {target.line})"],
        kind="deadline",
    )


def _unique(base: str, taken: dict[str, int]) -> str:
    n = taken.get(base, 1)
    uid = base if n == 1 else f"{base}-{n}"
    while uid in taken and n > 1:
        n += 1
        uid = f"{base}-{n}"
    taken[base] = n + 1
    taken.setdefault(uid, 1)
    if uid != base:
        taken[uid] = max(taken[uid], 2)
    return uid


def _who(name: str | None, units: Units, issuer: str, cluster_id: str | None) -> str | None:
    if name is None:
        return None
    if cluster_id and re.search(r"cụm trưởng", name, re.IGNORECASE):
        return f"head:{cluster_id}"
    if cluster_id and (
        _COLLECTIVE.search(name) or re.match(r"^(?:các|mỗi) cơ sở đoàn", name, re.IGNORECASE)
    ):
        return cluster_id
    uid = units.add(name, "đơn vị thực hiện")
    return None if uid == issuer else uid


def _obligations(
    hit: Hit, units: Units, issuer: str, cluster_id: str | None, activity: str
) -> list[DraftObligation]:
    """The obligations of a hit; `activity` names what its section is about (its money's title)."""
    s, f = hit.sentence, hit.found
    kind = hit.kind or duties.kind_of(s, hit.section.title)
    rule = f.schedule.rule
    if (
        kind == "phase"
        and isinstance(rule, Fixed)
        and all(start is None for start, _ in rule.items)
    ):
        kind = "event"  # a campaign's single days are events; a phase is a window
    reasons = list(hit.reasons)
    who = _who(hit.unit, units, issuer, cluster_id)
    if hit.unit is None:
        reasons.append(ASSUMED_ISSUER)
    conf = hit.confidence
    if f.schedule.tentative:
        reasons.append("ngày dự kiến")
    named = hit.title or s
    base = DraftObligation(
        id=slug(duties.title_of(named, 60), 40),
        kind=kind,
        title=duties.title_of(named),
        when=f.phrase,
        line=hit.line,
        source=s,
        confidence=conf,
        reasons=reasons,
        responsible=who,
        place=hit.section.place,
    )
    if isinstance(f.schedule.rule, Fixed):
        base.dues = tuple(due for _, due in f.schedule.rule.items)
    out = [base]
    if kind == "contribution":
        split = _PARTICIPATE.match(s)
        if split:
            out.insert(
                0,
                DraftObligation(
                    **{
                        **base.__dict__,
                        "kind": "event",
                        "reasons": list(reasons),
                        "title": duties.title_of(split.group(1)),
                        "id": slug(duties.title_of(split.group(1), 60), 40),
                    }
                ),
            )
        groups = duties.amounts(s)
        if groups:
            base.amounts = {
                units.add(n, "đóng góp"): amount for names, amount in groups for n in names
            }
            base.responsible = list(base.amounts)
        else:
            base.amount = duties.money(s)
        base.title = "Đóng góp kinh phí: " + duties.title_of(activity, 90)
        base.id = slug("kinh phi " + base.title[19:], 40)
    elif kind == "target":
        base.percent = duties.percent(s)
        q = duties.quantity(s) if base.percent is None else None
        if q:
            base.quantity, base.measure = q
        if base.percent is None and base.quantity is None:
            base.kind = "milestone"
    for ob in out:
        if ob.kind not in ("event", "phase"):
            ob.place = None
    return out
