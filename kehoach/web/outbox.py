"""The board's «Tin chưa gửi được» page: the notices to the viewer's units that did not
certainly reach anyone (`unknown`, `failed`; kehoach/store/queue.py), and a resend action.

    GET  /tin-chua-gui?state=unknown          the list (default: unknown and failed)
    POST /tin-chua-gui/gui-lai  id=12&id=15   back to pending, audited (who: the viewer, "web")

A row outside the viewer's units is neither shown nor resent (the same scope as the lists).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kehoach import store
from kehoach.store import queue

from .auth import Viewer, viewer
from .errors import Invalid
from .render import page

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
Seen = Annotated[Viewer, Depends(viewer)]
PATH = "/tin-chua-gui"
LIMIT = 500
CHOICES = {"": ("unknown", "failed"), "unknown": ("unknown",), "failed": ("failed",)}


@router.get(PATH)
def undelivered_page(
    request: Request, v: Seen, state: Annotated[Literal["", "unknown", "failed"], Query()] = ""
) -> Response:
    with store.read_session(request.app.state.engine) as session:
        rows = queue.undelivered(session, queue.Filter(CHOICES[state], units=v.scope, limit=LIMIT))
    return page(
        request,
        "outbox.html",
        {
            "title": "Tin chưa gửi được",
            "rows": rows,
            "state": state,
            "limit": LIMIT,
            "state_names": queue.STATES,
        },
    )


@router.post(PATH + "/gui-lai")
def resend(request: Request, v: Seen, id: Annotated[list[str], Form()] = []) -> Response:  # noqa: B006
    try:
        ids = [int(i) for i in id]
    except ValueError:
        raise Invalid("Số của tin phải là số nguyên.") from None
    if not ids:
        raise Invalid("Hãy chọn ít nhất một tin để gửi lại.")
    with store.write_session(request.app.state.engine) as session:
        done = queue.retry(session, ids, v.name, "web", request.app.state.now(), units=v.scope)
    left = len(set(ids)) - len(done)
    request.session["flash"] = f"Đã đưa {len(done)} tin vào hàng chờ gửi lại" + (
        f"; {left} tin không gửi lại được (không có trong các đơn vị bạn được xem, "
        "hoặc đã được gửi lại)."
        if left
        else "."
    )
    return RedirectResponse(PATH, 303)
