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
import json
from bisect import bisect_right
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from engine.compiler import Occurrence, Step
from engine.plan import Duty, Plan
from workflows.lifecycle import State

from .types import Encoded

SEP = "\x1f"
#: The columns a fingerprint covers; a change to any of them is a new revision of the step.
CONTENT = (
    "obligation",
    "occurrence",
    "unit_id",
    "kind",
    "title",
    "due_date",
    "due_time",
    "start_date",
    "due_at",
    "tentative",
    "amount",
    "reminders",
    "escalation",
    "details",
)


def next_action_at(
    reminders: Iterable[datetime], rungs: Iterable[datetime], state: str, now: datetime
) -> datetime | None:
    """The next reminder or escalation moment after `now`, for a pending step; else None.

    Moments already past when a step is stored are not replayed: a plan loaded late does not
    burst stale reminders (its overdue status is computed, not reminded).

    >>> from datetime import UTC
    >>> t = [datetime(2022, 5, 1, tzinfo=UTC), datetime(2022, 5, 8, tzinfo=UTC)]
    >>> next_action_at(t, [], "pending", datetime(2022, 5, 2, tzinfo=UTC)).day
    8
    """
    if state != State.PENDING:
        return None
    later = [m for m in (*reminders, *rungs) if m > now]
    return min(later) if later else None


