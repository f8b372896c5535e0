"""Sync: make the stored steps of a plan match what the compiler produces now.

Runs inside the caller's write transaction (one per plan), so a plan is stored whole or not
at all. Idempotent: a step whose fingerprint did not change is not written, so loading the
same file twice writes nothing. New steps are inserted; changed ones get their content, a
revision bump and an audit row; steps the plan no longer produces are cancelled with the
reason (never deleted). A finished step (done, excused) keeps its state whatever the plan
says: a date change is recorded, a removal leaves it alone.

Everything is written in bulk, never one ORM object per step: plans reach a million steps.
New steps go as tuples of driver values straight through the DBAPI connection (multi-row
INSERTs on SQLite, COPY on PostgreSQL), changes by executemany through the tables, in chunks.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import chain, groupby, islice
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from engine.compiler import Step
from engine.plan import Plan
from workflows.lifecycle import State, next_moment

from .directory import sync_groups, sync_plan_units
from .models import (
    BOARD_CHANGED,
    UNLOGGED_MIN,
    board_changes_table,
    plans_table,
    steps_table,
    transitions_table,
    units_table,
    versions_table,
)
from .rows import (
    CONSTANT_COLUMNS,
    CONTENT,
    INSERT_COLUMNS,
    OCCURRENCE_COLUMNS,
    STEP_COLUMNS,
    RowMaker,
    sqlite_rows_statement,
)
from .tick import COLUMNS, facts

CHUNK = 10_000
IN_CHUNK = 500  # ids per IN (…) list: well under every backend's parameter limit
REMOVED = "không còn trong kế hoạch"
LOAD_LOCK = int.from_bytes(b"kehoach", "big")  # PostgreSQL advisory lock key for loads
steps_t, transitions_t, units_t = steps_table, transitions_table, units_table
plans_t, versions_t, board_changes_t = plans_table, versions_table, board_changes_table
#: The audit row of a new step (`transitions` columns, in the order of the tuples).
CREATED_COLUMNS = (
    "step_id",
    "at",
    "actor",
    "channel",
    "event",
    "from_state",
    "to_state",
    "revision",
    "note",
)
#: How the changes are named in the audit note.
LABELS = {
    "due_date": "hạn",
    "due_time": "giờ",
    "start_date": "ngày bắt đầu",
    "title": "tên việc",
    "kind": "loại",
    "amount": "số tiền",
    "tentative": "dự kiến",
    "reminders": "lịch nhắc",
    "escalation": "các mức báo khi trễ",
    "details": "chi tiết",
    "unit_id": "đơn vị",
}


@dataclass
class SyncResult:
    """What one load did to one plan. `kept` counts the steps left as they were, including
    finished ones the plan no longer produces (they are never cancelled)."""

    plan_id: str
    version: int
    new_version: bool
    added: int = 0
    changed: int = 0
    cancelled: int = 0
    kept: int = 0
    restored: int = 0

    @property
    def wrote(self) -> bool:
        return self.new_version or bool(
            self.added or self.changed or self.cancelled or self.restored
        )


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """itertools.batched, which Python 3.11 lacks."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def file_digest(path: str | Path) -> str:
    """The SHA-256 of a plan file's bytes: a new digest is a new plan version."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sync_plan(
    session: Session,
    plan: Plan,
    steps: Sequence[Step],
    *,
    now: datetime,
    content_hash: str,
    actor: str = "kehoach load",
    channel: str = "cli",
    progress: Callable[[int], None] | None = None,
) -> SyncResult:
    """Store `steps` (the compiled `plan`) in the open transaction of `session`.

    Loads are serialised: SQLite's BEGIN IMMEDIATE already does it; on PostgreSQL a
    transaction-scoped advisory lock does, so two loads sharing units or a plan never race."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(LOAD_LOCK)))
    number, is_new = _sync_plan_row(session, plan, content_hash, now)
    _sync_units(session, plan)
    sync_groups(session, plan)
    sync_plan_units(session, plan.id, {step.unit for step in steps})
    result = SyncResult(plan.id, number, is_new)
    audit = {"at": now, "actor": actor, "channel": channel}
    existing = {
        r.id: r
        for r in session.execute(
            select(
                steps_t.c.id,
                steps_t.c.fingerprint,
                steps_t.c.state,
                steps_t.c.revision,
                steps_t.c.cancel_reason,
                steps_t.c.extended_until,
                steps_t.c.timezone,
            ).where(steps_t.c.plan_id == plan.id)
        )
    }
    _rezone(session, plan, existing.values())
    # New steps (all of them in a first load) skip SQLAlchemy's per-row parameter work: their
    # rows are tuples of driver values, inserted straight through the DBAPI connection.
    connection = session.connection()
    dialect = connection.dialect.name
    maker = RowMaker(plan, dialect)
    stored_now, constants = maker.driver_moment(now), maker.constant_values(now)
    seen = {step.id for step in steps}
    if len(seen) != len(steps):
        raise ValueError(f"bước «{_repeated(steps)}» bị lặp trong kết quả biên dịch")
    rebuild: list[str] = []
    if dialect == "sqlite":
        _sqlite_load_pragmas(connection)
        rebuild = _sqlite_bulk_start(connection, existing, steps)
        if rebuild:  # ids in order: the primary key's index is appended to, not split
            steps = sorted(steps, key=_step_id)
    # the board's log (0014) would hold every row of a large load (and SQLite's bulk path
    # sets the steps' triggers aside): counted once, at the end, as a change not replayed
    unlogged = len(steps) >= UNLOGGED_MIN or bool(rebuild)
    if unlogged:
        session.execute(update(board_changes_t).values(unlogged=True))
    created_note = f"thêm từ kế hoạch (phiên bản {number})"
    pending = State.PENDING.value
    for chunk in batched(steps, CHUNK):
        updates: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = []
        new = [step for step in chunk if step.id not in existing] if existing else chunk
        inserts = _new_rows(maker, new, now)
        for step in chunk if existing else ():
            old = existing.get(step.id)
            if old is None:
                continue
            restoring = (
                old.state == State.CANCELLED  # cancelled by a load, now back
                and (old.cancel_reason or "").startswith(REMOVED)
            )
            if not restoring and maker.fingerprint(step) == old.fingerprint:
                result.kept += 1
                continue
            row = maker.make(step, now)
            state = State.PENDING.value if restoring else old.state
            row.update(
                _id=row["id"],
                revision=old.revision + 1,
                state=state,
                cancel_reason=None if restoring else old.cancel_reason,
                next_action_at=row["next_action_at"] if state == State.PENDING else None,
            )
            for key in ("id", "plan_id", "created_at", "done_at"):
                del row[key]
            updates.append(row)
            if restoring:
                result.restored += 1
            else:
                result.changed += 1
        _describe_changes(session, updates, existing, audit, number, notes)
        if inserts:
            if dialect == "sqlite":
                # The audit rows are copied from the steps just inserted (rowids above the
                # largest one before them) in one statement: no per-row parameters.
                last = connection.exec_driver_sql(SQLITE_LAST_ROWID).scalar()
                _sqlite_insert(connection, constants, inserts)
                connection.exec_driver_sql(
                    SQLITE_INSERT_CREATED,
                    (stored_now, actor, channel, pending, created_note, last or 0),
                )
            else:
                _pg_copy(
                    connection,
                    steps_t.name,
                    INSERT_COLUMNS,
                    [own + shared + constants for shared, owns in inserts for own in owns],
                )
                _pg_copy(
                    connection,
                    transitions_t.name,
                    CREATED_COLUMNS,
                    [
                        (
                            own[0],
                            stored_now,
                            actor,
                            channel,
                            "created",
                            None,
                            pending,
                            1,
                            created_note,
                        )
                        for _shared, owns in inserts
                        for own in owns
                    ],
                )
            result.added += len(new)
        if updates:
            session.execute(update(steps_t).where(steps_t.c.id == bindparam("_id")), updates)
            _follow_extensions(
                session,
                [u["_id"] for u in updates if existing[u["_id"]].extended_until is not None],
                now,
            )
        if notes:
            session.execute(insert(transitions_t), notes)
        if progress:
            progress(len(chunk))
    for ddl in rebuild:
        connection.exec_driver_sql(ddl)
    if dialect == "postgresql" and result.added >= ANALYZE_MIN:
        # PostgreSQL's advice after populating a database: until autovacuum gets round to it
        # the planner has no statistics of the new rows, and the tick's due-steps query then
        # reads every pending step (67 ms a batch instead of 8 with a million steps)
        for table in (steps_t.name, transitions_t.name):
            connection.exec_driver_sql(f"ANALYZE {table}")
    gone = [old for sid, old in existing.items() if sid not in seen and old.state == State.PENDING]
    reason = f"{REMOVED} (phiên bản {number})"
    for chunk in batched(gone, CHUNK):
        session.execute(
            update(steps_t).where(steps_t.c.id == bindparam("_id")),
            [
                {
                    "_id": o.id,
                    "state": State.CANCELLED.value,
                    "cancel_reason": reason,
                    "next_action_at": None,
                    "revision": o.revision + 1,
                    "updated_at": now,
                }
                for o in chunk
            ],
        )
        session.execute(
            insert(transitions_t),
            [
                _audit(
                    audit, o.id, "cancelled", o.state, State.CANCELLED.value, o.revision + 1, reason
                )
                for o in chunk
            ],
        )
        result.cancelled += len(chunk)
    result.kept += sum(
        1 for sid, o in existing.items() if sid not in seen and o.state != State.PENDING
    )
    if unlogged:
        connection.exec_driver_sql(BOARD_CHANGED)
    return result


