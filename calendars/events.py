"""One calendar event per step: its marker, its dates, its sequence and when it last changed.

Pure: a stored step arrives as a `FeedStep` (its lifecycle facts plus what the event says),
and everything here is a function of it and of `now`. The marker in the summary comes from
`workflows.lifecycle.status`, the same truth the board and the messages use:

    ✅ done (or excused) · ⚠️ quá hạn N ngày · ⏳ dự kiến (tentative, not yet due) · ❌ đã hủy

A step's content changes in two ways: when its row is written (`updated_at`, `revision`) and
when time alone moves its marker (it falls due; each day late adds one to "quá hạn N ngày";
a cancelled step leaves the feed `CANCELLED_KEPT` after its cancellation). `last_change` and
`next_change` name those moments, so a feed knows its Last-Modified and how long a cached
copy stays true, and `sequence` grows with every one of them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from workflows.lifecycle import DAY, LATE, STATE_NAMES, Phase, State, StepFacts, status

#: How long a cancelled step stays in feeds (as STATUS:CANCELLED), so subscribed clients
#: learn it is gone; afterwards it is dropped.
CANCELLED_KEPT = timedelta(days=30)
#: SEQUENCE counts hours from here (plus the step's revision), so it only ever grows.
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class FeedStep:
    """A stored step as a feed sees it: the lifecycle facts, and what the event says."""

    facts: StepFacts
    title: str
    plan_id: str
    plan_title: str
    unit_name: str
    due_time: time | None = None
    start_date: date | None = None
    amount: int | None = None
    source: dict[str, Any] = field(default_factory=dict)  # {file, phrase, line, text}
    details: dict[str, Any] = field(default_factory=dict)  # place, …
    revision: int = 1
    updated_at: datetime = EPOCH
    cancel_reason: str | None = None

    @property
    def id(self) -> str:
        return self.facts.id

    @property
    def kind(self) -> str:
        return self.facts.kind


def uid(step_id: str) -> str:
    """The event's UID: stable for the step id (which survives plan edits), opaque.

    >>> uid("p/bao-cao/2024-01/a")
    'c822879b681fc87b3323bc0eede8f961@kehoach'
    """
    return hashlib.sha256(step_id.encode()).hexdigest()[:32] + "@kehoach"


def dropped(step: FeedStep, now: datetime) -> bool:
    """A cancelled step no longer shown (its cancellation is older than CANCELLED_KEPT)."""
    return step.facts.state == State.CANCELLED and now >= step.updated_at + CANCELLED_KEPT


@dataclass(frozen=True, slots=True)
class Mark:
    """What the summary and description say of the step's state at a moment."""

    emoji: str  # "" when nothing is marked
    text: str  # the state as a secretary says it: "quá hạn 3 ngày", "đã xong", …
    phase: Phase


def mark(step: FeedStep, now: datetime) -> Mark:
    """The step's marker at `now` (module doc), from the lifecycle's status."""
    st = status(step.facts, now)
    if st.phase == Phase.CANCELLED:
        return Mark("❌", st.label, st.phase)
    if st.phase in (Phase.DONE, Phase.EXCUSED, Phase.DONE_LATE):
        return Mark("✅", st.label, st.phase)
    if st.phase in LATE:
        return Mark("⚠️", st.overdue, st.phase)
    if st.phase == Phase.HAPPENED:
        return Mark("", st.label, st.phase)
    if step.facts.tentative:
        return Mark("⏳", "dự kiến", st.phase)
    return Mark("", STATE_NAMES[State.PENDING] if step.facts.late_kind else "sắp tới", st.phase)


def summary(step: FeedStep, now: datetime, with_unit: bool, m: Mark | None = None) -> str:
    """`⚠️ quá hạn 3 ngày: Báo cáo tháng — Đoàn phường A` (the unit when the feed has several);
    `m`: the step's mark at `now`, when the caller has it already."""
    m = m or mark(step, now)
    title = f"{step.title} — {step.unit_name}" if with_unit else step.title
    if m.phase in LATE or m.emoji in ("⏳", "❌"):
        return f"{m.emoji} {m.text}: {title}"
    if m.emoji == "✅" and m.phase != Phase.DONE:
        return f"✅ {title} ({m.text})"
    return f"{m.emoji} {title}" if m.emoji else title


def _pending(step: FeedStep) -> bool:
    return step.facts.state == State.PENDING


def marker_changed(step: FeedStep, now: datetime) -> datetime | None:
    """The latest moment ≤ now at which time alone changed the step's event (None if never).

    A pending step changes at its deadline (late, or happened; its alarms go) and, when it
    can be late, each day after (the count of days late; `status` counts a day started as
    one); a cancelled step leaves the feed CANCELLED_KEPT after it was cancelled."""
    f = step.facts
    if f.state == State.CANCELLED:
        gone = step.updated_at + CANCELLED_KEPT
        return gone if now >= gone else None
    if not _pending(step) or now < f.deadline:
        return None
    if not f.late_kind:
        return f.deadline
    days = status(f, now).days_late  # 1 from the deadline on, 2 from just after a day later…
    return f.deadline + (days - 1) * DAY + (TICK if days > 1 else timedelta(0))


def next_change(step: FeedStep, now: datetime) -> datetime | None:
    """The first moment after `now` at which time alone changes the event (None if never):
    a cached feed holding this step is true while the clock is before it."""
    f = step.facts
    if f.state == State.CANCELLED:
        gone = step.updated_at + CANCELLED_KEPT
        return gone if now < gone else None
    if not _pending(step):
        return None
    if now < f.deadline:
        return f.deadline
    if not f.late_kind:
        return None
    return f.deadline + status(f, now).days_late * DAY + TICK


def last_change(step: FeedStep, now: datetime) -> datetime:
    """When the event's content last changed: its row's last write, or a marker change."""
    moved = marker_changed(step, now)
    return step.updated_at if moved is None else max(step.updated_at, moved)


def sequence(step: FeedStep, now: datetime, changed: datetime | None = None) -> int:
    """SEQUENCE: the revision (bumped by every write: date, time, state) plus the hours from
    EPOCH to `last_change` (`changed`, when the caller has it), so it grows with every change,
    those made by time included, and never goes back (both parts only grow)."""
    changed = changed or last_change(step, now)
    return step.revision + max(0, int((changed - EPOCH) / HOUR))
