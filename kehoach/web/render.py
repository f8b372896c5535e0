"""Jinja2 pages: autoescaped HTML (a step title with `<script>` shows as text), StrictUndefined
(a missing variable is a bug found by the tests, not an empty cell), Vietnamese filters."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from engine import vi
from engine.model import ZONE as VN

HERE = Path(__file__).parent


def _day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value.astimezone(VN):%d/%m/%Y %H:%M}"
    return f"{value:%d/%m/%Y}"


def _clock(value: time | None) -> str:
    return vi.clock(value)


def _money(value: int | None) -> str:
    return "" if value is None else vi.money(value)


def _cell(value: object) -> str:
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return "" if value is None else str(value)


environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(cell=_cell, day=_day, clock=_clock, money=_money, weekday=vi.day)
templates = Jinja2Templates(env=environment)


def has_template(name: str) -> bool:
    return (HERE / "templates" / name).is_file()


def page(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render `name` with the viewer, the CSRF token and the flash message of the session."""
    from kehoach.web.auth import csrf_token

    session = request.scope.get("session")
    flash = session.pop("flash", None) if session is not None else None
    full = {
        "viewer": request.state.viewer if hasattr(request.state, "viewer") else None,
        "csrf": csrf_token(request) if session is not None else "",
        "flash": flash,
        "path": request.url.path,
        **context,
    }
    return templates.TemplateResponse(request, name, full, status_code=status, headers=headers)
