"""What a chat bot's buttons, replies and commands do in the store, for any chat channel (sync:
a bot runs these in a thread). `channel` (the registry's name, kehoach/channels.py) is what
the actions record as the way they came.

Every action is for the person linked to the chat that pressed, and only when that person may
act on the step: its unit is in their scope (`directory.scope_units`: their own unit, a
cluster head's members, a secretary's plans) or their unit is its approver (the first unit
above it on its escalation ladder; the plan's issuer when the ladder names none). Deciding an
extension is for the approver or a scope above the step's own unit, never the unit itself.
The actions are the store's own (`kehoach.store.actions`, actor the person's name), so the
CLI, the board and the bots refuse the same things with the same words.
An extension request and its answer are told through the outbox (purposes
`extension_asked`, `extension_decided`), so they are retried, rate-limited and fall back to
e-mail like any notification.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.model import ZONE
from kehoach.channels import label as channel_label
from kehoach.store import actions
from kehoach.store.directory import FALLBACK, routes, scope_units
from kehoach.store.errors import StoreError
from kehoach.store.models import outbox_table, plans_table, queued, steps_table, units_table
from kehoach.store.tick import facts, queue_outbox
from notifiers.base import Notification, Recipient
from notifiers.rendering import DEFAULT_PUBLIC_URL, clip
from notifiers.telegram_render import (
    DONE,
    DONE_LABEL,
    INFO,
    INFO_LABEL,
    Part,
    render,
    split,
    vn_deadline,
)
from workflows.lifecycle import LATE, Action, ActionRefused, State, check, status

Buttons = list[list[tuple[str, str]]]


class Refused(Exception):
    """Said to the person who pressed (an alert), nothing changed. `ask_again`: the date
    given cannot be (past, not after the deadline): the chat may offer another."""

    def __init__(self, message: str, ask_again: bool = False):
        super().__init__(message)
        self.ask_again = ask_again


@dataclass
class Outcome:
    """What the bot says back: `answer` to the button press, `edit` the pressed message's new
    text (with `buttons`), `reply` a new message in the chat."""

    answer: str = ""
    edit: str | None = None
    buttons: Buttons = field(default_factory=list)
    reply: str | None = None


def details_button(outbox_id: int) -> Buttons:
    return [[(INFO_LABEL, f"{INFO}:{outbox_id}")]]


# ── reading ─────────────────────────────────────────────────────────────────────────────────


def outbox_row(session: Session, outbox_id: int) -> Any:
    row = session.execute(select(outbox_table).where(outbox_table.c.id == outbox_id)).one_or_none()
    if row is None or row.step_id is None:
        raise Refused("Không tìm thấy việc của tin này.")
    return row


def step_row(session: Session, step_id: str) -> Any:
    row = session.execute(select(steps_table).where(steps_table.c.id == step_id)).one_or_none()
    if row is None:
        raise Refused("Không tìm thấy việc này (có thể kế hoạch đã đổi).")
    return row


def unit_name(session: Session, unit: str | None) -> str:
    if unit is None:
        return ""
    return (
        session.execute(
            select(units_table.c.name).where(units_table.c.id == unit)
        ).scalar_one_or_none()
        or unit
    )


def approver_units(session: Session, step: Any) -> set[str]:
    """The units that decide an extension of `step` (module doc)."""
    for rung in sorted(step.escalation or [], key=lambda r: r["level"]):
        above = set(rung["units"]) - {step.unit_id}
        if above:
            return above
    issuer = session.execute(
        select(plans_table.c.issuer_id).where(plans_table.c.id == step.plan_id)
    ).scalar_one_or_none()
    return {issuer} - {step.unit_id} if issuer else set()


def may_act(session: Session, person: Any, step: Any) -> bool:
    return step.unit_id in scope_units(session, person.id) or person.unit_id in approver_units(
        session, step
    )


def may_decide(session: Session, person: Any, step: Any) -> bool:
    if person.unit_id is None or person.unit_id == step.unit_id:
        return False
    return person.unit_id in approver_units(session, step) or step.unit_id in scope_units(
        session, person.id
    )


def _refusal(exc: Exception) -> Refused:
    if isinstance(exc, actions.ActionNotAllowed):
        return Refused(f"Không thể: việc này {exc.state}.")
    if isinstance(exc, actions.InvalidAction):
        text = str(exc).split(": ", 1)[-1]
        return Refused(text[:1].upper() + text[1:] + ".", ask_again=True)
    return Refused("Việc vừa được người khác thay đổi; xin bấm lại.")


def original_text(row: Any, person: Any) -> str:
    """The pressed message as the bot sent it (rendered again from its outbox row)."""
    n = Notification(
        row.id,
        row.idempotency_key,
        row.unit_id or "",
        row.purpose,
        row.level,
        row.payload,
        row.attempts,
        Recipient(person.id, person.name),
    )
    return render(n)[0].text


def stamp(now: datetime) -> str:
    return now.astimezone(ZONE).strftime("%H:%M %d/%m/%Y")


# ── buttons ─────────────────────────────────────────────────────────────────────────────────


def done(session: Session, person: Any, outbox_id: int, now: datetime, *, channel: str) -> Outcome:
    row = outbox_row(session, outbox_id)
    step = step_row(session, row.step_id)
    if not may_act(session, person, step):
        raise Refused("Bạn không phụ trách việc này nên không thể đánh dấu hoàn thành.")
    try:
        actions.mark_done(session, step.id, person.name, channel, now)
    except Exception as exc:  # the store's refusals, said to the person
        if isinstance(exc, StoreError):
            raise _refusal(exc) from None
        raise
    text = original_text(row, person)
    return Outcome(
        "Đã ghi nhận hoàn thành.",
        f"{text}\n\n✅ <b>Đã hoàn thành</b> — {esc(person.name)}, {stamp(now)}",
        details_button(outbox_id),
    )


def can_request(session: Session, person: Any, outbox_id: int) -> Any:
    """The step whose extension `person` may ask for from this message; else Refused."""
    row = outbox_row(session, outbox_id)
    step = step_row(session, row.step_id)
    if not may_act(session, person, step):
        raise Refused("Bạn không phụ trách việc này nên không thể xin gia hạn.")
    try:
        check(facts(step), Action.REQUEST_EXTENSION)
    except ActionRefused as exc:
        raise Refused(f"Không thể xin gia hạn: việc này {exc.reason}.") from None
    return step


def check_until(session: Session, person: Any, outbox_id: int, until: date, now: datetime) -> None:
    """Refused (ask_again when another date may do) if `person` may not ask for an extension
    of this message's step to `until`: checked as soon as the date is typed."""
    step = can_request(session, person, outbox_id)
    try:
        actions.check_extension(session, step.id, until, now)
    except StoreError as exc:
        raise _refusal(exc) from None


