"""The HTTP app: the secretaries' board, its JSON API, the calendar feeds, /healthz.

    app = create_app(settings, engine)          # kehoach serve runs it under uvicorn
    app.state.engine, app.state.settings        # what the routes (and feeds.py) read

`now` is injected (a callable), so a test can show the board as it is on any day;
`app.state.max_unit_choices` (queries.MAX_UNIT_CHOICES) can be lowered, so a test sees the
forms of a scope too large for a drop-down without loading thousands of units.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import time
import warnings
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from kehoach import store
from kehoach.settings import Settings

from . import (
    api,
    errors,
    exports,
    login,
    metrics,
    outbox,
    pages,
    plans,
    subscriptions,
    zalo_webhook,
)
from .auth import (
    ADDRESS_LIMIT,
    HASH_SLOTS,
    LoginLimiter,
    csrf_guard,
    secret_key,
)
from .queries import MAX_UNIT_CHOICES
from .render import HERE
from .security import Guard, loggable
from .sessions import LIFETIME

access_log = logging.getLogger("kehoach.http")
log = logging.getLogger("kehoach.web")


#: The board's routers, in the order they are matched.
ROUTERS = (
    login.router,
    pages.router,
    plans.router,
    subscriptions.router,
    outbox.router,
    exports.router,
    api.router,
)


def board_routes() -> list[APIRoute]:
    """Every route of the board (feeds excluded), for the tests' role and CSRF tables."""
    return [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]


def unique_operation_ids(doc: dict[str, Any]) -> dict[str, Any]:
    """FastAPI gives a route serving GET and HEAD one operationId for both; OpenAPI wants
    each unique: the second one gets its method appended."""
    seen: set[str] = set()
    for operations in doc.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            if operation["operationId"] in seen:
                operation["operationId"] += f"_{method}"
            seen.add(operation["operationId"])
    return doc


def utc_now() -> datetime:
    return datetime.now(UTC)


class AccessLog:
    """One JSON line per request: method, path (tokens hidden), status, duration in ms."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            access_log.info(
                json.dumps(
                    {
                        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                        "method": scope["method"],
                        "path": loggable(scope["path"]),
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                    }
                )
            )


def health(engine: Engine, wall: Callable[[], datetime] = utc_now) -> tuple[int, dict[str, Any]]:
    """(status, body) of /healthz: the database reachable, its schema current, and the clock
    ticking (its last successful tick at most a few periods old, store/heartbeat.py), at real
    time `wall()`. Anyone may ask, so a database failure says only what failed; the detail (the
    database's address) is logged."""
    from kehoach.store.heartbeat import clock_health

    try:
        store.check_schema_current(engine)
        with store.read_session(engine) as session:
            clock = clock_health(session, wall())
    except store.SchemaOutdated as exc:
        return 503, {"status": "error", "database": "ok", "schema": str(exc)}
    except store.StoreError as exc:
        log.error("/healthz: %s", exc)
        return 503, {
            "status": "error",
            "database": errors.PUBLIC_REASONS.get(type(exc), "không dùng được cơ sở dữ liệu"),
        }
    body = {
        "status": "ok" if clock.ok else "error",
        "database": "ok",
        "schema": store.head_revision(),
        "clock": clock.reason,
    }
    return (200 if clock.ok else 503), body


def create_app(
    settings: Settings | Mapping[str, str], engine: Engine, now: Callable[[], datetime] = utc_now
) -> FastAPI:
    settings = Settings.of(settings)
    app = FastAPI(
        title="kehoach",
        version="1",
        description="Trang quản lý và API của kehoach: việc quá hạn, sắp đến hạn, "
        "từng bước và các thao tác trên bước. Đăng nhập bằng trang "
        "/dang-nhap (cookie phiên); mỗi POST gửi kèm tiêu đề "
        "X-CSRF-Token (lấy ở GET /api/me).",
        dependencies=[Depends(errors.reject_nul), Depends(csrf_guard)],
        docs_url=None,
        redoc_url=None,  # no CDN scripts: the JSON is enough
        openapi_url="/openapi.json",
    )
    app.state.engine, app.state.settings, app.state.now = engine, settings, now
    app.state.limiter = LoginLimiter()
    app.state.address_limiter = LoginLimiter(limit=ADDRESS_LIMIT)
    app.state.hashing = asyncio.Semaphore(HASH_SLOTS)
    app.state.max_unit_choices = MAX_UNIT_CHOICES
    errors.install(app)
    public = settings.public_url or ""
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(settings, str(engine.url)),
        session_cookie="kehoach_phien",
        max_age=int(LIFETIME.total_seconds()),
        same_site="lax",
        https_only=public.startswith("https://"),
    )
    app.add_middleware(Guard, settings=settings)
    if settings.trusted_proxies:  # uvicorn's own proxy handling is off (server.make_server)
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.add_middleware(AccessLog)
    metrics.install(app, engine, now)  # GET /metrics (Prometheus), HTTP timing

    @app.get(
        "/healthz",
        tags=["hệ thống"],
        summary="Tình trạng: CSDL kết nối được, lược đồ mới nhất, đồng hồ còn nhịp",
    )
    def healthz() -> JSONResponse:
        status, body = health(engine)
        return JSONResponse(body, status)

    app.mount("/tinh", StaticFiles(directory=HERE / "static"), name="static")
    if zalo_webhook.wanted(settings):  # Zalo's updates (its own secret header, no CSRF form)
        app.mount("/zalo", zalo_webhook.webhook_app(settings, engine, now), name="zalo")
    for router in ROUTERS:
        app.include_router(router)
    # The calendar feeds (/lich/{token}.ics) are built beside the board, in their own module;
    # the board runs without them while that module is not there yet.
    if importlib.util.find_spec("kehoach.web.feeds") is not None:
        from kehoach.web import feeds

        app.include_router(feeds.router)
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            with warnings.catch_warnings():  # "Duplicate Operation ID": fixed just below
                warnings.filterwarnings("ignore", "Duplicate Operation ID", UserWarning)
                app.openapi_schema = unique_operation_ids(build_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it
    return app
