"""Who is looking: login, sessions, CSRF, roles.

- Sessions are kept in the database (sessions.py): Starlette's signed cookie (itsdangerous)
  holds only a random session id and a CSRF token; every request looks the id up, so logout,
  a new password and `kehoach person logout LOGIN` end a session for good, copied cookies too.
- The signing key is KEHOACH_SECRET_KEY; when unset, `secret_key` generates one once and keeps
  it in a file beside the SQLite database (`kehoach.sqlite3.secret-key`, mode 0600), or in the
  current folder for PostgreSQL (`kehoach-secret-key`): no migration, and a restart keeps
  everyone logged in. Several machines sharing one PostgreSQL must set KEHOACH_SECRET_KEY.
- Every POST carries the session's CSRF token (form field `csrf`, or header `X-CSRF-Token`
  for the API): `csrf_guard` is an app-wide dependency, so no form can forget it.
- Failed logins are counted per login and client address (5 in 15 minutes → 429) and per
  address over every login (20 in 15 minutes → 429). Password hashing (Argon2id, 64 MiB each)
  runs at most HASH_SLOTS at a time; a login waiting longer than HASH_WAIT seconds for a slot
  gets 429: a burst of logins cannot exhaust memory.
- The client address is the TCP peer; X-Forwarded-For counts only from the proxies named in
  KEHOACH_TRUSTED_PROXIES (addresses or networks, comma-separated; default none).
"""

from __future__ import annotations

import asyncio
import hmac
import math
import os
import secrets
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from threading import Lock

from fastapi import Request
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from kehoach import store
from kehoach.settings import Settings
from kehoach.store.directory import scope_units
from kehoach.store.models import BoardRole, people_table

from . import sessions
from .errors import CsrfRejected, Forbidden, NotLoggedIn, ServerBusy, TooManyAttempts

BOARD_ROLES = frozenset({BoardRole.SECRETARY, BoardRole.CLUSTER_HEAD, BoardRole.UNIT_SECRETARY})
CSRF_HEADER = "X-CSRF-Token"
#: Failed logins from one address, whatever the login, before it is blocked for the window.
ADDRESS_LIMIT = 20
#: Password hashes computed at once (64 MiB each), and how long a login waits for a slot.
HASH_SLOTS, HASH_WAIT = 2, 3.0


def secret_key_path(url: str) -> Path | None:
    """Where a generated key is kept for the database `url` (None: in memory only)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            return None
        return Path(f"{parsed.database}.secret-key")
    return Path("kehoach-secret-key")


def secret_key(settings: Settings, url: str) -> str:
    """The session signing key: the setting, else the kept one, else a new one kept."""
    if settings.secret_key:
        return settings.secret_key.get_secret_value()
    path = secret_key_path(url)
    if path is None:
        return secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as f:  # first start: the only writer (O_EXCL)
        f.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text(encoding="ascii").strip()


class LoginLimiter:
    """At most `limit` failed logins per key in `window`; time is passed in. Kept in memory:
    per process, forgotten on restart (a restart costs an attacker nothing they could not
    get by waiting 15 minutes)."""

    MAX_KEYS = 10_000

    def __init__(self, limit: int = 5, window: timedelta = timedelta(minutes=15)):
        self.limit, self.window = limit, window
        self.failures: dict[tuple[str, str], deque[datetime]] = defaultdict(deque)
        self.lock = Lock()

    def _recent(self, key: tuple[str, str], now: datetime) -> deque[datetime]:
        times = self.failures[key]
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def check(self, key: tuple[str, str], now: datetime) -> None:
        """Raise TooManyAttempts while the key is blocked."""
        with self.lock:
            times = self._recent(key, now)
            if len(times) >= self.limit:
                wait = max(1, math.ceil((times[0] + self.window - now).total_seconds()))
                minutes = math.ceil(wait / 60)
                raise TooManyAttempts(
                    f"Đăng nhập sai quá {self.limit} lần. Hãy thử lại sau {minutes} phút.",
                    {"Retry-After": str(wait)},
                )

    def failed(self, key: tuple[str, str], now: datetime) -> None:
        with self.lock:
            self._recent(key, now).append(now)
            if len(self.failures) > self.MAX_KEYS:  # many made-up logins: forget the stale
                for stale in [k for k, v in self.failures.items() if v[-1] <= now - self.window]:
                    del self.failures[stale]

    def succeeded(self, key: tuple[str, str]) -> None:
        with self.lock:
            self.failures.pop(key, None)


@dataclass(frozen=True)
class Viewer:
    """The logged-in person and the units they may see."""

    id: int
    name: str
    login: str
    board_role: str
    unit_id: str | None
    scope: frozenset[str]

    @property
    def role_name(self) -> str:
        from kehoach.store.people import ROLE_NAMES

        return ROLE_NAMES.get(BoardRole(self.board_role), self.board_role)


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use, also for the login form)."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


async def csrf_guard(request: Request) -> None:
    """App-wide dependency: a POST without the session's token is refused with 403."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get("csrf")
        given = value if isinstance(value, str) else None
    expected = request.session.get("csrf") if "session" in request.scope else None
    if not given or not expected or not hmac.compare_digest(str(given), str(expected)):
        raise CsrfRejected(
            "Biểu mẫu đã hết hạn hoặc không hợp lệ (thiếu mã chống giả mạo). "
            "Hãy tải lại trang rồi thử lại."
        )