def request(
    session: Session,
    person: Any,
    outbox_id: int,
    until: date,
    reason: str,
    now: datetime,
    enabled: Collection[str],
    *,
    channel: str,
) -> Outcome:
    """Ask for the extension, and tell the approvers (outbox rows `extension_asked`)."""
    step = can_request(session, person, outbox_id)
    try:
        result = actions.request_extension(
            session, step.id, until, reason, person.name, channel, now
        )
    except StoreError as exc:
        raise _refusal(exc) from None
    row = outbox_row(session, outbox_id)
    step = step_row(session, step.id)
    approvers = approver_units(session, step)
    names = ", ".join(sorted(unit_name(session, u) for u in approvers)) or "thư ký"
    payload = {
        **_step_payload(session, step),
        "requested_until": step.extension_requested_until.isoformat(),
        "requested_by": person.name,
        "requested_day": vn_deadline(step.extension_requested_until),
        "reason": step.extension_reason,
    }
    _queue(session, step, approvers, "extension_asked", result.revision, payload, now, enabled)
    until_text = vn_deadline(step.extension_requested_until)
    return Outcome(
        "Đã gửi đề nghị gia hạn.",
        f"{original_text(row, person)}\n\n⏳ <b>Đã xin gia hạn</b> đến {until_text}"
        f" — {esc(person.name)}, {stamp(now)}",
        [[(DONE_LABEL, f"{DONE}:{outbox_id}")], *details_button(outbox_id)],
        f"Đã gửi đề nghị gia hạn đến <b>{vn_deadline(step.extension_requested_until)}"
        f"</b> cho {esc(names)}. Bạn sẽ nhận tin khi có quyết định.",
    )


