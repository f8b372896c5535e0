"""Plans in the browser: upload a Word or text file, answer the importer's questions, preview,
publish; edit a published plan the same way; every version downloadable as its YAML file.

Only the secretaries of an issuing body reach these pages (anyone else gets 404): a draft
belongs to the body its uploader serves, and publishing loads it exactly as `kehoach load`
would (kehoach.store.drafts.store_plan). The pages work without JavaScript; a small script
checks a date phrase as it is typed.
"""

from __future__ import annotations

import asyncio
import calendar as month_calendar
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from engine.compiler import compile_plan
from engine.importing import KIND_NAMES
from engine.workdays import WorkingCalendar
from kehoach import drafting, store
from kehoach.channels import chat_channels
from kehoach.documents import MAX_UPLOAD, NotAPlan, document_lines
from kehoach.store import drafts
from kehoach.store.models import (
    BoardRole,
    contacts_table,
    people_table,
    plan_units_table,
    units_table,
)

from .auth import Viewer, viewer
from .errors import Invalid, NotFound
from .render import page

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
CALENDAR = WorkingCalendar()
#: Fields of a form post besides the upload: bounded so a post cannot grow without limit.
MAX_FIELDS = 20_000


def secretary(v: Annotated[Viewer, Depends(viewer)]) -> Viewer:
    """The viewer if they are a secretary of an issuing body; 404 for anyone else."""
    if v.board_role != BoardRole.SECRETARY or not v.unit_id:
        raise NotFound("Không có trang này.")
    return v


Secretary = Annotated[Viewer, Depends(secretary)]


def _known(session: Any) -> dict[str, str]:
    return dict(session.execute(select(units_table.c.id, units_table.c.name)).all())


def _draft(request: Request, v: Viewer, draft_id: int) -> drafts.DraftRow:
    with store.read_session(request.app.state.engine) as session:
        try:
            row = drafts.get_draft(session, draft_id)
        except drafts.DraftNotFound:
            row = None
    if row is None or row.issuer_id != v.unit_id:
        raise NotFound(f"Không có bản nháp số {draft_id} của cơ quan bạn.")
    return row


def _plan_of(request: Request, v: Viewer, plan_id: str) -> None:
    with store.read_session(request.app.state.engine) as session:
        issuer = drafts.plan_issuer(session, plan_id)
    if issuer is None or issuer != v.unit_id:
        raise NotFound(f"Không có kế hoạch «{plan_id}» do cơ quan bạn ban hành.")


@router.get("/ke-hoach", name="plans_page")
def plans_page(request: Request, v: Secretary) -> Response:
    now = request.app.state.now()
    with store.read_session(request.app.state.engine) as session:
        plans = drafts.issued_plans(session, v.unit_id or "", now)
        open_drafts = drafts.open_drafts(session, v.unit_id or "")
    return page(request, "plans.html", {"title": "Kế hoạch", "plans": plans, "drafts": open_drafts})


