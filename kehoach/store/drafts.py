"""Drafts of plans on their way from a document to the store, and the text of each version.

A draft is one JSON document (`plan_drafts.document`): the plan as the YAML file would hold it
(`plan`), the importer's review questions (`review`), which of them were answered
(`answered`), the document's lines (`lines`, to show a sentence in its paragraph) and the line
each obligation came from (`lines_of`). Every save names the `revision` it was based on; a save
based on an older one raises `DraftChanged` (two secretaries on one draft: the second is told,
nothing is overwritten).

Publishing and `kehoach load` share `store_plan`: compile, sync, keep the text as the version's
content, so a plan published from the browser is exactly what `load` would have stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from engine.compiler import Step
from engine.plan import Plan
from workflows.lifecycle import State

from .errors import StoreError
from .models import drafts_table, plans_table, steps_table, versions_table
from .sync import SyncResult, sync_plan

drafts_t, versions_t = drafts_table, versions_table


class DraftNotFound(StoreError):
    def __init__(self, draft_id: int):
        super().__init__(f"không có bản nháp số {draft_id}")


class DraftChanged(StoreError):
    """The draft was saved by someone else since it was read."""

    def __init__(self, draft_id: int, by: str):
        super().__init__(
            f"bản nháp số {draft_id} đã có người sửa ({by}) sau khi bạn mở nó; "
            "hãy tải lại trang để xem bản mới rồi sửa lại"
        )


@dataclass(frozen=True)
class DraftRow:
    id: int
    issuer_id: str
    plan_id: str | None
    owner_id: int
    source_name: str
    document: dict[str, Any]
    state: str
    revision: int
    created_at: datetime
    updated_at: datetime
    updated_by: str


def text_digest(text: str) -> str:
    """The digest `kehoach load` gives the same text read from a file (SHA-256 of its bytes)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def store_plan(
    session: Session,
    plan: Plan,
    steps: Sequence[Step],
    text: str,
    *,
    now: datetime,
    actor: str,
    channel: str,
    progress: Callable[[int], None] | None = None,
) -> SyncResult:
    """Store a compiled plan and keep its text as the version's content (load and publish)."""
    result = sync_plan(
        session,
        plan,
        steps,
        now=now,
        content_hash=text_digest(text),
        actor=actor,
        channel=channel,
        progress=progress,
    )
    session.execute(
        update(versions_t)
        .where(
            versions_t.c.plan_id == plan.id,
            versions_t.c.number == result.version,
            versions_t.c.content.is_(None),
        )
        .values(content=text, published_by=actor)
    )
    return result


def create_draft(
    session: Session,
    *,
    issuer_id: str,
    owner_id: int,
    owner_name: str,
    source_name: str,
    document: dict[str, Any],
    now: datetime,
    plan_id: str | None = None,
) -> int:
    return int(
        session.execute(
            insert(drafts_t)
            .values(
                issuer_id=issuer_id,
                plan_id=plan_id,
                owner_id=owner_id,
                source_name=source_name,
                document=document,
                state="open",
                revision=1,
                created_at=now,
                updated_at=now,
                updated_by=owner_name,
            )
            .returning(drafts_t.c.id)
        ).scalar_one()
    )


def get_draft(session: Session, draft_id: int) -> DraftRow:
    row = session.execute(select(drafts_t).where(drafts_t.c.id == draft_id)).one_or_none()
    if row is None:
        raise DraftNotFound(draft_id)
    return DraftRow(**row._asdict())


def save_draft(
    session: Session,
    draft_id: int,
    revision: int,
    document: dict[str, Any],
    *,
    by: str,
    now: datetime,
    state: str = "open",
    plan_id: str | None = None,
) -> int:
    """Store a new document for the draft if it is still at `revision`; the new revision."""
    values: dict[str, Any] = {
        "document": document,
        "revision": revision + 1,
        "updated_at": now,
        "updated_by": by,
        "state": state,
    }
    if plan_id is not None:
        values["plan_id"] = plan_id
    changed = (
        session.connection()
        .execute(
            update(drafts_t)
            .where(  # CursorResult: rowcount
                drafts_t.c.id == draft_id,
                drafts_t.c.revision == revision,
                drafts_t.c.state == "open",
            )
            .values(**values)
        )
        .rowcount
    )
    if changed != 1:
        current = get_draft(session, draft_id)
        raise DraftChanged(
            draft_id, current.updated_by if current.state == "open" else "bản nháp đã được công bố"
        )
    return revision + 1


