"""The login page, logging in and out (routes; the rules are in auth.py)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from .auth import (
    authenticate,
    client_address,
    csrf_token,
    end_session,
    hashing_slot,
    start_session,
)
from .passwords import verify
from .render import page

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no //host, no scheme) may follow a login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/dang-nhap", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, next: str | None = None) -> Response:
    csrf_token(request)
    return page(
        request,
        "login.html",
        {"title": "Đăng nhập", "next": _safe_next(next), "login": "", "error": None},
    )


@router.post("/dang-nhap", include_in_schema=False)
async def login(
    request: Request,
    login: Annotated[str, Form(max_length=120)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    state = request.app.state
    now = state.now()
    address = client_address(request)
    key = (login.strip().lower(), address)
    state.limiter.check(key, now)
    state.address_limiter.check(("*", address), now)
    async with hashing_slot(state.hashing):
        result = await run_in_threadpool(authenticate, state.engine, key[0], password, verify)
    if isinstance(result, str):
        state.limiter.failed(key, now)
        state.address_limiter.failed(("*", address), now)
        return page(
            request,
            "login.html",
            {"title": "Đăng nhập", "next": _safe_next(next), "login": login, "error": result},
            status=401,
        )
    state.limiter.succeeded(key)
    sid = await run_in_threadpool(start_session, state.engine, result, now)
    request.session.clear()  # a new session: no fixation of a token handed out before
    request.session.update(sid=sid, csrf=secrets.token_urlsafe(32))
    return RedirectResponse(_safe_next(next), 303)


@router.post("/dang-xuat", include_in_schema=False)
def logout(request: Request) -> Response:
    end_session(request.app.state.engine, request.session.get("sid"))
    request.session.clear()
    request.session["flash"] = "Đã đăng xuất."
    return RedirectResponse("/dang-nhap", 303)
