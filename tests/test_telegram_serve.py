"""End to end: `kehoach serve` as a subprocess (the installed console script), pointed at the
loopback Bot API, on a simulated clock (KEHOACH_SIMULATED_NOW); a reminder reaches the linked
chat at its simulated moment, a button press marks the step done in the database. Also
`kehoach invite` asking the bot's name with getMe."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from kehoach import store
from kehoach.store.models import (
    deliveries_table,
    invites_table,
    outbox_table,
    people_table,
    steps_table,
)
from kehoach.store.people import add_person
from notifiers.telegram_links import code_hash
from tests.conftest import NOW, load, transitions
from tests.fake_bot_api import FakeBotAPI
from tests.test_telegram_bot import STEP, TOKEN, wait_for

CHAT = 4201


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    server = FakeBotAPI(token=TOKEN).start()
    yield server
    server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kehoach(kehoach_bin: str, db_url: str, api: FakeBotAPI, folder: Path, *args: str,
            extra: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KEHOACH_DATABASE_URL": db_url, "KEHOACH_TELEGRAM_TOKEN": TOKEN,
           "KEHOACH_TELEGRAM_BASE_URL": api.base_url, "KEHOACH_HTTP_PORT": str(free_port()),
           **(extra or {})}
    env.pop("KEHOACH_SMTP_HOST", None)
    return subprocess.Popen([kehoach_bin, *args], cwd=folder, env=env, **popen)


def test_serve_sends_the_reminder_at_its_simulated_moment_and_a_press_marks_it_done(
        kehoach_bin: str, db: Engine, db_url: str, plan_file: Path, api: FakeBotAPI,
        tmp_path: Path) -> None:
    load(db, plan_file)
    with store.read_session(db) as s:
        reminders = s.execute(select(steps_table.c.reminders)
                              .where(steps_table.c.id == STEP)).scalar_one()
    moment = datetime.fromisoformat(reminders[-1])  # the last reminder before 25/05/2022
    with store.write_session(db) as s:
        pid = add_person(s, "Anh Ba", "doan-a", NOW)
        s.execute(update(people_table).where(people_table.c.id == pid)
                  .values(telegram_chat_id=CHAT, telegram_linked_at=NOW))
        s.execute(update(steps_table).where(steps_table.c.next_action_at < moment)
                  .values(next_action_at=None))  # only the reminder under test is due:
        s.execute(update(steps_table).where(steps_table.c.id == STEP)  # as if loaded just
                  .values(next_action_at=moment))                      # before it
    start = moment - timedelta(seconds=20)
    err = (tmp_path / "serve.err").open("wb")
    proc = kehoach(kehoach_bin, db_url, api, tmp_path, "serve", "--tick-seconds", "0.5",
                   "--poll-seconds", "0.2",
                   extra={"KEHOACH_SIMULATED_NOW": f"{start.isoformat()}*4",
                          # no digest missed within its grace at start: the reminder only
                          "KEHOACH_DIGEST_HOUR": "23:00"},
                   stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_for(lambda: api.calls_of("setMyCommands"), "the bot in serve to start", 30)
        sent = wait_for(lambda: [m for m in api.sent() if int(m["chat_id"]) == CHAT],
                        "the reminder", 30)
        assert "Nhắc việc" in sent[0]["text"] and "Báo cáo tháng" in sent[0]["text"]
        def delivered() -> tuple[Any, Any] | None:  # recorded once the send returned
            with store.read_session(db) as s:
                row = s.execute(select(outbox_table).where(
                    outbox_table.c.person_id == pid,
                    outbox_table.c.channel == "telegram")).one()
                found = s.execute(select(deliveries_table).where(
                    deliveries_table.c.outbox_id == row.id)).one_or_none()
            return (row, found) if found is not None else None
        row, delivery = wait_for(delivered, "the delivery row", 20)
        # Decided and sent at the simulated moment, not before (and not much after).
        assert moment <= row.created_at < moment + timedelta(seconds=20)
        assert moment <= delivery.at < moment + timedelta(seconds=20)
        assert delivery.outcome == "sent" and delivery.remote_id.startswith(f"{CHAT}:")
        assert row.payload["moment"] == moment.isoformat()

        message = api.shown(CHAT)[0]
        query = api.press(CHAT, message["message_id"], f"d:{row.id}")
        wait_for(lambda: api.answers.get(query), "the answer to the press", 20)

        def state() -> str:
            with store.read_session(db) as s:
                return str(s.execute(select(steps_table.c.state)
                                     .where(steps_table.c.id == STEP)).scalar_one())
        wait_for(lambda: state() == "done", "the step to be done", 20)
        last = transitions(db, STEP)[-1]
        assert (last.event, last.actor, last.channel) == ("done", "Anh Ba", "telegram")
        assert moment <= last.at < moment + timedelta(minutes=5)  # the simulated time
        wait_for(lambda: "Đã hoàn thành" in api.shown(CHAT)[0]["text"], "the edit", 20)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait(10)
        err.close()
    log = (tmp_path / "serve.err").read_text(encoding="utf-8", errors="replace")
    assert code == 0, log
    assert "Telegram: bật" in log and "Đồng hồ giả lập" in log
    assert "Traceback" not in log, log


def test_invite_prints_the_bot_link_and_stores_only_the_hash(
        kehoach_bin: str, db: Engine, db_url: str, plan_file: Path, api: FakeBotAPI,
        tmp_path: Path) -> None:
    load(db, plan_file)
    with store.write_session(db) as s:
        add_person(s, "Anh Ba", "doan-a", NOW, login="anhba")
    done = kehoach(kehoach_bin, db_url, api, tmp_path, "invite", "anhba", "--days", "3",
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = done.communicate(timeout=60)
    text = out.decode()
    assert done.returncode == 0, err.decode()
    link = re.search(r"https://t\.me/kehoach_test_bot\?start=([A-Za-z0-9_-]+)", text)
    assert link is not None, text
    code = link.group(1)
    assert len(code) >= 22 and f"Mã: {code}" in text  # ≥ 128 bits
    with store.read_session(db) as s:
        invite = s.execute(select(invites_table)).one()
    assert invite.code_hash == code_hash(code) and code not in invite.code_hash
    assert invite.expires_at - invite.created_at == timedelta(days=3)

    env_without = {**os.environ, "KEHOACH_DATABASE_URL": db_url}
    env_without.pop("KEHOACH_TELEGRAM_TOKEN", None)
    plain = subprocess.run([kehoach_bin, "invite", "anhba"], check=False, cwd=tmp_path, env=env_without,
                           capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0 and "https://t.me/TEN_BOT?start=" in plain.stdout
    assert "/start " in plain.stdout

    missing = subprocess.run([kehoach_bin, "invite", "khong-co"], check=False, cwd=tmp_path,
                             env=env_without, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "không có người" in missing.stderr
    time.sleep(0)