SQLITE_LAST_ROWID = f"SELECT max(rowid) FROM {steps_t.name}"
SQLITE_INSERT_CREATED = (
    f"INSERT INTO {transitions_t.name} ({', '.join(CREATED_COLUMNS)}) "
    f"SELECT id, ?, ?, ?, 'created', NULL, ?, 1, ? FROM {steps_t.name} WHERE rowid > ? "
    "ORDER BY rowid"
)
#: A load's page cache on SQLite (KiB, as PRAGMA cache_size takes a negative number): the
#: indexes of a million new steps stay in memory instead of spilling to the WAL mid-load.
SQLITE_LOAD_CACHE_KIB = 256 * 1024


def _sqlite_load_pragmas(connection: Any) -> None:
    """A large page cache for the load's connection (kept by the pooled connection, which
    only grows it as pages are used). `synchronous` is left as it is: it cannot change inside
    the transaction, and the commit's fsync is a small part of a load."""
    size = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    if size is not None and (size >= 0 or -size < SQLITE_LOAD_CACHE_KIB):
        connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_LOAD_CACHE_KIB}")


#: A load that adds at least this many steps to a PostgreSQL database ends with ANALYZE
#: (in its transaction), and `settle` vacuums after it.
ANALYZE_MIN = 20_000


