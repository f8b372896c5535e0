"""The compiler: a pure function (plan, calendar, window) → steps.

One step per duty × occurrence × responsible unit. Dates are expanded and shifted once per
occurrence and shared by every unit's step, so a plan for 10,000 units costs little more
than one for ten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .model import Kind
from .plan import Duty, Offset, Plan
from .rules import Relative, expand, shifted
from .workdays import ShiftPolicy, WorkingCalendar

_Date = date  # the type, for Occurrence, whose field `date` hides it in the class body

OTHER_WAY = {ShiftPolicy.NEXT: ShiftPolicy.PREVIOUS, ShiftPolicy.PREVIOUS: ShiftPolicy.NEXT}


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One dated occurrence of a duty, shared by the steps of all its units."""

    key: str
    nominal: date  # as the plan says, before any holiday shift
    date: _Date  # the due date after the shift policy
    time: time | None
    start: _Date | None  # a window's first day (phases, months, quarters)
    due_at: datetime  # UTC; late after this (end of the day when there is no time)
    reminders: tuple[datetime, ...]  # UTC, earliest first
    tentative: bool
    shifted_because: str | None = None  # the holiday or weekend the date moved away from


@dataclass(frozen=True, slots=True)
class Rung:
    level: int
    at: datetime  # UTC
    units: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    plan: str
    duty: Duty
    occurrence: Occurrence
    unit: str
    amount: int | None
    ladder: tuple[tuple[Offset, tuple[str, ...]], ...]  # resolved to units for this step's unit
    rung_times: tuple[datetime, ...]  # UTC, one per rung

    @property
    def escalation(self) -> tuple[Rung, ...]:
        return tuple(
            Rung(i + 1, at, units)
            for i, (at, (_, units)) in enumerate(zip(self.rung_times, self.ladder, strict=True))
            if units
        )

    def to_dict(self, plan: Plan | None = None) -> dict[str, Any]:
        occ, duty = self.occurrence, self.duty
        return {
            "id": self.id,
            "plan": self.plan,
            "obligation": duty.id,
            "kind": str(duty.kind),
            "title": duty.title,
            "unit": self.unit,
            "unit_name": plan.units.get(self.unit) if plan else None,
            "occurrence": occ.key,
            "date": occ.date.isoformat(),
            "time": occ.time.strftime("%H:%M") if occ.time else None,
            "start": occ.start.isoformat() if occ.start else None,
            "nominal_date": occ.nominal.isoformat(),
            "shifted_because": occ.shifted_because,
            "due_at": occ.due_at.isoformat(),
            "tentative": occ.tentative,
            "reminders": [r.isoformat() for r in occ.reminders],
            "escalation": [
                {"level": r.level, "at": r.at.isoformat(), "units": list(r.units)}
                for r in self.escalation
            ],
            "amount": self.amount,
            "place": duty.place,
            "quantity": duty.quantity,
            "measure": duty.measure,
            "percent": duty.percent,
            "source": {
                "file": plan.file if plan else None,
                "phrase": duty.phrase,
                "line": duty.position.line if duty.position else None,
                "text": duty.source,
            },
        }


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tz).astimezone(UTC)


def _occurrences(plan: Plan, duty: Duty, calendar: WorkingCalendar) -> list[Occurrence]:
    out = []
    tz, hour = plan.tz, plan.reminder_time
    # what fell due before the plan was issued is history, not a step (unless the duty says so)
    issued = plan.issued if plan.issued and not duty.before_issue else None
    for key, start, nominal in _expand(plan, duty, calendar):
        day = calendar.shift(nominal, duty.shift)
        if not plan.start <= day <= plan.end:  # never shift out of the plan: try the other way
            day = calendar.shift(nominal, OTHER_WAY.get(duty.shift, duty.shift))
            day = day if plan.start <= day <= plan.end else nominal
        if issued and day < issued:
            continue
        why = None
        if day != nominal:
            why = calendar.holiday_name(nominal) or (
                "Chủ nhật" if nominal.isoweekday() == 7 else "Thứ Bảy"
            )
        clock = duty.schedule.time
        due_at = _at(day, clock, tz) if clock else _at(day + timedelta(days=1), time(0), tz)
        if duty.kind == Kind.PHASE and start:  # a phase is announced before it begins
            anchor, anchor_at = start, _at(start, clock or time(0), tz)
        else:
            anchor, anchor_at = day, (_at(day, clock, tz) if clock else due_at)
        # a reminder is before the moment it announces; one that would not be is dropped
        reminders = sorted(
            r
            for r in {
                _at(anchor - o.delta, hour, tz) if o.by_day else anchor_at - o.delta
                for o in duty.reminders
            }
            if r < anchor_at
        )
        out.append(
            Occurrence(
                key,
                nominal,
                day,
                clock,
                start,
                due_at,
                tuple(reminders),
                duty.schedule.tentative,
                why,
            )
        )
    return out


