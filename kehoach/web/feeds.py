"""The calendar feeds over HTTP: `GET /lich/{token}.ics` (and `/lich/{token}`).

    app.include_router(feeds.router)     # reads app.state.engine, .settings, .now

A feed is built (calendars.feed) from its steps at most once per change: the cache keeps, per
scope, the bytes, their ETag and Last-Modified, the scope's change marker (count, latest write,
highest revision of its steps: one indexed aggregate) and the moment time alone would change
the content (a step falling due, a day more late, a cancelled step leaving). A request asks
the database only for the token and the marker; a client that has the bytes gets 304, one
that takes gzip (calendar apps do) gets the body gzipped once per build.

Unknown, revoked and malformed tokens all get the same bland 404; the token never reaches
a log (the app's access log hides /lich/…).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from sqlalchemy import Engine

from calendars.feed import Feed, last_modified, render, valid_until
from kehoach import store
from kehoach.settings import Settings
from kehoach.store import feeds
from kehoach.store.db import friendly_errors

MEDIA_TYPE = "text/calendar; charset=utf-8"
NOT_FOUND = b"Not Found\n"
#: Feeds kept built (least recently used leave first).
CACHE_SIZE = 256

router = APIRouter(tags=["lịch"])


@dataclass(frozen=True, slots=True)
class Built:
    """A feed's bytes as served, and what decides whether they are still true."""

    body: bytes
    etag: str  # strong: a hash of the bytes, quoted
    last_modified: datetime
    marker: tuple[Any, ...]
    valid_until: datetime | None
    gzipped: bytes = b""  # the body gzipped once (a 500-event feed: 480 → 30 KiB)

    @property
    def gzip_etag(self) -> str:
        """The gzipped representation's own strong ETag."""
        return self.etag[:-1] + '-gzip"'

    def fresh(self, marker: tuple[Any, ...], now: datetime) -> bool:
        return marker == self.marker and (self.valid_until is None or now < self.valid_until)


class FeedCache:
    """Built feeds by scope, rebuilt only when their steps change (module doc). One thread
    builds a given feed at a time; the others asking for it meanwhile wait and take its
    result, rather than building it again each (a burst of clients after a change)."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._built: OrderedDict[tuple[str, str, str], Built] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple[str, str, str], threading.Lock] = {}
        self.builds = 0  # how many times a feed was built (tests and bench read it)
        #: Requests for a live token answered from a built feed, and those that built it
        #: (`kehoach_feed_cache_hits_total`, `…_misses_total` on /metrics).
        self.hits = self.misses = 0

    def _cached(
        self, key: tuple[str, str, str], marker: tuple[Any, ...], now: datetime
    ) -> Built | None:
        with self._lock:
            built = self._built.get(key)
            if built is not None:
                self._built.move_to_end(key)
        return built if built is not None and built.fresh(marker, now) else None

    def get(self, engine: Engine, token: str, now: datetime, public_url: str) -> Built | None:
        """The feed of `token` at `now`; None when the token is malformed, unknown or revoked,
        or what it covered is gone. A cached feed costs two small queries (token, marker)."""
        with friendly_errors(engine), engine.connect() as conn:
            found = feeds.lookup(conn, token)
            if found is None:
                return None
            marker = feeds.change_marker(conn, *found)
        key = (*found, public_url)
        built = self._cached(key, marker, now)
        if built is None:
            with self._lock:
                building = self._building.setdefault(key, threading.Lock())
            with building:
                built = self._cached(key, marker, now)  # built by another thread meanwhile?
                if built is None:
                    self._count(hit=False)
                    built = self._build(engine, found, now, public_url)
                    if built is not None:
                        self._store(key, built)
                    return built
        self._count(hit=True)
        return built

    def _count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def _build(
        self, engine: Engine, found: tuple[str, str], now: datetime, public_url: str
    ) -> Built | None:
        with store.read_session(engine) as session:
            try:
                scope = feeds.describe_scope(session, *found)
            except feeds.FeedError:
                return None
            marker = feeds.change_marker(session, *found)
            steps = feeds.feed_steps(session, scope)
        body = render(steps, Feed(scope.name, public_url), now)
        return Built(
            body,
            '"' + hashlib.sha256(body).hexdigest()[:40] + '"',
            last_modified(steps, now),
            marker,
            valid_until(steps, now),
            gzip.compress(body, compresslevel=6, mtime=0),
        )

    def _store(self, key: tuple[str, str, str], built: Built) -> None:
        with self._lock:
            self.builds += 1
            self._built[key] = built
            self._built.move_to_end(key)
            while len(self._built) > self.size:
                self._built.popitem(last=False)


def _etags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header, weak ones as strong (RFC 9110: GET
    compares weakly)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def not_modified(headers: Mapping[str, str], built: Built) -> bool:
    """Whether the client's copy is this one: If-None-Match when sent, else
    If-Modified-Since (Last-Modified has whole seconds)."""
    match = headers.get("if-none-match")
    if match is not None:
        tags = _etags(match)
        return "*" in tags or built.etag in tags or built.gzip_etag in tags
    since = headers.get("if-modified-since")
    if since is None:
        return False
    try:
        moment = parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError):
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return built.last_modified.replace(microsecond=0) <= moment


def accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header takes gzip (not refused with q=0)."""
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "x-gzip"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def cache_of(app: FastAPI) -> FeedCache:
    """The app's feed cache (made at its first use: a request, or a scrape of /metrics)."""
    cache: FeedCache | None = getattr(app.state, "feed_cache", None)
    if cache is None:
        cache = app.state.feed_cache = FeedCache()
    return cache


def _now(request: Request) -> datetime:
    now: Callable[[], datetime] | None = getattr(request.app.state, "now", None)
    return now() if now is not None else datetime.now(UTC)


def serve(request: Request, token: str) -> Response:
    settings: Settings = request.app.state.settings
    public = settings.public_address
    built = cache_of(request.app).get(request.app.state.engine, token, _now(request), public)
    if built is None:
        return Response(NOT_FOUND, 404, media_type="text/plain; charset=utf-8")
    zipped = accepts_gzip(request.headers.get("accept-encoding", ""))
    headers = {
        "ETag": built.gzip_etag if zipped else built.etag,
        "Last-Modified": format_datetime(built.last_modified.astimezone(UTC), usegmt=True),
        "Cache-Control": "private, no-cache",
        "Vary": "Accept-Encoding",
        "Content-Disposition": 'inline; filename="kehoach.ics"',
    }
    if not_modified(request.headers, built):
        return Response(status_code=304, headers=headers)
    body = built.gzipped if zipped else built.body
    if zipped:
        headers["Content-Encoding"] = "gzip"
    headers["Content-Length"] = str(len(body))
    return Response(
        b"" if request.method == "HEAD" else body, 200, headers=headers, media_type=MEDIA_TYPE
    )


@router.api_route(
    "/lich/{token}.ics",
    methods=["GET", "HEAD"],
    summary="Lịch iCal của một địa chỉ bí mật",
    response_class=Response,
)
def feed_ics(request: Request, token: str) -> Response:
    return serve(request, token)


@router.api_route("/lich/{token}", methods=["GET", "HEAD"], include_in_schema=False)
def feed_plain(request: Request, token: str) -> Response:
    return serve(request, token)