def settle(engine: Engine, result: SyncResult) -> None:
    """After a large load into PostgreSQL has committed: VACUUM the steps and their audit
    (sync_plan has analysed them already). Until autovacuum gets round to a million new
    rows, their pages are not marked all-visible, so the board's index-only scans (a list's
    total, a page by deadline) visit the table for every entry: /qua-han's first request
    took 585 ms instead of 395. VACUUM runs outside a transaction, so not in sync_plan's."""
    if engine.dialect.name != "postgresql" or result.added < ANALYZE_MIN:
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in (steps_t.name, transitions_t.name):
            connection.exec_driver_sql(f"VACUUM {table}")


#: A first load of at least this many steps into an empty SQLite database builds the
#: secondary indexes of steps and transitions once, at the end, instead of row by row.
SQLITE_BULK_MIN = 20_000


def _sqlite_bulk_start(
    connection: Any, existing: dict[str, Any], steps: Sequence[Step]
) -> list[str]:
    """For a large first load (no step and no transition stored yet): drop the secondary
    indexes (and triggers) of steps and transitions inside the load's transaction and return
    their DDL, to be run again once the rows are in (SQLite sorts once instead of splitting
    B-tree pages for every row). DDL is transactional: a failed load rolls back to the indexes
    it found; a reader keeps its snapshot. Otherwise nothing happens and the list is empty."""
    if existing or len(steps) < SQLITE_BULK_MIN:
        return []
    if connection.exec_driver_sql(
        f"SELECT EXISTS (SELECT 1 FROM {steps_t.name}) "
        f"OR EXISTS (SELECT 1 FROM {transitions_t.name})"
    ).scalar():
        return []
    found = connection.exec_driver_sql(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
        "AND sql IS NOT NULL AND tbl_name IN (?, ?) ORDER BY type, name",
        (steps_t.name, transitions_t.name),
    ).all()
    for kind, name, _sql in found:
        connection.exec_driver_sql(f'DROP {kind.upper()} "{name}"')
    # the steps' triggers (0011, 0014) count and log board changes per row: this load (at
    # least UNLOGGED_MIN steps) counts as one, at its end
    return [sql for _kind, _name, sql in found]