def _expand(
    plan: Plan, duty: Duty, calendar: WorkingCalendar, depth: int = 0
) -> list[tuple[str, date | None, date]]:
    """The duty's nominal occurrences; a deadline counted from the plan's date of issue or from
    another obligation's occurrences (their due dates after the holiday shift) takes them here."""
    rule = duty.schedule.rule
    if not (isinstance(rule, Relative) and rule.anchor in ("issued", "obligation")):
        return expand(rule, plan.start, plan.end, calendar)
    if rule.anchor == "issued":
        anchors = [("1", plan.issued or plan.start)]
    else:
        other = next((d for d in plan.duties if d.id == rule.on), None)
        if other is None or depth > len(plan.duties):  # the loader refuses both (unknown, loop)
            return []
        anchors = [
            (key, calendar.shift(day, other.shift))
            for key, _, day in _expand(plan, other, calendar, depth + 1)
        ]
    return [o for o in shifted(rule, anchors, calendar) if plan.start <= o[2] <= plan.end]


def _rung_times(plan: Plan, duty: Duty, occ: Occurrence) -> tuple[datetime, ...]:
    """When each rung is heard: never before the step is late ("0d" means as soon as it is)."""
    return tuple(
        max(
            occ.due_at,
            _at(occ.date + after.delta, plan.reminder_time, plan.tz)
            if after.by_day
            else occ.due_at + after.delta,
        )
        for after, _ in duty.ladder
    )


def ladder_for(plan: Plan, duty: Duty, unit: str) -> tuple[tuple[Offset, tuple[str, ...]], ...]:
    """The duty's ladder with roles replaced by units, for one responsible unit."""
    out = []
    heard: set[str] = set()  # a unit hears of a late step once, at the first rung that names it
    for after, targets in duty.ladder:
        units: list[str] = []
        for t in targets:
            if t == "responsible":
                units.append(unit)
            elif t == "cluster_head":
                units += [
                    plan.cluster_heads[c]
                    for c in plan.clusters_of.get(unit, ())
                    if c in plan.cluster_heads and plan.cluster_heads[c] != unit
                ]
            elif t == "parent":
                units += [plan.parent[unit]] if unit in plan.parent else []
            elif t == "issuer":
                units += [plan.issuer] if plan.issuer != unit else []
            else:
                units.append(t)
        fresh = tuple(u for u in dict.fromkeys(units) if u not in heard)
        heard.update(fresh)
        out.append((after, fresh))
    return tuple(out)


def compile_plan(
    plan: Plan,
    calendar: WorkingCalendar,
    window: tuple[date | None, date | None] = (None, None),
    units: frozenset[str] | None = None,
) -> list[Step]:
    """Every step of `plan` due within `window` (inclusive, on the shifted due date),
    optionally only those of `units`; ordered by due moment, then unit."""
    first, last = window
    steps: list[Step] = []
    for duty in plan.duties:
        chosen = [u for u in duty.responsible if units is None or u in units]
        if not chosen:
            continue
        ladders = {unit: ladder_for(plan, duty, unit) for unit in chosen}
        for occ in _occurrences(plan, duty, calendar):
            if (first and occ.date < first) or (last and occ.date > last):
                continue
            times = _rung_times(plan, duty, occ)
            prefix = f"{plan.id}/{duty.id}/{occ.key}/"
            steps += [
                Step(
                    prefix + unit,
                    plan.id,
                    duty,
                    occ,
                    unit,
                    duty.amounts.get(unit),
                    ladders[unit],
                    times,
                )
                for unit in chosen
            ]
    steps.sort(key=lambda s: (s.occurrence.due_at, s.unit))
    return steps