def open_drafts(session: Session, issuer_id: str) -> list[DraftRow]:
    rows = session.execute(
        select(drafts_t)
        .where(drafts_t.c.issuer_id == issuer_id, drafts_t.c.state == "open")
        .order_by(drafts_t.c.updated_at.desc())
    )
    return [DraftRow(**r._asdict()) for r in rows]


@dataclass(frozen=True)
class PlanListing:
    id: str
    title: str
    version: int
    updated_at: datetime
    steps: int
    open_steps: int
    late: int
    first_due: datetime | None
    last_due: datetime | None
    has_text: bool


def issued_plans(session: Session, issuer_id: str, now: datetime) -> list[PlanListing]:
    """The plans `issuer_id` issued, with their step counts and late counts (one GROUP BY)."""
    p, s, v = plans_table, steps_table, versions_t
    live = s.c.state != "cancelled"
    counts = (
        select(
            s.c.plan_id,
            func.count().filter(live).label("steps"),
            func.count().filter(s.c.state == State.PENDING).label("open_steps"),
            func.count().filter(s.c.state == State.PENDING, s.c.due_at < now).label("late"),
            func.min(s.c.due_at).filter(live).label("first_due"),
            func.max(s.c.due_at).filter(live).label("last_due"),
        )
        .group_by(s.c.plan_id)
        .subquery()
    )
    text_kept = select(
        v.c.plan_id, v.c.number, v.c.content.is_not(None).label("has_text")
    ).subquery()
    rows = session.execute(
        select(
            p.c.id,
            p.c.title,
            p.c.current_version,
            p.c.updated_at,
            counts.c.steps,
            counts.c.open_steps,
            counts.c.late,
            counts.c.first_due,
            counts.c.last_due,
            text_kept.c.has_text,
        )
        .outerjoin(counts, counts.c.plan_id == p.c.id)
        .outerjoin(
            text_kept, (text_kept.c.plan_id == p.c.id) & (text_kept.c.number == p.c.current_version)
        )
        .where(p.c.issuer_id == issuer_id)
        .order_by(p.c.updated_at.desc())
    )
    return [
        PlanListing(
            r.id,
            r.title,
            r.current_version,
            r.updated_at,
            r.steps or 0,
            r.open_steps or 0,
            r.late or 0,
            r.first_due,
            r.last_due,
            bool(r.has_text),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class VersionRow:
    number: int
    loaded_at: datetime
    published_by: str | None
    content: str | None


def plan_versions(session: Session, plan_id: str) -> list[VersionRow]:
    return [
        VersionRow(r.number, r.loaded_at, r.published_by, r.content)
        for r in session.execute(
            select(
                versions_t.c.number,
                versions_t.c.loaded_at,
                versions_t.c.published_by,
                versions_t.c.content,
            )
            .where(versions_t.c.plan_id == plan_id)
            .order_by(versions_t.c.number.desc())
        )
    ]


def plan_issuer(session: Session, plan_id: str) -> str | None:
    return session.execute(
        select(plans_table.c.issuer_id).where(plans_table.c.id == plan_id)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class StoredStep:
    id: str
    unit_id: str
    due_at: datetime
    state: str


def stored_steps(session: Session, plan_id: str) -> dict[str, StoredStep]:
    s = steps_table
    return {
        r.id: StoredStep(r.id, r.unit_id, r.due_at, r.state)
        for r in session.execute(
            select(s.c.id, s.c.unit_id, s.c.due_at, s.c.state).where(s.c.plan_id == plan_id)
        )
    }