class RowMaker:
    """Turns the steps of one plan into row dicts (`make`) for `steps.__table__`, or, for the
    bulk insert of a load, into tuples of driver values that skip SQLAlchemy's per-row
    parameter processing: `step_values` (what varies from step to step), `occurrence_values`
    (the same for the steps of an occurrence) and `constant_values` (the same for a load).

    Everything shared is computed once and cached: per duty (title, details, source), per
    occurrence (dates, reminders, their JSON and driver forms) and per (occurrence, ladder)
    (the escalation JSON and its moments). The caches keep the objects they are keyed by alive,
    so an `id()` is never reused while a key holds it."""

    def __init__(self, plan: Plan, dialect: str = "sqlite"):
        self.plan = plan
        self.dialect = dialect
        self._duties: dict[int, tuple[str, dict[str, Any], Encoded, Duty]] = {}
        self._occurrences: dict[int, tuple[str, Encoded, Encoded, Occurrence]] = {}
        self._times: dict[int, tuple[tuple[str, ...], Any]] = {}
        self._ladders: dict[int, tuple[Any, ...]] = {}
        self._forms: dict[tuple[tuple[str, ...], ...], tuple[Any, ...]] = {}
        self._kept: list[Any] = []  # the ladders keyed by id() in _ladders
        self._driver_occ: dict[int, tuple[Any, ...]] = {}
        self._moments: dict[datetime, Any] = {}
        self._prefixes: dict[int, tuple[Any, Occurrence]] = {}  # an occurrence has one duty
        if dialect == "sqlite":
            self._dt: Callable[[datetime], Any] = _sqlite_datetime
            self._day: Callable[[Any], Any] = _iso_or_none
            self._clock: Callable[[Any], Any] = _sqlite_time
            self._bool: Callable[[bool], Any] = int
        else:
            self._dt = _aware_utc
            self._day = self._clock = self._bool = _same

    def _duty(self, duty: Duty) -> tuple[str, dict[str, Any], Encoded, Duty]:
        cached = self._duties.get(id(duty))
        if cached is None:
            details = {
                k: v
                for k, v in (
                    ("place", duty.place),
                    ("quantity", duty.quantity),
                    ("measure", duty.measure),
                    ("percent", duty.percent),
                )
                if v is not None
            }
            key = SEP.join((duty.id, str(duty.kind), duty.title, _canon(details)))
            source = Encoded(
                {
                    "file": self.plan.file,
                    "phrase": duty.phrase,
                    "line": duty.position.line if duty.position else None,
                    "text": duty.source,
                }
            )
            cached = self._duties[id(duty)] = (key, details, source, duty)
        return cached

    def _occurrence(
        self, occ: Occurrence, duty_details: dict[str, Any]
    ) -> tuple[str, Encoded, Encoded, Occurrence]:
        cached = self._occurrences.get(id(occ))  # an occurrence belongs to one duty
        if cached is None:
            reminders = [r.isoformat() for r in occ.reminders]
            details = dict(duty_details, nominal_date=occ.nominal.isoformat())
            if occ.shifted_because:
                details["shifted_because"] = occ.shifted_because
            key = SEP.join(
                (
                    occ.key,
                    occ.date.isoformat(),
                    _iso(occ.time),
                    _iso(occ.start),
                    occ.due_at.isoformat(),
                    "1" if occ.tentative else "0",
                    occ.nominal.isoformat(),
                    occ.shifted_because or "",
                    ",".join(reminders),
                )
            )
            cached = self._occurrences[id(occ)] = (key, Encoded(reminders), Encoded(details), occ)
        return cached

    def _escalation(self, step: Step) -> tuple[str, tuple[datetime, ...]]:
        """The step's escalation as JSON text (exactly `json.dumps` of the list `make` stores),
        and its rung moments. Built from parts cached per occurrence (the rung times, shared
        by its steps) and per resolved ladder (one per duty and unit): the ladder keeps a
        %-format of its text and a getter of the rungs it names (a rung without units is not
        stored), applied to the occurrence's ISO moments."""
        times, ladder = step.rung_times, step.ladder
        t = self._times.get(id(times))
        if t is None:
            t = self._times[id(times)] = (tuple(json.dumps(m.isoformat()) for m in times), times)
        lad = self._ladders.get(id(ladder))
        if lad is None:  # the ladders of a unit's duties mostly name the same units
            shape = tuple([units for _, units in ladder])
            lad = self._forms.get(shape)
            if lad is None:
                lad = self._forms[shape] = _ladder_form(shape)
            self._ladders[id(ladder)] = lad
            self._kept.append(ladder)
        fmt, pick, last, rungs = lad[0], lad[1], lad[2], lad[3]
        if fmt is None:
            return NO_RUNGS.text, ()
        if last < len(times):  # every rung of the ladder has its moment (zip in Step)
            return fmt % pick(t[0]), pick(times)
        kept = [r for r in rungs if r[0] < len(times)]
        if not kept:
            return NO_RUNGS.text, ()
        isos = t[0]
        text = "[" + ", ".join([head + isos[i] + tail for i, head, tail in kept]) + "]"
        return text, tuple([times[r[0]] for r in kept])

    def _fingerprint(self, step: Step, escalation: str) -> str:
        """blake2b of duty key, occurrence key, unit, amount, escalation (SEP-joined); the
        hash state after the first two (shared by the occurrence's steps) is kept and copied."""
        occ = step.occurrence
        prefix = self._prefixes.get(id(occ))
        if prefix is None:
            duty_key, duty_details, _source, _ = self._duty(step.duty)
            occ_key = self._occurrence(occ, duty_details)[0]
            prefix = self._prefixes[id(occ)] = (
                hashlib.blake2b((duty_key + SEP + occ_key + SEP).encode(), digest_size=16),
                occ,
            )
        h = prefix[0].copy()
        h.update(
            (
                step.unit
                + SEP
                + ("" if step.amount is None else str(step.amount))
                + SEP
                + escalation
            ).encode()
        )
        return h.hexdigest()

    def fingerprint(self, step: Step) -> str:
        """The step's content fingerprint (what `make(step, now)["fingerprint"]` is)."""
        return self._fingerprint(step, self._escalation(step)[0])

    def make(self, step: Step, now: datetime) -> dict[str, Any]:
        """The row for `step` as it would be inserted (state pending, revision 1) at `now`."""
        duty, occ = step.duty, step.occurrence
        _duty_key, duty_details, source, _ = self._duty(duty)
        _occ_key, reminders, details, _ = self._occurrence(occ, duty_details)
        text, rung_times = self._escalation(step)
        escalation = _encoded(
            [
                {"level": r.level, "at": r.at.isoformat(), "units": list(r.units)}
                for r in step.escalation
            ],
            text,
        )
        return {
            "id": step.id,
            "plan_id": step.plan,
            "obligation": duty.id,
            "occurrence": occ.key,
            "unit_id": step.unit,
            "kind": str(duty.kind),
            "title": duty.title,
            "due_date": occ.date,
            "due_time": occ.time,
            "start_date": occ.start,
            "due_at": occ.due_at,
            "tentative": occ.tentative,
            "amount": step.amount,
            "reminders": reminders,
            "escalation": escalation,
            "source": source,
            "details": details,
            "fingerprint": self._fingerprint(step, text),
            "revision": 1,
            "state": State.PENDING.value,
            "cancel_reason": None,
            "done_at": None,
            "next_action_at": _next(occ.reminders, rung_times, now),
            "created_at": now,
            "updated_at": now,
            "timezone": self.plan.tz.key,
        }

    def occurrence_values(self, step: Step) -> tuple[Any, ...]:
        """The driver values of `OCCURRENCE_COLUMNS` for a new step: its duty's and its
        occurrence's, the same tuple for every step of the occurrence."""
        occ = step.occurrence
        o = self._driver_occ.get(id(occ))
        if o is None:
            duty = step.duty
            _key, details, source, _ = self._duty(duty)
            _key, reminders, occ_details, _ = self._occurrence(occ, details)
            o = self._driver_occ[id(occ)] = (
                duty.id,
                occ.key,
                str(duty.kind),
                duty.title,
                self._day(occ.date),
                self._clock(occ.time),
                self._day(occ.start),
                self._dt(occ.due_at),
                self._bool(occ.tentative),
                reminders.text,
                source.text,
                occ_details.text,
            )
        return o

    def step_values(self, step: Step, now: datetime) -> tuple[Any, ...]:
        """The driver values of `STEP_COLUMNS` for `step` stored at `now`: with
        `occurrence_values` and `constant_values`, the row `make(step, now)` makes."""
        escalation, rung_times = self._escalation(step)
        nxt = _next(step.occurrence.reminders, rung_times, now)
        if nxt is not None:
            moment = self._moments.get(nxt)
            if moment is None:
                moment = self._moments[nxt] = self._dt(nxt)
            nxt = moment
        return (
            step.id,
            step.unit,
            step.amount,
            escalation,
            self._fingerprint(step, escalation),
            nxt,
        )

    def constant_values(self, now: datetime) -> tuple[Any, ...]:
        """The driver values of `CONSTANT_COLUMNS` for the steps stored at `now`: the plan,
        revision 1, pending, not cancelled, not done, created and updated now, its zone."""
        stored_now = self._dt(now)
        return (self.plan.id, 1, PENDING, None, None, stored_now, stored_now, self.plan.tz.key)

    def driver_moment(self, moment: datetime) -> Any:
        """A moment as the driver stores it (text on SQLite, the aware datetime elsewhere)."""
        return self._dt(moment)


