"""The database schema, as SQLAlchemy 2 declarative models.

Steps are the heart: one row per compiled step, keyed by the compiler's stable id, so a
reloaded plan finds its rows again. A step is never deleted: a removed one is cancelled with
its reason, and every change leaves a `transitions` row. `next_action_at` is the next moment
something must happen to the step (a reminder or an escalation rung); it is recomputed on
every change and indexed, so "what is due now" is one range scan (healthchecks'
`Check.alert_after`). People are who hears about a unit's steps (recipients of its outbox
rows, through their contact links) and who may act on them (board roles); groups keep each
plan's clusters and groups, so a cluster head's scope and a cluster's feed can be queried.

Bulk code (sync) writes through `Model.__table__` with executemany; the ORM classes give the
schema one typed place and serve the small reads and single-row actions.
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any, ClassVar, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    case,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from workflows.lifecycle import State

from .types import BigId, JSONDoc, UTCDateTime

#: Stable constraint names, so Alembic can alter them later on every backend (SQLite batch mode).
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDoc,
        list[Any]: JSONDoc,
    }


class Unit(Base):
    """A unit (đơn vị) by its id; the same id in two plans is the same unit."""

    __tablename__ = "units"
    #: 0013: the outer loop of the lists by unit (see the migration)
    __table_args__ = (Index("ix_units_name_id", "name", "id"),)
    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    name: Mapped[str] = mapped_column(Text)


class PlanRow(Base):
    __tablename__ = "plans"
    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    file: Mapped[str] = mapped_column(Text)
    current_version: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    issuer_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))  # 0003


class Group(Base):
    """A plan's cluster (cụm, with a head unit) or group of units (migration 0003)."""

    __tablename__ = "groups"
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # cluster | group
    name: Mapped[str] = mapped_column(Text)
    head_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))


class PlanUnit(Base):
    """A unit that has steps in a plan (migration 0004). Kept at load, never removed (steps
    are never deleted either), so "the units of a plan" is one small read, not a scan of
    its steps."""

    __tablename__ = "plan_units"
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), primary_key=True)


class GroupMember(Base):
    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_members_unit_id", "unit_id"),)
    plan_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), primary_key=True)


