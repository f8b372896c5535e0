"""The daily digest: one message a day per recipient listing what of theirs needs attention.

Pure, like the lifecycle: a function of the recipient's units, the facts of the steps and
`now`. A step is in a recipient's digest when

- the recipient is the unit responsible for it and it is due soon (a reminder has fired and
  it is not late yet), due today, or late; or
- it is late and the recipient is among the units of a rung of its ladder that has been
  reached (`RungFacts.at <= now`): a cluster head's digest lists its members' late steps once
  the ladder has reached the cluster head, the issuer's once it has reached the issuer.

Items are grouped late → due today → due soon; the late ones most urgent first (highest level
heard, then most days late), the others by deadline.

    >>> from datetime import UTC, date, datetime
    >>> s = StepFacts("p/bc/2024-01/a", "deadline", datetime(2024, 1, 25, 17, tzinfo=UTC),
    ...               date(2024, 1, 25), unit="a")
    >>> d = digest_for({"a"}, [s], datetime(2024, 1, 27, 1, tzinfo=UTC))
    >>> [(i.step_id, i.label) for i in d.items]
    [('p/bc/2024-01/a', 'quá hạn 2 ngày')]
    >>> digest_for({"b"}, [s], datetime(2024, 1, 27, 1, tzinfo=UTC)) is None
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from engine.model import ZONE as VN

from .lifecycle import LATE, Phase, StepFacts, status

#: The phases a digest speaks of, in order of urgency.
GROUPS = (Phase.ESCALATED, Phase.OVERDUE, Phase.DUE_TODAY, Phase.DUE_SOON)
EPSILON = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class DigestItem:
    step_id: str
    unit: str  # the unit responsible for the step
    phase: Phase
    label: str  # the status as a secretary says it
    deadline: datetime  # UTC, extension included
    due_day: date  # the local day of the deadline
    days_late: int = 0
    level: int = 0  # the highest rung heard
    own: bool = True  # the recipient is responsible for it (else: told through the ladder)

    @property
    def late(self) -> bool:
        return self.phase in LATE


@dataclass(frozen=True, slots=True)
class Digest:
    recipients: tuple[str, ...]  # the recipient's units, sorted
    day: date  # the local day of `now`
    late: tuple[DigestItem, ...]
    today: tuple[DigestItem, ...]
    soon: tuple[DigestItem, ...]

    @property
    def items(self) -> tuple[DigestItem, ...]:
        """Every item, most urgent first."""
        return self.late + self.today + self.soon

    def __len__(self) -> int:
        return len(self.late) + len(self.today) + len(self.soon)


def _reached(step: StepFacts, now: datetime, units: AbstractSet[str]) -> bool:
    """Whether a rung of `step` heard by `now` names one of `units`."""
    return any(r.at <= now and not units.isdisjoint(r.units) for r in step.effective_rungs)


def item_for(units: AbstractSet[str], step: StepFacts, now: datetime) -> DigestItem | None:
    """The digest item `step` is for the recipient with `units`, or None."""
    st = status(step, now)
    if st.phase not in GROUPS:
        return None
    own = step.unit in units
    if not own and not (st.phase in LATE and _reached(step, now, units)):
        return None
    deadline = step.deadline
    return DigestItem(
        step.id,
        step.unit,
        st.phase,
        st.label,
        deadline,
        (deadline - EPSILON).astimezone(step.tz).date(),
        st.days_late,
        st.level,
        own,
    )


def digest_for(
    recipient_units: Iterable[str], step_facts_list: Iterable[StepFacts], now: datetime
) -> Digest | None:
    """The digest of the recipient with `recipient_units` at `now`; None when it would be empty."""
    units = frozenset(recipient_units)
    items = [i for s in step_facts_list if (i := item_for(units, s, now)) is not None]
    if not items:
        return None
    late = sorted(
        (i for i in items if i.late), key=lambda i: (-i.level, -i.days_late, i.deadline, i.step_id)
    )
    today = sorted(
        (i for i in items if i.phase == Phase.DUE_TODAY), key=lambda i: (i.deadline, i.step_id)
    )
    soon = sorted(
        (i for i in items if i.phase == Phase.DUE_SOON), key=lambda i: (i.deadline, i.step_id)
    )
    return Digest(
        tuple(sorted(units)), now.astimezone(VN).date(), tuple(late), tuple(today), tuple(soon)
    )
