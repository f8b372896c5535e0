"""The board's actions on a step, for the pages and the API alike: checked against the
person's scope, then one `kehoach.store.actions` call in one write transaction (channel
"web", actor: the person's name). A step outside the scope is "not found", as an unknown one.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Engine

from kehoach import store
from kehoach.store import actions
from kehoach.store.errors import StepNotFound

from .auth import Viewer
from .errors import NotFound
from .queries import StepView, in_scope, step_view

CHANNEL = "web"


class BoardAction(StrEnum):
    DONE = "done"
    GRANT = "grant"
    REFUSE = "refuse"
    EXCUSE = "excuse"


DONE_MESSAGES = {
    BoardAction.DONE: "Đã đánh dấu hoàn thành.",
    BoardAction.GRANT: "Đã cho gia hạn",
    BoardAction.REFUSE: "Đã từ chối gia hạn",
    BoardAction.EXCUSE: "Đã miễn",
}


def perform(
    engine: Engine,
    viewer: Viewer,
    step_id: str,
    action: BoardAction,
    now: datetime,
    *,
    note: str | None = None,
    reason: str | None = None,
    until: date | None = None,
) -> str:
    """Do `action` on the step; the audit note it wrote (a Vietnamese sentence)."""
    with store.write_session(engine) as session:
        if not in_scope(session, viewer.scope, step_id):
            raise StepNotFound(step_id)
        who = viewer.name
        if action == BoardAction.DONE:
            actions.mark_done(session, step_id, who, CHANNEL, now, note or None)
            return DONE_MESSAGES[action]
        if action == BoardAction.GRANT:
            result = actions.grant_extension(
                session, step_id, until, who, CHANNEL, now, note or None
            )
        elif action == BoardAction.REFUSE:
            result = actions.refuse_extension(session, step_id, reason or "", who, CHANNEL, now)
        else:
            result = actions.excuse(session, step_id, reason or "", who, CHANNEL, now)
    return f"{DONE_MESSAGES[action]}: {result.note}."


def read_step(engine: Engine, viewer: Viewer, step_id: str, now: datetime) -> StepView:
    """The step's view for `viewer`; NotFound when it does not exist or is out of scope."""
    with store.read_session(engine) as session:
        view = step_view(session, viewer.scope, step_id, now)
    if view is None:
        raise NotFound(f"Không có bước «{step_id}» trong các đơn vị bạn được xem.")
    return view
