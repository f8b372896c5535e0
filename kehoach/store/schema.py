"""Schema versions, managed by the Alembic migrations shipped inside the package.

No alembic.ini is needed in the current folder: the configuration is built here and points
at `kehoach/migrations` as package data. `upgrade(engine)` brings any database to the head
revision; `check_schema_current(engine)` is what every command that uses the store calls
first, so an old database is refused with the command that fixes it, not with a SQL error.

A new revision, after changing models.py: upgrade a scratch SQLite file to head, then run
`alembic.command.revision(config, message, autogenerate=True, rev_id="0002")` with
`config = alembic_config()` and `config.attributes["connection"]` set to a connection on it;
tidy the generated file like versions/0001_initial.py (script.py.mako is its template).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from .db import WRITE, friendly_errors
from .errors import SchemaOutdated

SCRIPT_LOCATION = "kehoach:migrations"


def alembic_config() -> Config:
    """The Alembic configuration, in code (`script_location` as a package resource)."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "kehoach/migrations has no revision"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with friendly_errors(engine), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _pragma(conn: Connection, setting: str) -> None:
    """Set a SQLite pragma on the driver's connection itself, outside any transaction."""
    raw = conn.connection.driver_connection
    assert raw is not None, "a connection that is checked out has its driver connection"
    raw.execute(f"PRAGMA {setting}")


@contextmanager
def migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction to run migrations on. SQLite: with foreign keys off
    (a batch migration rebuilds a table: dropping the old one must neither cascade nor fail
    on the rows that refer to it), checked with `PRAGMA foreign_key_check` before the commit
    and turned on again after it, the procedure of SQLite's ALTER TABLE documentation."""
    with friendly_errors(engine), engine.execution_options(**{WRITE: True}).connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # outside any transaction (it is a no-op inside one)
            _pragma(conn, "foreign_keys = OFF")
        try:
            with conn.begin():
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration left foreign keys broken: {broken[:5]}")
        finally:
            if sqlite:
                _pragma(conn, "foreign_keys = ON")


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate the database to `revision` in one transaction; (before, after) revisions."""
    config = alembic_config()
    with migrating(engine) as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        config.attributes["connection"] = conn  # env.py runs on this connection
        command.upgrade(config, revision)
        after = MigrationContext.configure(conn).get_current_revision()
    return before, after


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database back to `revision` in one transaction (tests, and an operator
    undoing an upgrade)."""
    config = alembic_config()
    with migrating(engine) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def check_schema_current(engine: Engine) -> None:
    """Raise SchemaOutdated unless the database is at the head revision."""
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    raise SchemaOutdated(current, head, newer=current is not None and current not in known)