@router.get("/ke-hoach/moi", name="upload_page")
def upload_page(request: Request, v: Secretary) -> Response:
    return page(
        request,
        "upload.html",
        {"title": "Tải lên kế hoạch mới", "error": None, "limit_mb": MAX_UPLOAD // 2**20},
    )


@router.post("/ke-hoach/moi")
async def upload(request: Request, v: Secretary) -> Response:
    def refuse(message: str, status: int = 400) -> Response:
        return page(
            request,
            "upload.html",
            {"title": "Tải lên kế hoạch mới", "error": message, "limit_mb": MAX_UPLOAD // 2**20},
            status=status,
        )

    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_UPLOAD + 64 * 1024:
        return refuse(f"Tệp lớn hơn {MAX_UPLOAD // 2**20} MB: không nhận.", 413)
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("tep")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return refuse("Chưa chọn tệp kế hoạch (.docx, .txt hoặc .md).")
    data = await upload.read(MAX_UPLOAD + 1)
    name = upload.filename[-200:]
    try:
        lines = await asyncio.to_thread(document_lines, data, name)
    except NotAPlan as exc:
        return refuse(f"Không đọc được «{name}»: {exc}.")
    engine, now = request.app.state.engine, request.app.state.now()
    with store.read_session(engine) as session:
        known = _known(session)
    doc = await asyncio.to_thread(
        drafting.new_document, lines, name, known=known, issuer=v.unit_id or ""
    )
    with store.write_session(engine) as session:
        draft_id = drafts.create_draft(
            session,
            issuer_id=v.unit_id or "",
            owner_id=v.id,
            owner_name=v.name,
            source_name=name,
            document=doc,
            now=now,
        )
    asked = len(doc["review"])
    request.session["flash"] = (
        f"Đã đọc «{name}»: {len(doc['plan'].get('obligations') or [])} "
        f"nghĩa vụ, {asked} câu hỏi cần trả lời."
    )
    return RedirectResponse(request.url_for("draft_page", draft_id=draft_id).path, 303)


def _draft_page(
    request: Request,
    v: Viewer,
    row: drafts.DraftRow,
    doc: dict[str, Any],
    *,
    status: int = 200,
    problems: drafting.Problems | None = None,
    conflict: str | None = None,
) -> Response:
    with store.read_session(request.app.state.engine) as session:
        known = _known(session)
    if problems is None:
        _, problems = drafting.check(doc, known)
    items = [
        {
            "index": k,
            "item": item,
            "answered": doc["answered"][k],
            "context": drafting.context(doc, item),
            "obligations": drafting.obligations_of(doc, item),
        }
        for k, item in enumerate(doc["review"])
    ]
    asked = {i for item in items for i in item["obligations"]}
    # an obligation a question is about is shown (and edited) there, once: a field twice in one
    # form would send two values
    for item in items:
        item["obligations"] = [i for i in item["obligations"] if i in asked]
        asked -= set(item["obligations"])
    shown = {i for item in items for i in item["obligations"]}
    return page(
        request,
        "draft.html",
        {
            "others": [
                i for i in range(len(doc["plan"].get("obligations") or [])) if i not in shown
            ],
            "title": f"Bản nháp: {doc['plan'].get('title', row.source_name)}",
            "row": row,
            "doc": doc,
            "items": items,
            "problems": problems,
            "kinds": KIND_NAMES,
            "selectors": drafting.selectors(doc),
            "units": drafting.unit_choices(doc, known),
            "conflict": conflict,
            "listed": _listed,
        },
        status=status,
    )


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


@router.get("/ke-hoach/nhap/{draft_id}", name="draft_page")
def draft_page(request: Request, v: Secretary, draft_id: int) -> Response:
    row = _draft(request, v, draft_id)
    if row.state != "open":
        return RedirectResponse(request.url_for("plan_page", plan_id=row.plan_id or "").path, 303)
    return _draft_page(request, v, row, row.document)


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form(max_files=0, max_fields=MAX_FIELDS)
    out: dict[str, Any] = {}
    for name in form:
        values = [x for x in form.getlist(name) if isinstance(x, str)]
        out[name] = values if name.endswith("-responsible") else (values[-1] if values else "")
    return out


def _revision(form: dict[str, Any]) -> int:
    try:
        return int(form.get("revision", ""))
    except ValueError:
        raise Invalid("Biểu mẫu thiếu số phiên bản của bản nháp; hãy tải lại trang.") from None


@router.post("/ke-hoach/nhap/{draft_id}")
async def save(request: Request, v: Secretary, draft_id: int) -> Response:
    row = _draft(request, v, draft_id)
    form = await _form(request)
    revision = _revision(form)
    doc = drafting.apply_form(row.document, form)
    engine, now = request.app.state.engine, request.app.state.now()
    try:
        with store.write_session(engine) as session:
            drafts.save_draft(session, draft_id, revision, doc, by=v.name, now=now)
    except drafts.DraftChanged as exc:
        fresh = _draft(request, v, draft_id)
        return _draft_page(request, v, fresh, fresh.document, status=409, conflict=str(exc))
    with store.read_session(engine) as session:
        _, problems = drafting.check(doc, _known(session))
    if form.get("next") == "preview" and not problems:
        return RedirectResponse(request.url_for("preview_page", draft_id=draft_id).path, 303)
    request.session["flash"] = (
        "Đã lưu. Bản nháp sẵn sàng để xem trước và công bố."
        if not problems
        else "Đã lưu. Còn những điều cần sửa, ghi ở dưới."
    )
    return RedirectResponse(request.url_for("draft_page", draft_id=draft_id).path, 303)


def _ready(request: Request, row: drafts.DraftRow) -> tuple[Any, str, dict[str, str]]:
    with store.read_session(request.app.state.engine) as session:
        known = _known(session)
    plan, problems = drafting.check(row.document, known)
    if plan is None:
        first = (problems.plan or [m for ms in problems.by_obligation.values() for m in ms])[0]
        raise Invalid(f"Bản nháp chưa công bố được: {first}. Hãy sửa ở trang bản nháp.")
    return plan, drafting.plan_text(row.document, known), known


@router.get("/ke-hoach/nhap/{draft_id}/xem-truoc", name="preview_page")
def preview_page(request: Request, v: Secretary, draft_id: int) -> Response:
    row = _draft(request, v, draft_id)
    plan, _, _ = _ready(request, row)
    with store.read_session(request.app.state.engine) as session:
        existing = drafts.plan_issuer(session, plan.id)
        if existing is not None and existing != v.unit_id:
            raise Invalid(f"Mã kế hoạch «{plan.id}» đã thuộc cơ quan khác; hãy đổi mã.")
        stored = drafts.stored_steps(session, plan.id)
    shown = drafting.preview(plan, stored, CALENDAR)
    return page(
        request,
        "preview.html",
        {
            "title": f"Xem trước: {plan.title}",
            "row": row,
            "plan": plan,
            "p": shown,
            "months": _months(shown),
            "loaded": bool(stored),
        },
    )


def _months(shown: drafting.Preview) -> list[dict[str, Any]]:
    """A month calendar for each month with steps: weeks of (day, number of steps)."""
    counts: dict[date, int] = {}
    for s in shown.steps:
        counts[s.occurrence.date] = counts.get(s.occurrence.date, 0) + 1
    months = sorted({(d.year, d.month) for d in counts})
    return [
        {
            "name": f"Tháng {m}/{y}",
            "weeks": [
                [(d, counts.get(date(y, m, d), 0)) if d else (0, 0) for d in week]
                for week in month_calendar.Calendar().monthdayscalendar(y, m)
            ],
        }
        for y, m in months
    ]


@router.post("/ke-hoach/nhap/{draft_id}/cong-bo")
async def publish(request: Request, v: Secretary, draft_id: int) -> Response:
    row = _draft(request, v, draft_id)
    form = await _form(request)
    revision = _revision(form)
    plan, text, _ = _ready(request, row)
    engine, now = request.app.state.engine, request.app.state.now()
    with store.read_session(engine) as session:
        existing = drafts.plan_issuer(session, plan.id)
    if existing is not None and existing != v.unit_id:
        raise Invalid(f"Mã kế hoạch «{plan.id}» đã thuộc cơ quan khác; hãy đổi mã.")
    steps = await asyncio.to_thread(compile_plan, plan, CALENDAR)
    feed = None
    try:
        with store.write_session(engine) as session:
            drafts.save_draft(
                session,
                draft_id,
                revision,
                row.document,
                by=v.name,
                now=now,
                state="published",
                plan_id=plan.id,
            )
            result = drafts.store_plan(
                session,
                plan,
                steps,
                text,
                now=now,
                actor=f"{v.name} (trang quản lý)",
                channel="web",
            )
            if form.get("feed"):
                from kehoach.store import feeds

                feed = feeds.create(
                    session, "plan", plan.id, now, label=f"tạo khi công bố, {v.name}"
                )[1]
    except drafts.DraftChanged as exc:
        raise Invalid(str(exc)) from None
    await asyncio.to_thread(store.settle, engine, result)
    request.session["flash"] = (
        f"Đã công bố phiên bản {result.version}: thêm {result.added}, "
        f"đổi {result.changed}, hủy {result.cancelled}, giữ nguyên "
        f"{result.kept} bước."
    )
    if feed:
        request.session["feed"] = feed
    return RedirectResponse(request.url_for("plan_page", plan_id=plan.id).path, 303)


@router.get("/ke-hoach/kiem-tra-thoi-gian", response_class=JSONResponse)
def check_when(request: Request, v: Secretary, when: str = "", draft: int = 0) -> JSONResponse:
    """What a date phrase means in the draft's plan, for the form while typing."""
    period: Any = None
    if draft:
        period = _draft(request, v, draft).document["plan"].get("period")
    ok, message = drafting.describe_when(when[:300], period or "2000 - 2100")
    return JSONResponse({"ok": ok, "message": message})


@router.get("/ke-hoach/{plan_id}", name="plan_page")
def plan_page(request: Request, v: Secretary, plan_id: str) -> Response:
    _plan_of(request, v, plan_id)
    engine = request.app.state.engine
    with store.read_session(engine) as session:
        versions = drafts.plan_versions(session, plan_id)
        listing = next(
            p
            for p in drafts.issued_plans(session, v.unit_id or "", request.app.state.now())
            if p.id == plan_id
        )
        unlinked = _unlinked(session, plan_id)
    feed = request.session.pop("feed", None)
    links = None
    if feed:
        from calendars.feed import feed_urls

        public = request.app.state.settings.public_url or str(request.base_url)
        links = feed_urls(public, feed)
    return page(
        request,
        "plan.html",
        {
            "title": listing.title,
            "plan": listing,
            "versions": versions,
            "unlinked": unlinked,
            "feed": links,
        },
    )


def _unlinked(session: Any, plan_id: str) -> list[Any]:
    """The active people of the plan's units who have no chat (of any chat channel) linked
    yet, or only a lost one."""
    units = select(plan_units_table.c.unit_id).where(plan_units_table.c.plan_id == plan_id)
    return list(
        session.execute(
            select(people_table.c.id, people_table.c.name, units_table.c.name.label("unit"))
            .join(units_table, units_table.c.id == people_table.c.unit_id)
            .where(
                people_table.c.unit_id.in_(units),
                people_table.c.active.is_(True),
                ~select(contacts_table.c.id)
                .where(
                    contacts_table.c.person_id == people_table.c.id,
                    contacts_table.c.channel.in_([c.name for c in chat_channels()]),
                    contacts_table.c.lost_at.is_(None),
                )
                .exists(),
            )
            .order_by(units_table.c.name, people_table.c.name)
            .limit(500)
        ).all()
    )


@router.post("/ke-hoach/{plan_id}/ma-moi")
async def invites(request: Request, v: Secretary, plan_id: str) -> Response:
    """One-time invite codes for the plan's people with no chat linked yet, shown once (valid
    as long as an invite is: kehoach.chat.links.INVITE_TTL); a code links any chat channel."""
    from kehoach.chat.links import INVITE_TTL, create_invite
    from kehoach.cli_telegram import bot_username

    _plan_of(request, v, plan_id)
    engine, now = request.app.state.engine, request.app.state.now()
    with store.write_session(engine) as session:
        made = [
            (p.name, p.unit, create_invite(session, p.id, f"{v.name} (trang quản lý)", now))
            for p in _unlinked(session, plan_id)
        ]
    username = await asyncio.to_thread(bot_username, request.app.state.settings) if made else None
    zalo = request.app.state.settings.zalo_token is not None  # the code links it too
    return page(
        request,
        "invites.html",
        {
            "title": "Mã mời liên kết",
            "plan_id": plan_id,
            "made": made,
            "username": username,
            "zalo": zalo,
            "chats": " hoặc ".join(s.label for s in chat_channels()),
            "days": INVITE_TTL.days,
        },
    )


@router.post("/ke-hoach/{plan_id}/sua")
async def edit(request: Request, v: Secretary, plan_id: str) -> Response:
    _plan_of(request, v, plan_id)
    engine, now = request.app.state.engine, request.app.state.now()
    with store.read_session(engine) as session:
        versions = drafts.plan_versions(session, plan_id)
    text = versions[0].content if versions else None
    if not text:
        raise Invalid(
            "Phiên bản hiện tại của kế hoạch này được nạp trước khi trang quản lý lưu "
            "văn bản kế hoạch; hãy nạp lại tệp bằng `kehoach load` một lần."
        )
    doc = drafting.document_of_plan(text)
    with store.write_session(engine) as session:
        draft_id = drafts.create_draft(
            session,
            issuer_id=v.unit_id or "",
            owner_id=v.id,
            owner_name=v.name,
            source_name=f"{plan_id}.yaml",
            document=doc,
            now=now,
            plan_id=plan_id,
        )
    return RedirectResponse(request.url_for("draft_page", draft_id=draft_id).path, 303)


@router.get("/ke-hoach/{plan_id}/phien-ban/{number}.yaml")
def download(request: Request, v: Secretary, plan_id: str, number: int) -> Response:
    _plan_of(request, v, plan_id)
    with store.read_session(request.app.state.engine) as session:
        found = [x for x in drafts.plan_versions(session, plan_id) if x.number == number]
    if not found or not found[0].content:
        raise NotFound(f"Không có văn bản của phiên bản {number} của kế hoạch «{plan_id}».")
    return Response(
        found[0].content,
        media_type="application/yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{plan_id}-v{number}.yaml"'},
    )