def decide(
    session: Session,
    person: Any,
    outbox_id: int,
    grant: bool,
    reason: str | None,
    now: datetime,
    enabled: Collection[str],
    *,
    channel: str,
) -> Outcome:
    """Grant or refuse the request the message `outbox_id` told of; tell the unit."""
    row = outbox_row(session, outbox_id)
    step = step_row(session, row.step_id)
    if not may_decide(session, person, step):
        raise Refused("Bạn không phải người duyệt gia hạn của việc này.")
    asked = step.extension_requested_until
    if asked is None or row.payload.get("requested_until") != asked.isoformat():
        raise Refused("Đề nghị gia hạn này không còn chờ quyết định.")
    try:
        if grant:
            result = actions.grant_extension(session, step.id, None, person.name, channel, now)
        else:
            result = actions.refuse_extension(
                session, step.id, reason or "", person.name, channel, now
            )
    except StoreError as exc:
        raise _refusal(exc) from None
    payload = {
        **_step_payload(session, step_row(session, step.id)),
        "granted": grant,
        "until": asked.isoformat(),
        "until_day": vn_deadline(asked),
        "reason": reason or "",
        "decided_by": person.name,
    }
    _queue(
        session, step, {step.unit_id}, "extension_decided", result.revision, payload, now, enabled
    )
    verdict = (
        f"✅ <b>Đã đồng ý</b> gia hạn đến {vn_deadline(asked)}"
        if grant
        else f"❌ <b>Đã từ chối</b>: {esc(reason or '')}"
    )
    return Outcome(
        "Đã ghi nhận.",
        f"{original_text(row, person)}\n\n{verdict} — {esc(person.name)}, {stamp(now)}",
        details_button(outbox_id),
    )


def can_decide(session: Session, person: Any, outbox_id: int) -> None:
    row = outbox_row(session, outbox_id)
    step = step_row(session, row.step_id)
    if not may_decide(session, person, step):
        raise Refused("Bạn không phải người duyệt gia hạn của việc này.")
    if step.extension_requested_until is None:
        raise Refused("Đề nghị gia hạn này không còn chờ quyết định.")


def details(session: Session, person: Any, outbox_id: int, now: datetime) -> Outcome:
    row = outbox_row(session, outbox_id)
    step = step_row(session, row.step_id)
    if not (may_act(session, person, step) or may_decide(session, person, step)):
        raise Refused("Bạn không phụ trách việc này.")
    st = status(facts(step), now)
    plan = session.execute(
        select(plans_table.c.title).where(plans_table.c.id == step.plan_id)
    ).scalar_one_or_none()
    lines = [
        f"📋 <b>{esc(clip(step.title))}</b>",
        f"Kế hoạch: {esc(clip(plan or step.plan_id))}",
        f"Đơn vị: {esc(clip(unit_name(session, step.unit_id)))}",
        f"Hạn: {vn_deadline(facts(step).deadline)}",
        f"Tình trạng: {esc(st.label)}",
    ]
    if step.extended_until is not None:
        lines.append(f"Đã được gia hạn (hạn gốc {vn_deadline(step.due_at)})")
    if step.extension_requested_until is not None:
        lines.append(
            f"Đang xin gia hạn đến {vn_deadline(step.extension_requested_until)}: "
            f"{esc(clip(step.extension_reason or ''))}"
        )
    source = (step.source or {}).get("text")
    if source:
        lines.append(f"Theo kế hoạch: <i>{esc(clip(source, 500))}</i>")
    approvers = approver_units(session, step)
    if approvers:
        lines.append(
            "Người duyệt gia hạn: "
            + esc(clip(", ".join(sorted(unit_name(session, u) for u in approvers))))
        )
    return Outcome("", None, [], "\n".join(lines))


# ── commands ────────────────────────────────────────────────────────────────────────────────