#: The columns of `RowMaker.step_values`, in order: those that vary from step to step.
STEP_COLUMNS = ("id", "unit_id", "amount", "escalation", "fingerprint", "next_action_at")
#: The columns of `RowMaker.occurrence_values`: the same for the steps of one occurrence.
OCCURRENCE_COLUMNS = (
    "obligation",
    "occurrence",
    "kind",
    "title",
    "due_date",
    "due_time",
    "start_date",
    "due_at",
    "tentative",
    "reminders",
    "source",
    "details",
)
#: The columns of `RowMaker.constant_values`: the same for every step a load inserts.
CONSTANT_COLUMNS = (
    "plan_id",
    "revision",
    "state",
    "cancel_reason",
    "done_at",
    "created_at",
    "updated_at",
    "timezone",
)
#: Every column a load sets for a new step, in the order of
#: `step_values(…) + occurrence_values(…) + constant_values(…)`.
INSERT_COLUMNS = STEP_COLUMNS + OCCURRENCE_COLUMNS + CONSTANT_COLUMNS
PENDING = State.PENDING.value


@lru_cache(maxsize=128)
def sqlite_rows_statement(table: str, rows: int) -> str:
    """An INSERT of `rows` new steps of one occurrence in one statement, for SQLite:
    parameters ?1…?20 are `CONSTANT_COLUMNS` and `OCCURRENCE_COLUMNS`, bound once for all the
    rows, then come the `STEP_COLUMNS` of each row in turn. One statement per hundred rows
    instead of one per row spares SQLite most of the work of running a statement (opening the
    table and its indexes, setting up the constraint checks), and the values the rows share
    are bound (copied) once instead of once per row.

    >>> sqlite_rows_statement("t", 2).count("(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ")
    2
    """
    shared = len(CONSTANT_COLUMNS) + len(OCCURRENCE_COLUMNS)
    head = ", ".join(f"?{i + 1}" for i in range(shared))
    width = len(STEP_COLUMNS)
    values = ", ".join(
        "(" + head + ", " + ", ".join(f"?{shared + r * width + i + 1}" for i in range(width)) + ")"
        for r in range(rows)
    )
    columns = CONSTANT_COLUMNS + OCCURRENCE_COLUMNS + STEP_COLUMNS
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"