def load_viewer(engine: Engine, sid: str, now: datetime) -> Viewer | None:
    """The person of a session, if they may still use the board; None when the session has
    ended (logout, new password, `kehoach person logout`, expired) or the person is inactive."""
    with store.read_session(engine) as session:
        p = sessions.person_of(session, sid, now)
        if p is None or not p.active or not p.login:
            return None
        if p.board_role not in BOARD_ROLES:
            raise Forbidden("Tài khoản này không có quyền vào trang quản lý.")
        units = frozenset(scope_units(session, p.id))
    return Viewer(p.id, p.name, p.login, p.board_role, p.unit_id, units)


def viewer(request: Request) -> Viewer:
    """Dependency: the logged-in viewer (NotLoggedIn otherwise); also on request.state."""
    sid = request.session.get("sid")
    if not isinstance(sid, str):
        raise NotLoggedIn("Cần đăng nhập để xem trang này.")
    found = load_viewer(request.app.state.engine, sid, request.app.state.now())
    if found is None:
        request.session.clear()
        raise NotLoggedIn("Phiên đăng nhập đã hết hiệu lực; hãy đăng nhập lại.")
    request.state.viewer = found
    return found


def client_address(request: Request) -> str:
    """The TCP peer (a trusted proxy's client when KEHOACH_TRUSTED_PROXIES names it)."""
    return request.client.host if request.client else "?"


@asynccontextmanager
async def hashing_slot(gate: asyncio.Semaphore) -> AsyncIterator[None]:
    """One of the HASH_SLOTS password-hashing slots; ServerBusy after HASH_WAIT seconds.
    Waiting happens in the event loop, so queued logins hold no worker thread."""
    try:
        async with asyncio.timeout(HASH_WAIT):
            await gate.acquire()
    except TimeoutError:
        raise ServerBusy(
            "Máy chủ đang bận kiểm tra các lần đăng nhập khác. Hãy thử lại sau ít giây.",
            {"Retry-After": "5"},
        ) from None
    try:
        yield
    finally:
        gate.release()


def authenticate(
    engine: Engine, login: str, password: str, check: Callable[[str | None, str], bool]
) -> int | str:
    """The person id for a good login, else the message to show."""
    with store.read_session(engine) as session:
        p = session.execute(select(people_table).where(people_table.c.login == login)).one_or_none()
    if not check(p.password_hash if p is not None else None, password) or p is None or not p.active:
        return "Sai tên đăng nhập hoặc mật khẩu."
    if p.board_role not in BOARD_ROLES:
        return (
            "Tài khoản này không có quyền vào trang quản lý (chỉ thư ký, cụm trưởng, bí thư "
            "đơn vị)."
        )
    return int(p.id)


def start_session(engine: Engine, person_id: int, now: datetime) -> str:
    """A new server-side session for the person; its id, for the cookie."""
    with store.write_session(engine) as session:
        return sessions.start(session, person_id, now)


def end_session(engine: Engine, sid: object) -> None:
    if isinstance(sid, str):
        with store.write_session(engine) as session:
            sessions.end(session, sid)