class PlanVersion(Base):
    """One distinct content of a plan file, numbered 1, 2, … in the order it was loaded."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"))
    number: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    file: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime]
    content: Mapped[str | None] = mapped_column(Text)  # the plan file's text (0005)
    published_by: Mapped[str | None] = mapped_column(Text)  # who loaded or published it


class PlanDraft(Base):
    """A plan on its way from an uploaded document to a published plan (migration 0005):
    the importer's draft, its review questions and the answers so far, as one JSON document.
    `revision` goes up with every save; a save based on an older one is refused."""

    __tablename__ = "plan_drafts"
    __table_args__ = (CheckConstraint("state IN ('open', 'published', 'discarded')", name="state"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    plan_id: Mapped[str | None] = mapped_column(String(120))  # set once published, or when editing
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    source_name: Mapped[str] = mapped_column(Text)
    document: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), server_default=text("'open'"))
    revision: Mapped[int] = mapped_column(server_default=text("1"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(Text)


#: A step's deadline (the extension when later than the plan's date) as index DDL; the
#: queries' form is `deadline(table)`, the same expression. Written as PostgreSQL
#: prints it back, so alembic's comparison of models and database finds no difference.
DEADLINE_DDL = (
    "(\nCASE\n    WHEN extended_until > due_at THEN extended_until\n    ELSE due_at\nEND)"
)


class StepRow(Base):
    __tablename__ = "steps"
    __table_args__ = (
        CheckConstraint(f"state IN ({', '.join(repr(s.value) for s in State)})", name="state"),
        Index(
            "ix_steps_next_action_at",
            "next_action_at",
            sqlite_where=text("next_action_at IS NOT NULL"),
            postgresql_where=text("next_action_at IS NOT NULL"),
        ),
        Index("ix_steps_unit_id_due_at", "unit_id", "due_at"),
        Index("ix_steps_plan_id_state", "plan_id", "state"),
        # 0009: the board's lists and summaries read these alone (see the migration)
        Index(
            "ix_steps_state_due_at",
            "state",
            "due_at",
            "extended_until",
            "kind",
            "unit_id",
            "plan_id",
            "id",
        ),
        Index(
            "ix_steps_plan_id_unit_id_kind",
            "plan_id",
            "unit_id",
            "kind",
            "state",
            "due_at",
            "extended_until",
            "done_at",
            "due_date",
        ),
        # 0011: pending steps in the lists' order (deadline, id), see the migration
        Index(
            "ix_steps_state_deadline",
            "state",
            text(DEADLINE_DDL),
            "id",
            "kind",
            "unit_id",
            "plan_id",
            "due_at",
            "extended_until",
        ),
        # 0013: a unit's pending steps in the lists' order, for the lists by unit
        Index(
            "ix_steps_unit_id_state_deadline",
            "unit_id",
            "state",
            text(DEADLINE_DDL),
            "id",
            "kind",
            "plan_id",
            "due_at",
            "extended_until",
        ),
    )
    #: The compiler's stable id: plan/obligation/occurrence/unit.
    id: Mapped[str] = mapped_column(String(400), primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"))
    obligation: Mapped[str] = mapped_column(String(120))
    occurrence: Mapped[str] = mapped_column(String(120))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    due_date: Mapped[date] = mapped_column(Date)
    due_time: Mapped[time | None] = mapped_column(Time)
    start_date: Mapped[date | None] = mapped_column(Date)
    due_at: Mapped[datetime]  # UTC; late after this
    tentative: Mapped[bool]
    amount: Mapped[int | None] = mapped_column(BigInteger)  # đồng, for contributions
    reminders: Mapped[list[Any]]  # ISO UTC moments, earliest first
    escalation: Mapped[list[Any]]  # [{level, at, units}]
    source: Mapped[dict[str, Any]]  # {file, phrase, line, text}: where the plan says so
    details: Mapped[dict[str, Any]]  # place, quantity, measure, percent, nominal date, shift reason
    fingerprint: Mapped[str] = mapped_column(String(32))  # hash of the content, not of the source
    revision: Mapped[int]  # bumped on every write, for conditional UPDATE … WHERE revision = r
    state: Mapped[str] = mapped_column(String(16))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None]
    next_action_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Actions (migration 0002). An extension request is pending while extension_requested_at
    # is set; a granted one sets extended_until, the moment the step is late after from then on.
    extended_until: Mapped[datetime | None]
    extension_requested_at: Mapped[datetime | None]
    extension_requested_until: Mapped[datetime | None]
    extension_requested_by: Mapped[str | None] = mapped_column(Text)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    excuse_reason: Mapped[str | None] = mapped_column(Text)
    paid_amount: Mapped[int | None] = mapped_column(BigInteger)  # đồng paid, contributions
    achieved_quantity: Mapped[float | None] = mapped_column(Float)  # reported, targets
    #: The highest rung whose escalation was delivered (an outbox row `sent`; migration
    #: 0007): what the step's status says was sent, apart from what is due.
    escalated_level: Mapped[int | None]
    #: The plan's time zone (an IANA name, migration 0012): where `due_date` is a date, and
    #: where the step's status, reminders and messages count days. NULL: Việt Nam's.
    timezone: Mapped[str | None] = mapped_column(String(64))


class Transition(Base):
    """The audit trail: one row per change of a step, by whom, when, through what."""

    __tablename__ = "transitions"
    __table_args__ = (Index("ix_transitions_step_id_at", "step_id", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    step_id: Mapped[str] = mapped_column(ForeignKey("steps.id"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(32))  # created, changed, cancelled, restored, done, …
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int]
    note: Mapped[str | None] = mapped_column(Text)


class BoardRole(StrEnum):
    """What a person may see and do on the board and from Telegram buttons."""

    SECRETARY = "secretary"  # of an issuing body: every plan it issued
    CLUSTER_HEAD = "cluster_head"  # the clusters whose head is their unit
    UNIT_SECRETARY = "unit_secretary"  # their own unit
    MEMBER = "member"  # hears about their unit's steps, may act on them from Telegram


class Person(Base):
    """Someone who hears about steps: a unit's secretary, a cluster head, …

    How they are reached is in `contacts` (migration 0010: one row per channel)."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(Text)  # as people say it: "Bí thư", "Phó Bí thư"
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime]
    board_role: Mapped[str] = mapped_column(String(16), server_default=text("'member'"))
    login: Mapped[str | None] = mapped_column(String(120), unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text)


