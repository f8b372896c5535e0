"""Engines and transactions from a URL: embedded SQLite by default, PostgreSQL by URL.

SQLite is set up for one writer and many readers sharing a file: WAL (readers never block
the writer) with synchronous=NORMAL, a busy timeout (a second writer waits instead of failing
at once), foreign keys on, 16 KiB pages in a new file (`SQLITE_PAGE_SIZE`), and `BEGIN
IMMEDIATE` for transactions that will write, so two writers queue at BEGIN instead of one
failing with "database is locked" half way after a read (SQLAlchemy's documented pysqlite
recipe: sqlite3 stops emitting BEGIN, we emit our own).

A writer that still finds the SQLite file locked after the busy timeout tries again a few
times, after a growing pause with jitter (`LOCK_RETRIES`), before the user is told: under a
loaded service SQLite's busy handler is not fair, and one unlucky writer can lose every race
for ten seconds while the others go through.

Driver errors are told as what they are (`translate`): a full disk, a read-only file, a lock
held elsewhere, a server that cannot be reached.

Settings are an injected mapping (`database_url(os.environ)` at the CLI edge only).
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Engine, any_, bindparam, create_engine, event, exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from .errors import DatabaseBusy, DatabaseFull, DatabaseReadOnly, DatabaseUnavailable
from .types import json_dumps

T = TypeVar("T")

log = logging.getLogger("kehoach.store")

DEFAULT_URL = "sqlite:///kehoach.sqlite3"
BUSY_TIMEOUT = 10.0  # seconds
#: A writer finding SQLite locked after BUSY_TIMEOUT tries again this many times, pausing
#: LOCK_BACKOFF seconds, doubled each time (at most LOCK_BACKOFF_MAX), ±50 % jitter.
LOCK_RETRIES = 5
LOCK_BACKOFF, LOCK_BACKOFF_MAX = 0.1, 2.0
#: Execution option marking a connection that will write (→ BEGIN IMMEDIATE on SQLite).
WRITE = "kehoach_write"
#: The page size of a new SQLite file (bytes; SQLite's default is 4,096). Larger pages mean a
#: quarter of the system calls for the same bytes: a million-step load writes 1.2 GB to the
#: WAL and copies it again into the file at the checkpoint, and that I/O is most of its time.
#: It only applies while the file is empty: an existing database keeps its page size (in WAL
#: mode even VACUUM cannot change it).
SQLITE_PAGE_SIZE = 16_384


def among(
    session: Session | Connection, column: ColumnElement[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """`column IN values`, for lists of thousands (a tick's units): on PostgreSQL one array
    parameter (`= ANY(%s)`) instead of one parameter per value, which cost the server ~40 ms a
    thousand; elsewhere a plain IN. Its parameter is unique: two in one query do not clash."""
    wanted = list(values)
    bind = session.get_bind() if isinstance(session, Session) else session
    if bind.dialect.name == "postgresql":
        return column == any_(
            bindparam("among", wanted, unique=True, type_=postgresql.ARRAY(column.type))
        )
    return column.in_(wanted)


def database_url(url: str | None) -> str:
    """The database URL (KEHOACH_DATABASE_URL); the embedded SQLite file in the current folder
    if unset."""
    return url or DEFAULT_URL


def make_engine(url: str, *, busy_timeout: float = BUSY_TIMEOUT, **kwargs: Any) -> Engine:
    """An engine for `url`; `sqlite:///file` and `postgresql+psycopg://…` are supported.

    `busy_timeout` (seconds) is how long a SQLite writer waits for another one."""
    kwargs.setdefault("json_serializer", json_dumps)
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        raise DatabaseUnavailable(
            f"địa chỉ cơ sở dữ liệu không hợp lệ: «{url}»; ví dụ "
            "sqlite:///kehoach.sqlite3 hoặc postgresql+psycopg://user@host/db"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseUnavailable(
            f"không hỗ trợ cơ sở dữ liệu «{parsed.get_backend_name()}»; "
            "dùng sqlite:///tệp.sqlite3 hoặc postgresql+psycopg://…"
        )
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3, not psycopg2
    if parsed.get_backend_name() == "postgresql":
        args = {"connect_timeout": 10, **kwargs.pop("connect_args", {})}
        return create_engine(parsed, connect_args=args, pool_pre_ping=True, **kwargs)
    engine = create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        _create_private(parsed.database)
        _configure_sqlite(engine, int(busy_timeout * 1000))
    return engine


def _create_private(database: str | None) -> None:
    """Create a new SQLite file readable by its owner only (0600), before SQLite would create
    it world-readable; its -wal and -shm files take the same mode. An existing file is left
    as it is; a missing folder is SQLite's error to report."""
    if database in (None, "", ":memory:") or database.startswith("file:"):
        return
    with suppress(OSError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


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
        conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN"
        )


def describe(engine: Engine) -> str:
    """The URL without its password, for messages."""
    return engine.url.render_as_string(hide_password=True)


#: SQLite's primary result codes (sqlite3.h), as sqlite3 errors carry them.
SQLITE_FULL, SQLITE_READONLY, SQLITE_BUSY, SQLITE_LOCKED = 13, 8, 5, 6
SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_PERM = 10, 14, 3
#: Free bytes under which the disk of a SQLite file counts as full.
DISK_FULL_BELOW = 256 * 1024


def _codes(error: exc.DBAPIError) -> tuple[int | None, str]:
    """The driver's own code: SQLite's primary result code, PostgreSQL's SQLSTATE."""
    orig = error.orig
    code = getattr(orig, "sqlite_errorcode", None)
    return (
        code & 0xFF if isinstance(code, int) else None,
        str(getattr(orig, "sqlstate", None) or ""),
    )


def _sqlite_disk_full(engine: Engine) -> bool:
    """Is the disk under a SQLite file (nearly) full? A full disk may show as "disk I/O error"
    (the -shm file cannot grow) rather than SQLITE_FULL."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return False
    folder = os.path.dirname(os.path.abspath(database.removeprefix("file:").split("?")[0]))
    try:
        return shutil.disk_usage(folder).free < DISK_FULL_BELOW
    except OSError:  # no such folder: not a full disk
        return False


def is_locked(error: exc.DBAPIError) -> bool:
    """SQLite's "database is locked" (another writer held on past the busy timeout)."""
    code, _ = _codes(error)
    return code in (SQLITE_BUSY, SQLITE_LOCKED) or "database is locked" in str(error.orig)


def translate(error: exc.DBAPIError, engine: Engine) -> Exception:
    """A driver error as the store error a user can act on (or unchanged if it is a bug).

    Disk full, read-only, locked and unreachable are told apart by the driver's code (SQLite
    result code, PostgreSQL SQLSTATE), the message text as a fallback."""
    text = str(error.orig) if error.orig is not None else str(error)
    reason = text.strip().splitlines()[0] if text.strip() else type(error.orig).__name__
    where = describe(engine)
    code, state = _codes(error)
    lowered = text.lower()
    if (
        code == SQLITE_FULL
        or state == "53100"
        or "no space left on device" in lowered
        or "database or disk is full" in lowered
        or (code in (SQLITE_IOERR, SQLITE_CANTOPEN) and _sqlite_disk_full(engine))
    ):
        return DatabaseFull(
            f"đĩa chứa cơ sở dữ liệu {where} đã đầy, không ghi được; hãy giải "
            f"phóng chỗ trống trên đĩa rồi thử lại ({reason})"
        )
    if (
        code in (SQLITE_READONLY, SQLITE_PERM)
        or state == "25006"
        or "readonly database" in lowered
        or "read-only" in lowered
    ):
        return DatabaseReadOnly(
            f"cơ sở dữ liệu {where} chỉ cho đọc, không ghi được; hãy kiểm "
            f"tra quyền ghi tệp và thư mục của nó ({reason})"
        )
    if is_locked(error) or state in ("55P03", "40P01") or "database is busy" in lowered:
        return DatabaseBusy(
            f"cơ sở dữ liệu {where} đang bị một tiến trình khác khóa; hãy thử lại sau"
        )
    if code == SQLITE_IOERR:
        return DatabaseUnavailable(f"đọc ghi đĩa thất bại ở cơ sở dữ liệu {where}: {reason}")
    if isinstance(error, exc.OperationalError | exc.InterfaceError):
        return DatabaseUnavailable(f"không kết nối được cơ sở dữ liệu {where}: {reason}")
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


def _begun_writer(engine: Engine) -> Session:
    """A session whose write transaction has begun (on SQLite: BEGIN IMMEDIATE, the write
    lock held). A SQLite file still locked after the busy timeout is tried again
    `LOCK_RETRIES` times, after a growing pause; nothing of the caller's work has run yet, so
    trying again is safe. Then the error goes up (friendly_errors: DatabaseBusy)."""
    writer = engine.execution_options(**{WRITE: True})
    pause = LOCK_BACKOFF
    for attempt in range(LOCK_RETRIES + 1):
        session = Session(writer, expire_on_commit=False)
        try:
            session.begin()
            session.connection()  # BEGIN (IMMEDIATE): the lock is taken here
            return session
        except exc.OperationalError as error:
            session.close()
            if not is_locked(error) or attempt == LOCK_RETRIES:
                raise
        except BaseException:
            session.close()
            raise
        log.info("cơ sở dữ liệu đang bị khóa; thử lại lần %d sau %.1f giây", attempt + 1, pause)
        time.sleep(pause * random.uniform(0.5, 1.5))  # jitter, not a secret
        pause = min(pause * 2, LOCK_BACKOFF_MAX)
    raise AssertionError("unreachable")


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One write transaction: committed on success, rolled back on any error.

    On SQLite it starts with BEGIN IMMEDIATE, so the write lock is taken before the first read
    (and a lock held elsewhere past the busy timeout is waited for again, `_begun_writer`).
    """
    with friendly_errors(engine):
        session = _begun_writer(engine)
        # _begun_writer began it: get_transaction() is not None here
        with session, session.get_transaction():  # type: ignore[union-attr]
            yield session


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A read-only unit of work (a plain BEGIN on SQLite: it never blocks the writer in WAL)."""
    with friendly_errors(engine), Session(engine) as session, session.begin():
        yield session


def writing(engine: Engine, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`work(session, *args, **kwargs)` in a write transaction of its own (the chat bots'
    actions, each run in a thread)."""
    with write_session(engine) as session:
        return work(session, *args, **kwargs)


def reading(engine: Engine, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`work(session, *args, **kwargs)` in a read transaction of its own."""
    with read_session(engine) as session:
        return work(session, *args, **kwargs)