def _step_id(step: Step) -> str:
    return step.id


def _repeated(steps: Sequence[Step]) -> str:
    """The first step id that comes twice."""
    seen: set[str] = set()
    for step in steps:
        if step.id in seen:
            return step.id
        seen.add(step.id)
    raise AssertionError("no repeated step")


def _new_rows(
    maker: RowMaker, steps: Sequence[Step], now: datetime
) -> list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """New steps as (occurrence values, [step values, …]), one pair per run of consecutive
    steps of one occurrence (the compiler and the bulk load's id order keep them together)."""
    values = maker.step_values
    return [
        (maker.occurrence_values(group[0]), [values(step, now) for step in group])
        for group in (list(g) for _k, g in groupby(steps, key=_occurrence_id))
    ]


def _occurrence_id(step: Step) -> int:
    return id(step.occurrence)


#: Rows per INSERT statement on SQLite (`rows.sqlite_rows_statement`), if its limit of bound
#: parameters allows: 19 + 6 × 100 = 619 (SQLite allows 32,766 since 3.32, 999 before).
SQLITE_ROWS_PER_INSERT = 100


def _sqlite_insert(
    connection: Any,
    constants: tuple[Any, ...],
    inserts: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]],
) -> None:
    """New steps (`_new_rows`) by multi-row INSERTs on the session's own sqlite3 connection
    (same transaction), up to a hundred rows of one occurrence per statement."""
    driver = connection.connection.driver_connection
    shared = len(CONSTANT_COLUMNS) + len(OCCURRENCE_COLUMNS)
    limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    per = max(1, min(SQLITE_ROWS_PER_INSERT, (limit - shared) // len(STEP_COLUMNS)))
    cursor = driver.cursor()
    try:
        for occurrence, rows in inserts:
            head = constants + occurrence
            for start in range(0, len(rows), per):
                part = rows[start : start + per]
                cursor.execute(
                    sqlite_rows_statement(steps_t.name, len(part)),
                    [*head, *chain.from_iterable(part)],
                )
    finally:
        cursor.close()


def _pg_copy(
    connection: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """New rows by COPY … FROM STDIN on the session's own psycopg connection (same
    transaction): the server parses one stream instead of one INSERT per row. JSON columns
    are already text, which COPY's text format hands to jsonb as it is."""
    driver = connection.connection.driver_connection
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _follow_extensions(session: Session, step_ids: list[str], now: datetime) -> None:
    """A revised step that was granted more time keeps it: its next moment is counted from
    the extended deadline, as the tick counts it (extensions are rare: one row at a time)."""
    for chunk in batched(step_ids, IN_CHUNK):
        rows = session.execute(
            select(*(steps_t.c[c] for c in COLUMNS)).where(steps_t.c.id.in_(chunk))
        ).all()
        for row in rows:
            if row.state == State.PENDING:
                session.execute(
                    update(steps_t)
                    .where(steps_t.c.id == row.id)
                    .values(next_action_at=next_moment(facts(row), now))
                )


def _audit(
    base: dict[str, Any],
    step_id: str,
    event: str,
    before: str | None,
    after: str,
    revision: int,
    note: str | None,
) -> dict[str, Any]:
    return {
        **base,
        "step_id": step_id,
        "event": event,
        "from_state": before,
        "to_state": after,
        "revision": revision,
        "note": note,
    }


def _describe_changes(
    session: Session,
    updates: list[dict[str, Any]],
    existing: dict[str, Any],
    audit: dict[str, Any],
    number: int,
    notes: list[dict[str, Any]],
) -> None:
    """One audit row per updated step, naming what changed (old values read in one query)."""
    if not updates:
        return
    olds: dict[str, Any] = {}
    for ids in batched([u["_id"] for u in updates], IN_CHUNK):
        olds.update(
            (r.id, r)
            for r in session.execute(
                select(steps_t.c.id, *(steps_t.c[c] for c in CONTENT)).where(steps_t.c.id.in_(ids))
            )
        )
    for row in updates:
        before = existing[row["_id"]]
        if row["state"] != before.state:  # restored: the plan produces the step again
            event, text = "restored", f"trở lại trong kế hoạch (phiên bản {number})"
        else:
            event, text = "changed", f"kế hoạch đổi (phiên bản {number})"
        diff = _diff(olds[row["_id"]], row)
        notes.append(
            _audit(
                audit,
                row["_id"],
                event,
                before.state,
                row["state"],
                row["revision"],
                f"{text}: {diff}" if diff else text,
            )
        )


def _diff(old: Any, new: dict[str, Any]) -> str:
    parts = []
    for column, label in LABELS.items():
        a, b = getattr(old, column), new[column]
        if a == b:
            continue
        if column in ("due_date", "start_date", "due_time", "amount", "title"):
            parts.append(f"{label} {_show(a)} → {_show(b)}")
        else:
            parts.append(f"đổi {label}")
    return "; ".join(parts)


def _show(value: Any) -> str:
    if value is None:
        return "(không có)"
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return f"«{value}»" if isinstance(value, str) else str(value)


def _rezone(session: Session, plan: Plan, existing: Iterable[Any]) -> None:
    """Write the plan's zone into its stored steps that have another (or none: stored before
    migration 0012): a zone is not in a step's fingerprint, so an unchanged step keeps its row."""
    zone = plan.tz.key
    if any(old.timezone != zone for old in existing):
        session.execute(
            update(steps_t)
            .where(
                steps_t.c.plan_id == plan.id,
                or_(steps_t.c.timezone.is_(None), steps_t.c.timezone != zone),
            )
            .values(timezone=zone)
        )


def _sync_plan_row(session: Session, plan: Plan, digest: str, now: datetime) -> tuple[int, bool]:
    """The plan's version number for this content, and whether it is new."""
    current = session.execute(
        select(plans_t.c.current_version, plans_t.c.title, plans_t.c.file).where(
            plans_t.c.id == plan.id
        )
    ).one_or_none()
    if current is None:
        session.execute(
            insert(plans_t).values(
                id=plan.id,
                title=plan.title,
                file=plan.file,
                current_version=1,
                created_at=now,
                updated_at=now,
            )
        )
        number, is_new = 1, True
    else:
        last = session.execute(
            select(versions_t.c.content_hash).where(
                versions_t.c.plan_id == plan.id, versions_t.c.number == current.current_version
            )
        ).scalar_one_or_none()
        is_new = last != digest
        number = current.current_version + (1 if is_new else 0)
        if is_new or (current.title, current.file) != (plan.title, plan.file):
            session.execute(
                update(plans_t)
                .where(plans_t.c.id == plan.id)
                .values(title=plan.title, file=plan.file, current_version=number, updated_at=now)
            )
    if is_new:
        session.execute(
            insert(versions_t).values(
                plan_id=plan.id, number=number, content_hash=digest, file=plan.file, loaded_at=now
            )
        )
    return number, is_new


def _sync_units(session: Session, plan: Plan) -> None:
    """Insert the plan's units that are new; rename those whose name changed."""
    known: dict[str, str] = {}
    for ids in batched(plan.units, IN_CHUNK):
        known.update(
            session.execute(select(units_t.c.id, units_t.c.name).where(units_t.c.id.in_(ids))).all()
        )
    new = [{"id": u, "name": n} for u, n in plan.units.items() if u not in known]
    renamed = [{"_id": u, "name": n} for u, n in plan.units.items() if u in known and known[u] != n]
    if new:
        session.execute(insert(units_t), new)
    if renamed:
        session.execute(update(units_t).where(units_t.c.id == bindparam("_id")), renamed)


def stored_counts(session: Session, plan_ids: Iterable[str] | None = None) -> dict[str, int]:
    """How many steps are in each state (all plans, or the given ones)."""
    query = select(steps_t.c.state, func.count()).group_by(steps_t.c.state)
    if plan_ids is not None:
        query = query.where(steps_t.c.plan_id.in_(list(plan_ids)))
    counts = {s.value: 0 for s in State}
    counts.update(session.execute(query).all())
    return counts