class Contact(Base):
    """How a person is reached on one channel (migration 0010): the address there (a Telegram
    chat id as text, an e-mail address, a Zalo user id), when it was linked, and `lost_at`
    once the channel refused it for good (bot blocked, chat gone): a lost contact is skipped
    until it is linked again. `preference`: lower is tried first (ties: the channel registry's
    order, kehoach/channels.py). One contact per person and channel; on a chat channel one
    address belongs to one person (kehoach/chat/links.py keeps that, an e-mail address may be
    shared)."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("person_id", "channel"),
        Index("ix_contacts_channel_address", "channel", "address"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(320))
    linked_at: Mapped[datetime]
    lost_at: Mapped[datetime | None]
    lost_reason: Mapped[str | None] = mapped_column(Text)
    preference: Mapped[int] = mapped_column(server_default=text("100"))


class Invite(Base):
    """A one-time code that links a Telegram chat to a person; only its hash is kept."""

    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(Text)


class FeedToken(Base):
    """An iCalendar feed's secret URL token (only its hash is kept), revocable."""

    __tablename__ = "feed_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(16))  # unit | cluster | person | plan
    scope_id: Mapped[str] = mapped_column(String(400))  # cluster: "plan_id/cluster_id"
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class BoardSession(Base):
    """A logged-in board session (0005): the cookie holds a random id, only its SHA-256 is
    kept. Deleting the row ends the session (logout, new password, `kehoach person logout`)."""

    __tablename__ = "board_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class BoardChanges(Base):
    """One row counting the writes the board's summaries depend on (0011): database
    triggers add 1 on every insert, delete or update of what a summary or chart reads (a
    step's state, dates, kind, plan or unit; a unit; a cluster or its members), by any path
    (actions, a plan's load or reload, a script). The board keeps a summary while the count
    and its validity (kehoach.web.summary_cache) say nothing it depends on changed."""

    __tablename__ = "board_changes"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger)
    #: 0014: a result kept at a count below this cannot catch up from board_log (units or
    #: clusters changed, a large load, or the log was pruned): it is computed again
    replay_from: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    #: 0014: true while a large load runs (its steps are not logged; it sets replay_from)
    unlogged: Mapped[bool] = mapped_column(server_default=false())


class BoardLog(Base):
    """What each counted change of a step did to what the summaries read (0014): the row
    before (sign −1) and after (sign +1) at the change's count `n`, written by the steps'
    triggers. A kept summary catches up by adding up the rows since its count
    (kehoach.web.summary_cache) instead of reading a million steps again."""

    __tablename__ = "board_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    n: Mapped[int] = mapped_column(BigInteger, index=True)
    sign: Mapped[int]
    plan_id: Mapped[str] = mapped_column(String(120))
    unit_id: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    due_date: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime]
    extended_until: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(16))
    done_at: Mapped[datetime | None]


class ClockBeat(Base):
    """The clock's heartbeat (one row, `name` "clock"): when the leader's clock started and
    when it last ticked successfully, in real time, so /healthz in any process can tell a
    stopped clock (kehoach/store/heartbeat.py)."""

    __tablename__ = "clock_beats"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    worker: Mapped[str] = mapped_column(String(200))
    period_seconds: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime]
    ticked_at: Mapped[datetime | None]


