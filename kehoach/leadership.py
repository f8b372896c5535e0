"""Leadership: exactly one process runs the clock; when it dies, another takes over. The same
lock, under another `topic`, elects the one process that talks to Telegram for a bot token
(kehoach.serve.sender_loop).

Each is a lock that the database or the kernel drops when its holder dies, tried without
blocking and polled by the processes that do not hold it:

- PostgreSQL: a session-level `pg_try_advisory_lock` on a connection held for the process's
  life, keyed by database, schema and topic (two kehoach schemas on one server have two
  clocks);
- SQLite (one machine): `fcntl.flock` on a file beside the database (`….sqlite3.clock`,
  `….sqlite3.TOPIC`);
- an in-memory SQLite database belongs to one process, which always leads.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
from contextlib import suppress
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("kehoach.leadership")


class Leadership(Protocol):
    def try_acquire(self) -> bool: ...  # non-blocking; True while this process holds it
    def still_held(self) -> bool: ...
    def release(self) -> None: ...


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for `name`."""
    return int.from_bytes(
        hashlib.blake2b(f"kehoach clock {name}".encode(), digest_size=8).digest(),
        "big",
        signed=True,
    )


class PostgresLeadership:
    """A session-level advisory lock on a connection kept open for the process's life."""

    def __init__(self, engine: Engine, topic: str | None = None):
        self.engine, self.topic, self.key, self.held = engine, topic, 0, False
        self.conn: Connection | None = None

    def _connection(self) -> Connection:
        if self.conn is None:
            self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            db, schema = self.conn.exec_driver_sql(
                "SELECT current_database(), current_schema()"
            ).one()
            self.key = lock_key(f"{db}/{schema}" + (f"/{self.topic}" if self.topic else ""))
        return self.conn

    def _drop(self) -> None:
        self.held = False
        if self.conn is not None:
            with suppress(Exception):  # the connection is already broken
                self.conn.invalidate()
                self.conn.close()
            self.conn = None

    def try_acquire(self) -> bool:
        if self.held:
            return self.still_held()
        try:
            conn = self._connection()
            self.held = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
            )
        except Exception as exc:  # noqa: BLE001  the server is away: not leader, try later
            log.warning("không kiểm tra được quyền giữ %s: %s", self.topic or "đồng hồ", exc)
            self._drop()
        return self.held

    def still_held(self) -> bool:
        try:  # this connection holds only this lock
            assert self.conn is not None
            self.held = bool(
                self.conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND pid = pg_backend_pid()"
                    )
                ).scalar()
            )
        except Exception:  # noqa: BLE001  connection lost: so is the lock
            self._drop()
        return self.held

    def release(self) -> None:
        if self.held and self.conn is not None:
            with suppress(Exception):  # closing the connection releases it anyway
                self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.held = False


class FileLeadership:
    """An exclusive `flock` on a file; the kernel releases it when the holder dies."""

    def __init__(self, path: Path):
        self.path = path
        self.file: IO[bytes] | None = None

    def try_acquire(self) -> bool:
        if self.file is not None:
            return True
        handle = open(self.path, "ab")  # noqa: SIM115  kept open for the process's life
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self.file = handle
        return True

    def still_held(self) -> bool:
        return self.file is not None

    def release(self) -> None:
        if self.file is not None:
            fcntl.flock(self.file.fileno(), fcntl.LOCK_UN)
            self.file.close()
            self.file = None


class AlwaysLeader:
    """An in-memory SQLite database belongs to one process: it always leads."""

    def try_acquire(self) -> bool:
        return True

    def still_held(self) -> bool:
        return True

    def release(self) -> None:
        pass


def leadership_for(engine: Engine, topic: str | None = None) -> Leadership:
    """The clock's lock, or with `topic` (letters, digits, dashes) another one of its kind."""
    if engine.dialect.name == "postgresql":
        return PostgresLeadership(engine, topic)
    database = engine.url.database
    if database in (None, "", ":memory:"):
        return AlwaysLeader()
    return FileLeadership(Path(f"{database}.{topic or 'clock'}"))
