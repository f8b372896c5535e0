"""A plan resolved: references checked, phrases parsed, defaults applied.

`resolve(doc, where, file)` turns the validated file (`model.PlanFile`) into a `Plan` the
compiler can use, or raises PlanErrors listing every problem with its place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Literal, TypeVar, TypeVarTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import PlanError, PlanErrors, Position
from .model import ZONE, Kind, Level, Obligation, PlanFile
from .phrases import Schedule, parse_clock, parse_day, parse_when
from .rules import Fixed, Relative, RRule, expand
from .workdays import ShiftPolicy

Path = tuple[str | int, ...]
T = TypeVar("T")
Args = TypeVarTuple("Args")

DEFAULT_REMINDERS: dict[Kind, tuple[str, ...]] = {
    Kind.DEADLINE: ("7d", "1d"),
    Kind.CONTRIBUTION: ("7d", "1d"),
    Kind.EVENT: ("3d", "1d"),
    Kind.MILESTONE: ("7d",),
    Kind.PHASE: ("3d",),  # before the phase starts
    Kind.TARGET: ("30d",),
}
#: Default ladder: the unit the day after, its cluster head after 3 days, the issuer after 7.
DEFAULT_LADDER: tuple[tuple[str, str], ...] = (
    ("1d", "responsible"),
    ("3d", "cluster_head"),
    ("7d", "issuer"),
)
#: Kinds that can be late; events and phases happen on their dates and are not escalated.
LATE_KINDS = frozenset({Kind.DEADLINE, Kind.CONTRIBUTION, Kind.MILESTONE, Kind.TARGET})
ROLES = ("responsible", "cluster_head", "parent", "issuer")


@dataclass(frozen=True, slots=True)
class Offset:
    """A reminder or escalation offset. Whole days count on the local calendar at the
    plan's reminder hour; hours and minutes count from the due moment."""

    delta: timedelta
    by_day: bool

    def __str__(self) -> str:
        if self.by_day:
            return f"{self.delta.days}d"
        minutes = int(self.delta.total_seconds() // 60)
        return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


#: An escalation ladder: each rung's offset after the due moment and the units it reaches.
Ladder = tuple[tuple[Offset, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class Duty:
    """An obligation, resolved: who, when (the parsed schedule) and the rules around it."""

    id: str
    kind: Kind
    title: str
    phrase: str
    schedule: Schedule
    responsible: tuple[str, ...]
    participants: tuple[str, ...]
    amounts: dict[str, int]
    shift: ShiftPolicy
    reminders: tuple[Offset, ...]
    ladder: tuple[tuple[Offset, tuple[str, ...]], ...]  # (after, role names or unit ids)
    place: str | None = None
    quantity: float | None = None
    measure: str | None = None
    percent: float | None = None
    note: str | None = None
    source: str | None = None
    position: Position | None = None
    before_issue: bool = False  # keep the occurrences due before the plan was issued


@dataclass(frozen=True)
class Plan:
    id: str
    title: str
    issuer: str
    file: str
    start: date
    end: date
    tz: ZoneInfo
    reminder_time: time
    units: dict[str, str]  # id → name
    parent: dict[str, str]  # unit → the unit above it
    cluster_heads: dict[str, str]  # cluster → head unit
    clusters_of: dict[str, tuple[str, ...]]  # unit → clusters it is a member of
    duties: tuple[Duty, ...]
    number: str | None = None
    issued: date | None = None
    names: dict[str, str] = field(default_factory=dict)  # every id (units, clusters, groups) → name
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)  # cluster/group → its units

    def select(self, selector: str) -> tuple[str, ...]:
        """The units a selector names in this plan (nothing if it names nothing)."""
        return (
            select_units(selector, self.units, self.issuer, self.cluster_heads, self.members) or ()
        )


def select_units(
    selector: str,
    units: Mapping[str, str],
    issuer: str,
    heads: Mapping[str, str],
    members: Mapping[str, tuple[str, ...]],
) -> tuple[str, ...] | None:
    """The units a selector names: a unit; a cluster or group (its units); "head:<cluster>";
    "head:*" (every cluster head); "*" (every unit but the issuer). None if it names nothing."""
    if selector == "*":
        return tuple(u for u in units if u != issuer)
    if selector == "head:*":
        return tuple(dict.fromkeys(heads.values()))
    if selector.startswith("head:"):
        head = heads.get(selector[5:])
        return (head,) if head else None
    if selector in units:
        return (selector,)
    return members.get(selector)


def parse_offset(text: str) -> Offset:
    m = re.fullmatch(r"\s*(\d+)\s*(d|ngày|h|giờ|m|phút|w|tuần)\s*", str(text).lower())
    if not m:
        raise PlanError(
            "khoảng thời gian không hợp lệ; ví dụ «7d», «1d», «2h», «30m», «7 ngày»", text=str(text)
        )
    n, unit = int(m.group(1)), m.group(2)
    if unit in ("d", "ngày", "w", "tuần"):
        return Offset(timedelta(days=n * (7 if unit in ("w", "tuần") else 1)), True)
    return Offset(timedelta(hours=n) if unit in ("h", "giờ") else timedelta(minutes=n), False)


def parse_money(value: int | str) -> int:
    """500000, "500.000 đồng", "6.000.000đ", "4,5 triệu" → đồng."""
    if isinstance(value, bool):
        raise PlanError("số tiền phải là một số", text=str(value))
    if isinstance(value, int):
        if value < 0:
            raise PlanError("số tiền không được âm", text=str(value))
        return value
    s = str(value).lower().strip()
    m = re.fullmatch(
        r"(\d{1,3}(?:[.\s]\d{3})+|\d+)(?:,(\d+))?\s*(triệu|nghìn|ngàn)?\s*"
        r"(đồng|đ|vnđ|vnd)?(?:\s*/\s*đơn vị)?",
        s,
    )
    if not m:
        raise PlanError("số tiền không hợp lệ; ví dụ «500.000 đồng» hoặc 500000", text=str(value))
    whole, frac, scale = re.sub(r"[.\s]", "", m.group(1)), m.group(2) or "", m.group(3)
    factor = {"triệu": 1_000_000, "nghìn": 1_000, "ngàn": 1_000}.get(scale or "", 1)
    if frac and factor == 1:
        raise PlanError("số tiền không được có phần lẻ", text=str(value))
    return int(whole) * factor + (int(frac) * factor // 10 ** len(frac) if frac else 0)


def _bound(value: str | int, last: bool) -> date:
    s = str(value).strip()
    if re.fullmatch(r"\d{4}", s):
        return date(int(s), 12, 31) if last else date(int(s), 1, 1)
    m = re.fullmatch(r"(?:tháng\s+)?(\d{1,2})\s*[/.-]\s*(\d{4})", s.lower())
    if m:
        rule = parse_when(f"tháng {m.group(1)} năm {m.group(2)}").rule
        assert isinstance(rule, Fixed)
        start, end = rule.items[0]
        return end if last or start is None else start
    return parse_day(s)


def parse_period(value: str | Mapping[Literal["from", "to"], str | int]) -> tuple[date, date]:
    if isinstance(value, Mapping):
        if set(value) != {"from", "to"}:
            raise PlanError("thời gian của kế hoạch cần cả «from» và «to»")
        start, end = _bound(value["from"], False), _bound(value["to"], True)
    else:
        m = re.fullmatch(r"\s*(?:giai đoạn\s+)?(.+?)\s*(?:-|–|đến)\s*(.+?)\s*", str(value))
        if m and not re.fullmatch(r"\s*\d{4}-\d{1,2}-\d{1,2}\s*", str(value)):
            start, end = _bound(m.group(1), False), _bound(m.group(2), True)
        else:
            start, end = _bound(value, False), _bound(value, True)
    if end < start:
        raise PlanError("thời gian của kế hoạch kết thúc trước khi bắt đầu", text=str(value))
    return start, end


class _Resolver:
    """Collects every error instead of stopping at the first."""

    def __init__(self, doc: PlanFile, where: dict[Path, Position], file: str):
        self.doc, self.where, self.file = doc, where, file
        self.errors: list[PlanError] = []

    def pos(self, path: Path) -> Position:
        while path and path not in self.where:
            path = path[:-1]
        return self.where.get(path, Position(self.file))

    def fail(self, path: Path, message: str, text: str | None = None) -> None:
        self.errors.append(PlanError(message, self.pos(path), text))

    def attempt(self, path: Path, fn: Callable[[*Args], T], *args: *Args) -> T | None:
        try:
            return fn(*args)
        except PlanError as exc:
            self.errors.append(exc.at(self.pos(path)))
            return None


def resolve(doc: PlanFile, where: dict[Path, Position], file: str) -> Plan:
    r = _Resolver(doc, where, file)
    try:
        tz = ZoneInfo(doc.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail(("timezone",), "múi giờ không tồn tại", doc.timezone)
        tz = ZONE
    period = r.attempt(("period",), parse_period, doc.period)
    start, end = period or (date.min, date.max)
    reminder_time = r.attempt(("reminder_time",), parse_clock, doc.reminder_time) or time(8)
    issued = r.attempt(("issued",), parse_issued, doc.issued) if doc.issued else None

    names: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for section in ("units", "clusters", "groups"):
        for i, item in enumerate(getattr(doc, section)):
            if item.id in names:
                r.fail(
                    (section, i, "id"),
                    f"mã «{item.id}» đã được dùng cho một đơn vị, cụm hoặc nhóm khác",
                )
            names[item.id] = item.name
            if section == "clusters":  # the head unit is one of its cluster's units
                members[item.id] = [item.head, *(m for m in item.members if m != item.head)]
            elif section == "groups":
                members[item.id] = list(item.members)
    units = {u.id: u.name for u in doc.units}

    def known_unit(path: Path, uid: str) -> bool:
        if uid not in units:
            hint = " (đây là cụm/nhóm, cần một đơn vị)" if uid in names else ""
            r.fail(path, f"không có đơn vị «{uid}» trong danh sách units{hint}", uid)
            return False
        return True

    known_unit(("issuer",), doc.issuer)
    parent: dict[str, str] = {}
    for i, u in enumerate(doc.units):
        if u.parent is not None and known_unit(("units", i, "parent"), u.parent):
            parent[u.id] = u.parent
        elif u.id != doc.issuer and doc.issuer in units:
            parent[u.id] = doc.issuer
    cycles: set[frozenset[str]] = set()
    for uid in units:  # a cycle in the hierarchy: follow parents until one repeats
        seen, cur = [uid], parent.get(uid)
        while cur is not None and cur not in seen:
            seen.append(cur)
            cur = parent.get(cur)
        if cur == uid and frozenset(seen) not in cycles:
            cycles.add(frozenset(seen))
            i = next(i for i, u in enumerate(doc.units) if u.id == uid)
            r.fail(
                ("units", i, "parent"), "cấp trên tạo thành vòng lặp: " + " → ".join([*seen, uid])
            )

    expanded: dict[str, tuple[str, ...]] = {}

    def expand_members(gid: str, trail: tuple[str, ...], path: Path) -> tuple[str, ...]:
        if gid in expanded:
            return expanded[gid]
        out: list[str] = []
        for j, m in enumerate(members[gid]):
            if m in trail:
                r.fail(path, "nhóm/cụm chứa chính nó: " + " → ".join([*trail, m]))
            elif m in members:
                out += expand_members(m, (*trail, m), path)
            elif m in units:
                out.append(m)
            else:
                r.fail((*path, j), f"không có đơn vị, cụm hay nhóm «{m}»", m)
        expanded[gid] = tuple(dict.fromkeys(out))
        return expanded[gid]

    heads: dict[str, str] = {}
    clusters_of: dict[str, list[str]] = {}
    for i, c in enumerate(doc.clusters):
        if known_unit(("clusters", i, "head"), c.head):
            heads[c.id] = c.head
        for m in expand_members(c.id, (c.id,), ("clusters", i, "members")):
            clusters_of.setdefault(m, [])
            if c.id not in clusters_of[m]:
                clusters_of[m].append(c.id)
    for i, g in enumerate(doc.groups):
        expand_members(g.id, (g.id,), ("groups", i, "members"))

    def select(path: Path, selector: str) -> tuple[str, ...]:
        found = select_units(selector, units, doc.issuer, heads, expanded)
        if found is None:
            what = (
                f"cụm «{selector[5:]}»"
                if selector.startswith("head:")
                else f"đơn vị, cụm hay nhóm «{selector}»"
            )
            r.fail(path, f"không có {what}", selector)
        return found or ()

    def ladder(
        path: Path, levels: list[Level] | None
    ) -> tuple[tuple[Offset, tuple[str, ...]], ...]:
        if levels is None:
            return tuple((parse_offset(a), (t,)) for a, t in DEFAULT_LADDER)
        out = []
        for k, level in enumerate(levels):
            after = r.attempt((*path, k, "after"), parse_offset, level.after)
            targets = [level.to] if isinstance(level.to, str) else level.to
            resolved: list[str] = []
            for t in targets:
                resolved += [t] if t in ROLES else list(select((*path, k, "to"), t))
            if after is not None:
                out.append((after, tuple(resolved)))
        return tuple(out)

    plan_ladder = ladder(("escalation",), doc.escalation)
    kind_reminders = {k: tuple(v) for k, v in DEFAULT_REMINDERS.items()}
    for kind, offsets in doc.reminders.items():
        kind_reminders[kind] = tuple(offsets)

    duties: list[Duty] = []
    seen_ids: set[str] = set()
    single_year = start.year if start.year == end.year else None
    for i, ob in enumerate(doc.obligations):
        path: Path = ("obligations", i)
        if ob.id in seen_ids:
            r.fail((*path, "id"), f"mã nghĩa vụ «{ob.id}» bị lặp lại")
        seen_ids.add(ob.id)
        duty = _duty(
            r, path, ob, select, ladder, plan_ladder, kind_reminders, single_year, doc.shift, units
        )
        if duty is None:
            continue
        if period and isinstance(duty.schedule.rule, Fixed):
            # like a recurring rule's: an occurrence is in the plan when its due date is
            for _, due in duty.schedule.rule.items:
                if not start <= due <= end:
                    r.fail(
                        (*path, "when"),
                        f"ngày {due:%d/%m/%Y} nằm ngoài thời gian của kế hoạch "
                        f"({start:%d/%m/%Y} – {end:%d/%m/%Y})",
                        duty.phrase,
                    )
        elif period and isinstance(duty.schedule.rule, RRule):
            # expanded once here, so a rule that never falls in the plan or falls too often is
            # refused by `check` with its place, not met as 0 steps or an error in `compile`
            try:
                found = expand(duty.schedule.rule, start, end)
            except ValueError as exc:
                r.fail((*path, "when"), f"RRULE không dùng được ({exc})", duty.phrase)
                continue
            if not found:
                r.fail(
                    (*path, "when"),
                    "RRULE không rơi vào ngày nào trong thời gian của kế "
                    f"hoạch ({start:%d/%m/%Y} – {end:%d/%m/%Y})",
                    duty.phrase,
                )
        duties.append(duty)

    by_id = {
        d.id: d for d in duties
    }  # a deadline counted from another obligation names one that exists
    for i, ob in enumerate(doc.obligations):
        counted = by_id.get(ob.id)
        rule = counted.schedule.rule if counted else None
        if (
            counted
            and isinstance(rule, Relative)
            and rule.anchor == "obligation"
            and (rule.on not in by_id)
        ):
            r.fail(
                ("obligations", i, "when"),
                f"không có nghĩa vụ «{rule.on}» để tính hạn",
                counted.phrase,
            )
        elif counted and (loop := _counted_loop(ob.id, by_id)):
            r.fail(
                ("obligations", i, "when"),
                "hạn tính vòng quanh, không có ngày bắt đầu: " + " → ".join(f"«{x}»" for x in loop),
                counted.phrase,
            )

    if r.errors:
        raise PlanErrors(r.errors)
    return Plan(
        id=doc.id,
        title=doc.title,
        issuer=doc.issuer,
        file=file,
        start=start,
        end=end,
        tz=tz,
        reminder_time=reminder_time,
        units=units,
        parent=parent,
        cluster_heads=heads,
        clusters_of={k: tuple(v) for k, v in clusters_of.items()},
        duties=tuple(duties),
        number=doc.number,
        issued=issued,
        names=names,
        members=expanded,
    )


def _counted_loop(start: str, by_id: dict[str, Duty]) -> list[str]:
    """The chain of «kể từ ngày kết thúc nghĩa vụ …» references from `start` back to `start`
    (`[start, …, start]`), or [] when the chain ends at a dated obligation: a loop gives no
    date to count from, so its steps would silently be none.

    >>> from types import SimpleNamespace as NS
    >>> def d(on): return NS(schedule=NS(rule=Relative(5, "workday", "obligation", on)))
    >>> _counted_loop("a", {"a": d("b"), "b": d("a")})
    ['a', 'b', 'a']
    >>> _counted_loop("a", {"a": d("b"), "b": NS(schedule=NS(rule=None))})
    []
    """
    chain, seen = [start], {start}
    while True:
        rule = by_id[chain[-1]].schedule.rule
        on = rule.on if isinstance(rule, Relative) and rule.anchor == "obligation" else None
        if not isinstance(on, str) or on not in by_id:
            return []
        chain.append(on)
        if on == start:
            return chain
        if on in seen:  # a loop further on: reported at its own obligations
            return []
        seen.add(on)


def _duty(
    r: _Resolver,
    path: Path,
    ob: Obligation,
    select: Callable[[Path, str], tuple[str, ...]],
    ladder: Callable[[Path, list[Level] | None], Ladder],
    plan_ladder: Ladder,
    kind_reminders: dict[Kind, tuple[str, ...]],
    single_year: int | None,
    default_shift: ShiftPolicy,
    units: dict[str, str],
) -> Duty | None:
    errors_before = len(r.errors)
    schedule = r.attempt((*path, "when"), _schedule, ob, single_year)
    if ob.time is not None and schedule is not None:
        at = r.attempt((*path, "time"), parse_clock, ob.time)
        if schedule.time is not None and at is not None and at != schedule.time:
            r.fail((*path, "time"), "giờ ở «time» khác với giờ trong «when»", ob.time)
        elif at is not None:
            schedule = Schedule(schedule.rule, at, schedule.tentative)
    issuer_ok = r.doc.issuer in units  # a wrong issuer is reported once, at `issuer:`
    chosen = ob.responsible if ob.responsible is not None else ([r.doc.issuer] if issuer_ok else [])
    responsible: list[str] = []
    for k, sel in enumerate([chosen] if isinstance(chosen, str) else chosen):
        responsible += select(
            (*path, "responsible", k) if not isinstance(chosen, str) else (*path, "responsible"),
            sel,
        )
    participants = [
        u for k, s in enumerate(ob.participants) for u in select((*path, "participants", k), s)
    ]
    amounts: dict[str, int] = {}
    if ob.kind == Kind.CONTRIBUTION and ob.amount is None and not ob.amounts:
        r.fail(path, "khoản đóng góp cần «amount» (mỗi đơn vị) hoặc «amounts» (theo đơn vị)")
    if ob.kind != Kind.CONTRIBUTION and (ob.amount is not None or ob.amounts):
        r.fail((*path, "amount"), "chỉ nghĩa vụ loại «contribution» mới có số tiền")
    if ob.amount is not None:
        money = r.attempt((*path, "amount"), parse_money, ob.amount)
        amounts = dict.fromkeys(responsible, money) if money is not None else {}
    responsible_set = set(responsible)
    for sel, value in (ob.amounts or {}).items():
        money = r.attempt((*path, "amounts", sel), parse_money, value)
        for u in select((*path, "amounts", sel), sel):
            if u not in responsible_set:
                r.fail(
                    (*path, "amounts", sel),
                    f"đơn vị «{u}» có số tiền nhưng không phải đơn vị thực hiện",
                    sel,
                )
            elif money is not None:
                amounts[u] = money
    if ob.kind == Kind.CONTRIBUTION and ob.amounts and ob.amount is None:
        for u in responsible:
            if u not in amounts:
                r.fail((*path, "amounts"), f"chưa có số tiền cho đơn vị «{u}» ({units.get(u, u)})")
    if ob.kind == Kind.TARGET and ob.quantity is None and ob.percent is None:
        r.fail(path, "chỉ tiêu cần «quantity» (số lượng) hoặc «percent» (tỷ lệ %)")
    reminders = tuple(
        x
        for k, t in enumerate(ob.reminders if ob.reminders is not None else kind_reminders[ob.kind])
        if (x := r.attempt((*path, "reminders", k), parse_offset, t)) is not None
    )
    if ob.escalation is not None:
        rungs = ladder((*path, "escalation"), ob.escalation)
    else:
        rungs = plan_ladder if ob.kind in LATE_KINDS else ()
    if schedule is None or len(r.errors) > errors_before:
        return None
    tentative = schedule.tentative if ob.tentative is None else ob.tentative
    keep = ob.kind in (Kind.EVENT, Kind.PHASE)
    return Duty(
        id=ob.id,
        kind=ob.kind,
        title=ob.title,
        phrase=ob.when if isinstance(ob.when, str) else _describe(ob),
        schedule=Schedule(schedule.rule, schedule.time, tentative),
        responsible=tuple(dict.fromkeys(responsible)),
        participants=tuple(dict.fromkeys(participants)),
        amounts=amounts,
        shift=ob.shift or (ShiftPolicy.KEEP if keep else default_shift),
        reminders=reminders,
        ladder=rungs,
        place=ob.place,
        quantity=ob.quantity,
        measure=ob.measure,
        percent=ob.percent,
        note=ob.note,
        source=ob.source,
        position=r.pos(path),
        before_issue=ob.before_issue,
    )


def parse_issued(text: str) -> date:
    """The date of issue; a month alone («3/2024», «tháng 3/2024») is taken as its first day,
    the earliest the plan can have been issued.

    >>> parse_issued("tháng 3/2024"), parse_issued("29/4/2022")
    (datetime.date(2024, 3, 1), datetime.date(2022, 4, 29))
    """
    month = re.fullmatch(
        r"\s*(?:tháng\s*)?(\d{1,2})\s*[/.-]\s*(\d{4})\s*", str(text), re.IGNORECASE
    )
    if month and 1 <= int(month[1]) <= 12:
        return date(int(month[2]), int(month[1]), 1)
    try:
        return parse_day(text)
    except PlanError:
        raise PlanError(
            "ngày ban hành cần một ngày («29/4/2022») hoặc một tháng («3/2024»)", text=str(text)
        ) from None


def _schedule(ob: Obligation, single_year: int | None) -> Schedule:
    when = ob.when
    if isinstance(when, str):
        return parse_when(when, default_year=single_year)
    at = parse_clock(when.time) if when.time else None
    given = [x for x in ("dates", "rrule", "to") if getattr(when, x)]
    if len(given) != 1:
        raise PlanError("«when» có cấu trúc cần đúng một trong: dates, rrule, from/to")
    if when.dates:
        return Schedule(Fixed(tuple((None, parse_day(d)) for d in when.dates)), at, when.tentative)
    if when.to:
        start = parse_day(when.from_) if when.from_ else None
        end = parse_day(when.to)
        if start and end < start:
            raise PlanError("«to» đứng trước «from»", text=when.to)
        return Schedule(Fixed(((start, end),)), at, when.tentative)
    rule = RRule(when.rrule or "", parse_day(when.start) if when.start else None)
    try:
        expand(rule, date(2000, 1, 1), date(2000, 1, 2))
    except (ValueError, TypeError) as exc:
        raise PlanError(f"RRULE không hợp lệ ({exc})", text=when.rrule) from None
    return Schedule(rule, at, when.tentative)


def _describe(ob: Obligation) -> str:
    when = ob.when
    assert not isinstance(when, str)
    if when.dates:
        return ", ".join(when.dates)
    if when.rrule:
        return f"RRULE:{when.rrule}"
    return f"{when.from_ or ''} – {when.to}"
