"""A plan's `timezone:` reaches its stored steps (issue 16): their status, the dates in their
messages and their calendar are counted in the plan's zone, not in Việt Nam's.

The plan below is in UTC. Its April report is due at the end of 25/04/2022 there, that is
07:00 on 26/04 in Việt Nam. At 10:00 UTC on 25/04 it is due today in the plan's zone; counted
in Việt Nam's, it was "sắp đến hạn" (due on 26/04) and its reminder said the deadline was 26/04.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update

from calendars.feed import timing
from kehoach.store import read_session, tick, write_session
from kehoach.store.actions import request_extension
from kehoach.store.feeds import Scope, feed_steps
from kehoach.store.models import outbox_table, steps_table
from kehoach.store.tick import COLUMNS, facts
from tests.conftest import PLAN, load
from workflows.lifecycle import status

STEP = "thu-nghiem/bao-cao-thang/2022-04/doan-a"
#: The deadline's day in the plan's zone (UTC); the day before it in Việt Nam's.
MORNING = datetime(2022, 4, 25, 10, 0, tzinfo=UTC)


def utc_plan(tmp_path: Path) -> Path:
    path = tmp_path / "plans" / "thu-nghiem.yaml"
    path.parent.mkdir()
    path.write_text(
        PLAN.replace("issuer: quan-doan\n", "issuer: quan-doan\ntimezone: UTC\n"), encoding="utf-8"
    )
    return path


def stored(engine: Engine, step_id: str = STEP) -> Any:
    with read_session(engine) as s:
        return s.execute(
            select(*(steps_table.c[c] for c in COLUMNS)).where(steps_table.c.id == step_id)
        ).one()


def test_a_step_is_due_today_in_its_plans_zone(db: Engine, tmp_path: Path) -> None:
    load(db, utc_plan(tmp_path))
    row = stored(db)
    assert row.timezone == "UTC"
    assert row.due_at == datetime(2022, 4, 26, tzinfo=UTC)  # the compiler's part, already right
    assert status(facts(row), MORNING).label == "đến hạn hôm nay"


def test_a_reminder_names_the_deadline_in_the_plans_zone(db: Engine, tmp_path: Path) -> None:
    load(db, utc_plan(tmp_path))
    with write_session(db) as s:
        tick(s, MORNING)
    with read_session(db) as s:
        payloads = (
            s.execute(select(outbox_table.c.payload).where(outbox_table.c.step_id == STEP))
            .scalars()
            .all()
        )
    assert payloads and {p["due_day"] for p in payloads} == {"25/04/2022"}
    assert {p["status"] for p in payloads} == {"đến hạn hôm nay"}


def test_a_reload_gives_steps_stored_without_a_zone_their_plans(db: Engine, tmp_path: Path) -> None:
    path = utc_plan(tmp_path)
    load(db, path)
    with write_session(db) as s:  # as migration 0012 leaves the steps stored before it
        s.execute(update(steps_table).values(timezone=None))
    assert status(facts(stored(db)), MORNING).label == "sắp đến hạn"  # due on 26/04 in Việt Nam
    load(db, path)
    assert stored(db).timezone == "UTC"
    assert status(facts(stored(db)), MORNING).label == "đến hạn hôm nay"


def test_an_extension_to_a_day_ends_that_day_in_the_plans_zone(db: Engine, tmp_path: Path) -> None:
    load(db, utc_plan(tmp_path))
    with write_session(db) as s:
        asked = request_extension(
            s, STEP, date(2022, 4, 28), "chờ số liệu", "doan-a", "test", MORNING
        )
    assert asked.note == "xin gia hạn đến 28/04/2022: chờ số liệu"
    with read_session(db) as s:
        until = s.execute(
            select(steps_table.c.extension_requested_until).where(steps_table.c.id == STEP)
        ).scalar_one()
    assert until == datetime(2022, 4, 29, tzinfo=UTC)  # Việt Nam's would be 17:00 on 28/04


def test_a_calendar_event_at_a_time_is_at_that_time_in_the_plans_zone(
    db: Engine, tmp_path: Path
) -> None:
    load(db, utc_plan(tmp_path))
    with read_session(db) as s:
        scope = Scope("plan", "thu-nghiem", "Lịch", plan_id="thu-nghiem")
        step = next(f for f in feed_steps(s, scope) if f.id.startswith("thu-nghiem/hoi-nghi/"))
    start, _ = timing(step)
    assert start == datetime(2022, 5, 13, 8, tzinfo=UTC)  # «08g00, ngày 13/5/2022» in UTC
