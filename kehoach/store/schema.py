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

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

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


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate the database to `revision` in one transaction; (before, after) revisions."""
    config = alembic_config()
    with friendly_errors(engine), engine.execution_options(**{WRITE: True}).begin() as conn:
        before = MigrationContext.configure(conn).get_current_revision()
        config.attributes["connection"] = conn  # env.py runs on this connection
        command.upgrade(config, revision)
        after = MigrationContext.configure(conn).get_current_revision()
    return before, after


def check_schema_current(engine: Engine) -> None:
    """Raise SchemaOutdated unless the database is at the head revision."""
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    raise SchemaOutdated(current, head, newer=current is not None and current not in known)