class Sending(StrEnum):
    """The states of an outbox row (store/dispatch.py's module doc says how each is reached;
    store.queue.STATES how people read them)."""

    PENDING = "pending"  # waiting to be sent (from `not_before`)
    CLAIMED = "claimed"  # taken by a dispatcher, not yet being sent
    SENDING = "sending"  # its send has started
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"  # may have arrived: a person looks, it is never resent blindly
    SKIPPED = "skipped"  # not sent: the step changed before its turn
    DROPPED = "dropped"  # given up by a person


#: The state of an outbox row waiting to be sent.
OUTBOX_PENDING = Sending.PENDING


def queued(now: datetime) -> dict[str, Any]:
    """The columns every outbox row starts with when it is decided at `now`: pending, never
    tried, to be sent from now."""
    return {
        "state": OUTBOX_PENDING,
        "attempts": 0,
        "not_before": now,
        "created_at": now,
        "updated_at": now,
    }


class Outbox(Base):
    """A notification decided in the same transaction as the change that caused it.

    The idempotency key (step, purpose, level, occurrence) makes deciding twice harmless."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_not_before", "state", "not_before"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(500), unique=True)
    step_id: Mapped[str | None] = mapped_column(ForeignKey("steps.id"))  # none for a digest
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"))
    channel: Mapped[str] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(32))  # reminder, escalation, digest, …
    level: Mapped[int | None]
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16))  # pending, claimed, sending, sent, failed,
    # unknown, skipped, dropped (store/dispatch.py, store/queue.py)
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    not_before: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Delivery(Base):
    """What happened to one attempt at sending an outbox row."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))  # sent, temporary, permanent, unknown
    permanent: Mapped[bool] = mapped_column(server_default=text("false"))
    error: Mapped[str | None] = mapped_column(Text)
    remote_id: Mapped[str | None] = mapped_column(Text)  # the channel's id for the message


class OutboxAction(Base):
    """The audit of a person resending or dropping an outbox row (migration 0007)."""

    __tablename__ = "outbox_actions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(Text)
    via: Mapped[str] = mapped_column(String(32))  # cli | web
    action: Mapped[str] = mapped_column(String(16))  # retry | drop
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))


#: The tables, for the bulk Core statements (executemany) of sync, where one ORM object per
#: step would cost too much.
units_table = cast(Table, Unit.__table__)
plans_table = cast(Table, PlanRow.__table__)
versions_table = cast(Table, PlanVersion.__table__)
drafts_table = cast(Table, PlanDraft.__table__)
steps_table = cast(Table, StepRow.__table__)
transitions_table = cast(Table, Transition.__table__)
outbox_table = cast(Table, Outbox.__table__)
deliveries_table = cast(Table, Delivery.__table__)
people_table = cast(Table, Person.__table__)
contacts_table = cast(Table, Contact.__table__)
groups_table = cast(Table, Group.__table__)
group_members_table = cast(Table, GroupMember.__table__)
plan_units_table = cast(Table, PlanUnit.__table__)
invites_table = cast(Table, Invite.__table__)
feed_tokens_table = cast(Table, FeedToken.__table__)
board_sessions_table = cast(Table, BoardSession.__table__)
outbox_actions_table = cast(Table, OutboxAction.__table__)
clock_beats_table = cast(Table, ClockBeat.__table__)
board_changes_table = cast(Table, BoardChanges.__table__)
board_log_table = cast(Table, BoardLog.__table__)


def deadline(table: Any) -> Any:
    """The deadline a step is late after (DEADLINE_DDL) of `table`'s rows: steps, or the
    board's log of them."""
    return case(
        (table.c.extended_until > table.c.due_at, table.c.extended_until), else_=table.c.due_at
    )


#: A change the log cannot replay (a large load): counted, and older kept results recomputed.
BOARD_CHANGED = "UPDATE board_changes SET n = n + 1, replay_from = n + 1, unlogged = false"
#: A load of at least this many steps is not logged (BOARD_CHANGED at its end instead).
UNLOGGED_MIN = 20_000
