"""Engines and transactions from a URL: embedded SQLite by default, PostgreSQL by URL.

SQLite is set up for one writer and many readers sharing a file: WAL (readers never block
the writer) with synchronous=NORMAL, a busy timeout (a second writer waits instead of failing at once), foreign keys
on, 16 KiB pages in a new file (`SQLITE_PAGE_SIZE`), and `BEGIN IMMEDIATE` for transactions
that will write, so two writers queue at BEGIN instead of one failing with "database is
locked" half way after a read (SQLAlchemy's documented pysqlite recipe: sqlite3 stops
emitting BEGIN, we emit our own).

Settings are an injected mapping (`database_url(os.environ)` at the CLI edge only).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, Engine, any_, bindparam, create_engine, event, exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from .errors import DatabaseBusy, DatabaseUnavailable
from .types import json_dumps

DEFAULT_URL = "sqlite:///kehoach.sqlite3"
SETTING = "KEHOACH_DATABASE_URL"
BUSY_TIMEOUT = 10.0  # seconds
#: Execution option marking a connection that will write (→ BEGIN IMMEDIATE on SQLite).
WRITE = "kehoach_write"
#: The page size of a new SQLite file (bytes; SQLite's default is 4,096). Larger pages mean a
#: quarter of the system calls for the same bytes: a million-step load writes 1.2 GB to the
#: WAL and copies it again into the file at the checkpoint, and that I/O is most of its time.
#: It only applies while the file is empty: an existing database keeps its page size (in WAL
#: mode even VACUUM cannot change it).
SQLITE_PAGE_SIZE = 16_384


def among(session: Session, column: ColumnElement[Any], values: Iterable[Any]
          ) -> ColumnElement[bool]:
    """`column IN values`, for lists of thousands (a tick's units): on PostgreSQL one array
    parameter (`= ANY(%s)`) instead of one parameter per value, which cost the server ~40 ms a
    thousand; elsewhere a plain IN. Its parameter is unique: two in one query do not clash."""
    wanted = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("among", wanted, unique=True,
                                        type_=postgresql.ARRAY(column.type)))
    return column.in_(wanted)


def database_url(settings: Mapping[str, str]) -> str:
    """The database URL from settings; the embedded SQLite file in the current folder if unset."""
    return settings.get(SETTING) or DEFAULT_URL


def make_engine(url: str, *, busy_timeout: float = BUSY_TIMEOUT, **kwargs: Any) -> Engine:
    """An engine for `url`; `sqlite:///file` and `postgresql+psycopg://…` are supported.

    `busy_timeout` (seconds) is how long a SQLite writer waits for another one."""
    kwargs.setdefault("json_serializer", json_dumps)
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        raise DatabaseUnavailable(f"địa chỉ cơ sở dữ liệu không hợp lệ: «{url}»; ví dụ "
                                  "sqlite:///kehoach.sqlite3 hoặc postgresql+psycopg://user@host/db"
                                  ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseUnavailable(f"không hỗ trợ cơ sở dữ liệu «{parsed.get_backend_name()}»; "
                                  "dùng sqlite:///tệp.sqlite3 hoặc postgresql+psycopg://…")
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, not psycopg2
    if parsed.get_backend_name() == "postgresql":
        args = {"connect_timeout": 10, **kwargs.pop("connect_args", {})}
        return create_engine(parsed, connect_args=args, pool_pre_ping=True, **kwargs)
    engine = create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, int(busy_timeout * 1000))
    return engine


def _configure_sqlite(engine: Engine, busy_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")  # only an empty file takes it
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            # WAL's recommended level: a commit is written to the WAL but not synced to disk
            # (checkpoints are): a killed process loses nothing committed, a power cut may
            # lose the last commits, never consistency. A full sync per commit cost 7–12 ms
            # here, more than the dispatcher's per-message «sending» mark can afford.
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE)
                             else "BEGIN")


def describe(engine: Engine) -> str:
    """The URL without its password, for messages."""
    return engine.url.render_as_string(hide_password=True)


def translate(error: exc.DBAPIError, engine: Engine) -> Exception:
    """A driver error as the store error a user can act on (or unchanged if it is a bug)."""
    text = str(error.orig) if error.orig is not None else str(error)
    if "database is locked" in text or "database is busy" in text:
        return DatabaseBusy(f"cơ sở dữ liệu {describe(engine)} đang bị một tiến trình khác khóa; "
                            "hãy thử lại sau")
    if isinstance(error, exc.OperationalError | exc.InterfaceError):
        reason = text.strip().splitlines()[0] if text.strip() else type(error.orig).__name__
        return DatabaseUnavailable(f"không kết nối được cơ sở dữ liệu {describe(engine)}: {reason}")
    return error


@contextmanager
def friendly_errors(engine: Engine) -> Iterator[None]:
    """Turn connection and locking failures into DatabaseUnavailable / DatabaseBusy."""
    try:
        yield
    except exc.DBAPIError as error:
        translated = translate(error, engine)
        if translated is error:
            raise
        raise translated from error


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One write transaction: committed on success, rolled back on any error.

    On SQLite it starts with BEGIN IMMEDIATE, so the write lock is taken before the first read.
    """
    writer = engine.execution_options(**{WRITE: True})
    with (friendly_errors(engine), Session(writer, expire_on_commit=False) as session,
          session.begin()):
        yield session


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A read-only unit of work (a plain BEGIN on SQLite: it never blocks the writer in WAL)."""
    with friendly_errors(engine), Session(engine) as session, session.begin():
        yield session
