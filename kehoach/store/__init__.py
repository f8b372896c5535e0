"""The store: compiled steps kept in SQLite (embedded default) or PostgreSQL.

Not imported by `engine/` (the core stays free of SQLAlchemy); the CLI and, later, the
`serve` entry point wire it up from settings:

    engine = make_engine(database_url(os.environ))
    check_schema_current(engine)
    with write_session(engine) as session:
        sync_plan(session, plan, compile_plan(plan, WorkingCalendar()), now=now,
                  content_hash=file_digest(plan.file))
"""

from __future__ import annotations

from .actions import mark_done
from .db import (
    DEFAULT_URL,
    database_url,
    describe,
    make_engine,
    read_session,
    reading,
    write_session,
    writing,
)
from .dispatch import DispatchResult, dispatch
from .errors import (
    ConcurrentChange,
    DatabaseBusy,
    DatabaseUnavailable,
    SchemaOutdated,
    StepNotFound,
    StepStateError,
    StoreError,
)
from .rows import next_action_at
from .schema import check_schema_current, current_revision, head_revision, upgrade
from .sync import SyncResult, file_digest, settle, stored_counts, sync_plan
from .tick import TickResult, facts, tick

__all__ = [
    "DEFAULT_URL",
    "ConcurrentChange",
    "DatabaseBusy",
    "DatabaseUnavailable",
    "DispatchResult",
    "SchemaOutdated",
    "StepNotFound",
    "StepStateError",
    "StoreError",
    "SyncResult",
    "TickResult",
    "check_schema_current",
    "current_revision",
    "database_url",
    "describe",
    "dispatch",
    "facts",
    "file_digest",
    "head_revision",
    "make_engine",
    "mark_done",
    "next_action_at",
    "read_session",
    "reading",
    "settle",
    "stored_counts",
    "sync_plan",
    "tick",
    "upgrade",
    "write_session",
    "writing",
]