def _encoded(value: Any, text: str) -> Encoded:
    """An Encoded whose text is already known (the same as json.dumps would give)."""
    encoded = Encoded.__new__(Encoded)
    encoded.value, encoded.text = value, text
    return encoded


def _sqlite_datetime(value: datetime) -> str:
    """SQLAlchemy's SQLite storage format for a UTC moment (as `UTCDateTime` writes it)."""
    if value.utcoffset() is None:
        raise ValueError(f"thời điểm không có múi giờ: {value!r} (cần datetime có tzinfo)")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_time(value: Any) -> str | None:
    """SQLAlchemy's SQLite storage format for a TIME."""
    return None if value is None else value.isoformat("microseconds")


def _aware_utc(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError(f"thời điểm không có múi giờ: {value!r} (cần datetime có tzinfo)")
    return value.astimezone(UTC)


def _iso_or_none(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _same(value: Any) -> Any:
    return value


NO_RUNGS = Encoded([])


def _ladder_form(shape: tuple[tuple[str, ...], ...]) -> tuple[Any, ...]:
    """(format, getter, last index, rungs) for a resolved ladder's units, one tuple per rung:
    each rung with units is '{"level": k, "at": ' <its moment's JSON> ', "units": [...]}'; the
    format has one %s per rung (a literal % in a unit id is doubled), the getter picks those
    rungs' moments (a tuple even for one)."""
    rungs = tuple(
        (
            i,
            f'{{"level": {i + 1}, "at": ',
            f', "units": {json.dumps(list(units), ensure_ascii=False)}}}',
        )
        for i, units in enumerate(shape)
        if units
    )
    if not rungs:
        return None, None, -1, rungs
    fmt = (
        "["
        + ", ".join(
            head.replace("%", "%%") + "%s" + tail.replace("%", "%%") for _i, head, tail in rungs
        )
        + "]"
    )
    index = tuple(i for i, _h, _t in rungs)
    getter = itemgetter(*index)
    pick = getter if len(index) > 1 else (lambda seq, _g=getter: (_g(seq),))
    return fmt, pick, index[-1], rungs


def _next(
    reminders: tuple[datetime, ...], rung_times: tuple[datetime, ...], now: datetime
) -> datetime | None:
    i = bisect_right(reminders, now)  # reminders are sorted: skip the past ones cheaply
    best = reminders[i] if i < len(reminders) else None
    for at in rung_times:
        if at > now and (best is None or at < best):
            best = at
    return best


def _iso(value: Any) -> str:
    return value.isoformat() if value is not None else ""


def _canon(details: dict[str, Any]) -> str:
    return SEP.join(f"{k}={v}" for k, v in sorted(details.items()))
