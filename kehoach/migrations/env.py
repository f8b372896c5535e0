"""Alembic environment: runs on the connection `kehoach.store.schema` hands it.

Without one (an `alembic` command line run by a developer) it connects to
KEHOACH_DATABASE_URL, or the embedded default, itself.

Tables that are not the models' are left alone: APScheduler's job store
(`kehoach_apscheduler_jobs`, created by the clock on the same database) is not in
`Base.metadata`, and autogenerate must never propose dropping it.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from kehoach.settings import Settings
from kehoach.store.db import database_url, make_engine
from kehoach.store.models import Base

config = context.config
target_metadata = Base.metadata
#: Tables on the database that belong to someone else (kehoach.clock.JOB_TABLE).
FOREIGN_TABLES = frozenset({"kehoach_apscheduler_jobs"})


def include_name(name: str | None, type_: str, _parents: dict[str, Any]) -> bool:
    """Reflect no table (nor its indexes) that the models do not own."""
    return not (type_ == "table" and name in FOREIGN_TABLES)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, _compare_to: Any
) -> bool:
    """Belt and braces for include_name: never compare a foreign table or its indexes."""
    if type_ == "table":
        return name not in FOREIGN_TABLES
    table = getattr(obj, "table", None)
    return table is None or table.name not in FOREIGN_TABLES


OPTIONS: dict[str, Any] = {
    "target_metadata": target_metadata,
    "render_as_batch": True,
    "include_name": include_name,
    "include_object": include_object,
}


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(database_url(Settings.load().database_url))
    with engine.begin() as conn:
        context.configure(connection=conn, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=database_url(Settings.load().database_url), literal_binds=True, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_online()
