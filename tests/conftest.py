"""Shared fixtures: the installed console script, and the store's database on both backends.

`db_url` is parametrised over SQLite (a file in tmp_path) and the local PostgreSQL, which gets
a fresh schema per test (search_path in the URL), so tests never see each other's rows; when
the server cannot be reached the tests fail, they are not skipped. `empty` is an engine on a
database with no tables, `db` one at the head revision, `plan_file` the small test plan `PLAN`
(thu-nghiem); `load`, `run`, `transitions` and `steps_by_id` are the helpers around them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, exc, select

from engine.compiler import Step, compile_plan
from engine.loader import load_plan
from engine.workdays import WorkingCalendar
from kehoach.store import (
    SyncResult,
    file_digest,
    make_engine,
    read_session,
    sync_plan,
    upgrade,
    write_session,
)
from kehoach.store.models import steps_table, transitions_table

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get(
    "KEHOACH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NOW = datetime(2022, 4, 1, 3, 0, tzinfo=UTC)

PLAN = """\
id: thu-nghiem
title: Kế hoạch thử nghiệm năm 2022
issuer: quan-doan
period: {from: 1/1/2022, to: 31/12/2022}
units:
  - id: quan-doan
    name: Ban Thường vụ Quận Đoàn
  - id: doan-a
    name: Đoàn phường A
  - id: doan-b
    name: Đoàn phường B
obligations:
  - id: bao-cao-thang
    kind: deadline
    title: Báo cáo tháng
    when: ngày 25 hằng tháng
    responsible: [doan-a, doan-b]
  - id: dong-gop
    kind: contribution
    title: Đóng góp kinh phí Hội nghị
    when: ngày 19/5/2022
    responsible: [doan-a, doan-b]
    amount: 500.000 đồng
  - id: hoi-nghi
    kind: event
    title: Hội nghị sơ kết
    when: 08g00, ngày 13/5/2022
    responsible: quan-doan
"""


@pytest.fixture(scope="session")
def kehoach_bin() -> str:
    """The installed console script, run as a user would run it."""
    found = shutil.which(
        "kehoach",
        path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )
    assert found, "the `kehoach` console script is not installed (pip install -e .)"
    return found


@pytest.fixture
def zalo_api() -> Iterator[Any]:
    """The loopback stand-in of the Zalo Bot API (tests/zalo_api.py), token
    tests.zalo_api.TOKEN; any chat id is a user of the bot."""
    from tests.zalo_api import TOKEN, FakeZaloAPI

    server = FakeZaloAPI(token=TOKEN).start()
    try:
        yield server
    finally:
        server.stop()


# ── the store's database, on both backends ─────────────────────────────────────────────────


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kehoach.sqlite3'}"
        return
    admin = create_engine(POSTGRES, connect_args={"connect_timeout": 5})
    schema = f"test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except exc.OperationalError as error:  # the suite runs on both databases: fail, never skip
        admin.dispose()
        pytest.fail(f"PostgreSQL at {POSTGRES} is unreachable: {error}")
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def empty(db_url: str) -> Iterator[Engine]:
    """An engine on a database with no tables."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(empty: Engine) -> Engine:
    """An engine on a database at the head revision."""
    upgrade(empty)
    return empty


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plans" / "thu-nghiem.yaml"
    path.parent.mkdir()
    path.write_text(PLAN, encoding="utf-8")
    return path


def compiled(path: Path) -> list[Step]:
    return compile_plan(load_plan(path), WorkingCalendar())


def load(engine: Engine, path: Path, now: datetime = NOW) -> SyncResult:
    plan = load_plan(path)
    with write_session(engine) as session:
        return sync_plan(
            session,
            plan,
            compile_plan(plan, WorkingCalendar()),
            now=now,
            content_hash=file_digest(path),
            actor="test",
            channel="test",
        )


def steps_by_id(engine: Engine) -> dict[str, Any]:
    with read_session(engine) as s:
        return {r.id: r for r in s.execute(select(steps_table))}


def transitions(engine: Engine, step_id: str | None = None) -> list[Any]:
    query = select(transitions_table).order_by(transitions_table.c.id)
    if step_id:
        query = query.where(transitions_table.c.step_id == step_id)
    with read_session(engine) as s:
        return list(s.execute(query))


def run(bin_: str, *args: str, cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KEHOACH_DATABASE_URL": url}
    return subprocess.run(
        [bin_, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