def agenda(session: Session, person: Any, now: datetime, late_only: bool) -> list[Part]:
    """/viec (late, due today, due soon in the person's units) and /quahan (late only)."""
    units = scope_units(session, person.id)
    rows = (
        list(
            session.execute(
                select(steps_table).where(
                    steps_table.c.unit_id.in_(units), steps_table.c.state == State.PENDING
                )
            )
        )
        if units
        else []
    )
    names = {
        r.id: r.name
        for r in session.execute(
            select(units_table.c.id, units_table.c.name).where(units_table.c.id.in_(units))
        )
    }
    items = []
    for row in rows:
        st = status(facts(row), now)
        late = st.phase in LATE
        if late or (not late_only and st.phase.value in ("due_soon", "due_today")):
            items.append((not late, facts(row).deadline, row, st))
    items.sort(key=lambda i: (i[0], i[1], i[2].id))
    title = "⚠️ <b>Việc quá hạn</b>" if late_only else "📌 <b>Việc cần làm</b>"
    if not items:
        empty = (
            "Không có việc nào quá hạn. 👍"
            if late_only
            else "Không có việc nào sắp đến hạn hay quá hạn. 👍"
        )
        return [Part(f"{title}\n{empty}")]
    lines = [
        f"{'🔴' if not soon else '🟡'} <b>{esc(row.title[:300])}</b> — "
        f"{esc(names.get(row.unit_id, row.unit_id))}, hạn {vn_deadline(deadline)} "
        f"({esc(st.label)})"
        for soon, deadline, row, st in items[:200]
    ]
    if len(items) > 200:
        lines.append(f"… và {len(items) - 200} việc nữa.")
    return [Part(text) for text in split(f"{title} ({len(items)})", lines)]


def feed_link(
    session: Session, person: Any, now: datetime, public_url: str | None, *, channel: str
) -> str:
    """/lich: a calendar feed of the person's steps (a new address each time; the one made
    before from the same chat channel is revoked)."""
    try:
        from calendars.feed import feed_urls
        from kehoach.store import feeds
    except ImportError:
        return (
            "Lịch chưa có trong bản này. Xin nhờ thư ký tạo lịch bằng lệnh "
            "<code>kehoach feed</code> khi có."
        )
    label = f"{channel_label(channel)}: {person.name}"[:200]
    for old in feeds.list_feeds(session, include_revoked=False):
        if old.scope == "person" and old.scope_id == str(person.id) and old.label == label:
            feeds.revoke(session, old.id, now)
    _, token = feeds.create(session, "person", str(person.id), now, label=label)
    https, webcal = feed_urls(public_url or DEFAULT_PUBLIC_URL, token)
    return (
        f"📅 <b>Lịch của bạn</b>\nMở hoặc dán vào ứng dụng lịch:\n{esc(https)}\n"
        f"Đăng ký một chạm: {esc(webcal)}\n<i>Địa chỉ cũ (nếu có) đã hết hiệu lực.</i>"
    )


# ── helpers ─────────────────────────────────────────────────────────────────────────────────


def esc(text: Any) -> str:
    return html.escape(str(text), quote=False)


def _step_payload(session: Session, step: Any) -> dict[str, Any]:
    return {
        "step_id": step.id,
        "plan_id": step.plan_id,
        "title": step.title,
        "kind": step.kind,
        "unit": step.unit_id,
        "unit_name": unit_name(session, step.unit_id),
        "due_at": facts(step).deadline.isoformat(),
    }


def _queue(
    session: Session,
    step: Any,
    units: Collection[str],
    purpose: str,
    revision: int,
    payload: dict[str, Any],
    now: datetime,
    enabled: Collection[str],
) -> int:
    """One outbox row per person heard in `units` (directory.routes), keyed by the step's
    revision: deciding twice stores once."""
    short = hashlib.sha256(step.id.encode()).hexdigest()[:20]
    heard = routes(session, units, enabled, FALLBACK)
    rows = [
        {
            "idempotency_key": f"{purpose}|{short}|r{revision}|{u}"
            + (f"|p{r.person_id}" if r.person_id is not None else ""),
            "step_id": step.id,
            "person_id": r.person_id,
            "unit_id": u,
            "channel": r.channel,
            "purpose": purpose,
            "level": None,
            "payload": {**payload, "recipient_name": unit_name(session, u), "person_name": r.name},
            **queued(now),
        }
        for u in sorted(units)
        for r in heard[u]
    ]
    return queue_outbox(session, rows)
