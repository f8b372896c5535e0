"""The login page, logging in and out (routes; the rules are in auth.py)."""
from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .auth import authenticate, client_address, csrf_token
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
    return page(request, "login.html", {"title": "Đăng nhập", "next": _safe_next(next),
                                        "login": "", "error": None})


@router.post("/dang-nhap", include_in_schema=False)
def login(request: Request, login: Annotated[str, Form(max_length=120)] = "",
          password: Annotated[str, Form(max_length=1000)] = "",
          next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    now = request.app.state.now()
    limiter = request.app.state.limiter
    key = (login.strip().lower(), client_address(request))
    limiter.check(key, now)
    result = authenticate(request.app.state.engine, key[0], password, verify)
    if isinstance(result, str):
        limiter.failed(key, now)
        return page(request, "login.html", {"title": "Đăng nhập", "next": _safe_next(next),
                                            "login": login, "error": result}, status=401)
    limiter.succeeded(key)
    request.session.clear()  # a new session: no fixation of a token handed out before
    request.session.update(pid=result[0], pw=result[1], csrf=secrets.token_urlsafe(32))
    return RedirectResponse(_safe_next(next), 303)


@router.post("/dang-xuat", include_in_schema=False)
def logout(request: Request) -> Response:
    request.session.clear()
    request.session["flash"] = "Đã đăng xuất."
    return RedirectResponse("/dang-nhap", 303)
