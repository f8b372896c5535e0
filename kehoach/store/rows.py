"""Compiled steps as table rows, with a content fingerprint that says whether a step changed.

The fingerprint covers what the step *means* (who, what, when, how much, reminders, the
escalation ladder) and not where the plan file says it (line numbers move whenever someone
adds a comment above; that must not count as a change to a thousand steps). It is built from
explicit ISO strings, never `repr`, so a new Python cannot change every fingerprint.

Steps of one occurrence share their dates and reminders, steps of one duty share its title
and details: those parts are serialised once and reused, which keeps a million-step load
cheap (see issue 3's benchmark).
"""
from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from engine.compiler import Occurrence, Step
from engine.plan import Duty, Plan

from .models import StepState
from .types import Encoded

SEP = "\x1f"
#: The columns a fingerprint covers; a change to any of them is a new revision of the step.
CONTENT = ("obligation", "occurrence", "unit_id", "kind", "title", "due_date", "due_time",
           "start_date", "due_at", "tentative", "amount", "reminders", "escalation", "details")


def next_action_at(reminders: Iterable[datetime], rungs: Iterable[datetime], state: str,
                   now: datetime) -> datetime | None:
    """The next reminder or escalation moment after `now`, for a pending step; else None.

    Moments already past when a step is stored are not replayed: a plan loaded late does not
    burst stale reminders (its overdue status is computed, not reminded).

    >>> from datetime import UTC
    >>> t = [datetime(2022, 5, 1, tzinfo=UTC), datetime(2022, 5, 8, tzinfo=UTC)]
    >>> next_action_at(t, [], "pending", datetime(2022, 5, 2, tzinfo=UTC)).day
    8
    """
    if state != StepState.PENDING:
        return None
    later = [m for m in (*reminders, *rungs) if m > now]
    return min(later) if later else None


class RowMaker:
    """Turns the steps of one plan into row dicts (`make`) for `steps.__table__`."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self._duties: dict[int, tuple[str, dict[str, Any], Encoded]] = {}
        self._occurrences: dict[int, tuple[str, Encoded, Encoded]] = {}

    def _duty(self, duty: Duty) -> tuple[str, dict[str, Any], Encoded]:
        cached = self._duties.get(id(duty))
        if cached is None:
            details = {k: v for k, v in (("place", duty.place), ("quantity", duty.quantity),
                                         ("measure", duty.measure), ("percent", duty.percent))
                       if v is not None}
            key = SEP.join((duty.id, str(duty.kind), duty.title, _canon(details)))
            source = Encoded({"file": self.plan.file, "phrase": duty.phrase,
                              "line": duty.position.line if duty.position else None,
                              "text": duty.source})
            cached = self._duties[id(duty)] = (key, details, source)
        return cached

    def _occurrence(self, occ: Occurrence,
                    duty_details: dict[str, Any]) -> tuple[str, Encoded, Encoded]:
        cached = self._occurrences.get(id(occ))  # an occurrence belongs to one duty
        if cached is None:
            reminders = [r.isoformat() for r in occ.reminders]
            details = dict(duty_details, nominal_date=occ.nominal.isoformat())
            if occ.shifted_because:
                details["shifted_because"] = occ.shifted_because
            key = SEP.join((occ.key, occ.date.isoformat(), _iso(occ.time), _iso(occ.start),
                            occ.due_at.isoformat(), "1" if occ.tentative else "0",
                            occ.nominal.isoformat(), occ.shifted_because or "",
                            ",".join(reminders)))
            cached = self._occurrences[id(occ)] = (key, Encoded(reminders), Encoded(details))
        return cached

    def make(self, step: Step, now: datetime) -> dict[str, Any]:
        """The row for `step` as it would be inserted (state pending, revision 1) at `now`."""
        duty, occ = step.duty, step.occurrence
        duty_key, duty_details, source = self._duty(duty)
        occ_key, reminders, details = self._occurrence(occ, duty_details)
        rungs = step.escalation
        escalation = Encoded([{"level": r.level, "at": r.at.isoformat(), "units": list(r.units)}
                              for r in rungs]) if rungs else NO_RUNGS
        fingerprint = hashlib.blake2b(SEP.join((
            duty_key, occ_key, step.unit, "" if step.amount is None else str(step.amount),
            escalation.text)).encode(), digest_size=16).hexdigest()
        return {
            "id": step.id, "plan_id": step.plan, "obligation": duty.id, "occurrence": occ.key,
            "unit_id": step.unit, "kind": str(duty.kind), "title": duty.title,
            "due_date": occ.date, "due_time": occ.time, "start_date": occ.start,
            "due_at": occ.due_at, "tentative": occ.tentative, "amount": step.amount,
            "reminders": reminders, "escalation": escalation, "source": source,
            "details": details, "fingerprint": fingerprint, "revision": 1,
            "state": StepState.PENDING.value, "cancel_reason": None, "done_at": None,
            "next_action_at": _next(occ.reminders, rungs, now),
            "created_at": now, "updated_at": now,
        }


NO_RUNGS = Encoded([])


def _next(reminders: tuple[datetime, ...], rungs: Iterable[Any], now: datetime) -> datetime | None:
    i = bisect_right(reminders, now)  # reminders are sorted: skip the past ones cheaply
    candidates = [r.at for r in rungs if r.at > now]
    if i < len(reminders):
        candidates.append(reminders[i])
    return min(candidates) if candidates else None


def _iso(value: Any) -> str:
    return value.isoformat() if value is not None else ""


def _canon(details: dict[str, Any]) -> str:
    return SEP.join(f"{k}={v}" for k, v in sorted(details.items()))
