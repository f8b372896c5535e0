"""End to end: `kehoach serve` as a subprocess (the installed console script), pointed at the
loopback Bot API, on a simulated clock (KEHOACH_SIMULATED_NOW); a reminder reaches the linked
chat at its simulated moment, a button press marks the step done in the database. Also
`kehoach invite` asking the bot's name with getMe, and serve + two workers sharing one bot
token within Telegram's limits, the sender stopped half-way."""

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
from sqlalchemy import Engine, func, insert, select, update

from kehoach import store
from kehoach.chat.links import code_hash, set_contact
from kehoach.serve import TELEGRAM_LINE
from kehoach.store.models import (
    contacts_table,
    deliveries_table,
    invites_table,
    outbox_table,
    people_table,
    steps_table,
    units_table,
)
from kehoach.store.people import add_person
from tests.conftest import NOW, load, transitions
from tests.fake_bot_api import FakeBotAPI
from tests.loopback import LoopbackServer
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


def kehoach(
    kehoach_bin: str,
    db_url: str,
    api: LoopbackServer,
    folder: Path,
    *args: str,
    extra: dict[str, str] | None = None,
    bot: tuple[str, str] = ("TELEGRAM", TOKEN),
    **popen: Any,
) -> subprocess.Popen[bytes]:
    """`kehoach ARGS` in `folder`, its chat channel `bot` (the settings' name, its token)
    pointed at the stand-in `api`."""
    prefix, token = bot
    env = {
        **os.environ,
        "KEHOACH_DATABASE_URL": db_url,
        f"KEHOACH_{prefix}_TOKEN": token,
        f"KEHOACH_{prefix}_BASE_URL": api.base_url,
        "KEHOACH_HTTP_PORT": str(free_port()),
        **(extra or {}),
    }
    env.pop("KEHOACH_SMTP_HOST", None)
    return subprocess.Popen([kehoach_bin, *args], cwd=folder, env=env, **popen)


def test_serve_sends_the_reminder_at_its_simulated_moment_and_a_press_marks_it_done(
    kehoach_bin: str, db: Engine, db_url: str, plan_file: Path, api: FakeBotAPI, tmp_path: Path
) -> None:
    load(db, plan_file)
    with store.read_session(db) as s:
        reminders = s.execute(
            select(steps_table.c.reminders).where(steps_table.c.id == STEP)
        ).scalar_one()
    moment = datetime.fromisoformat(reminders[-1])  # the last reminder before 25/05/2022
    with store.write_session(db) as s:
        pid = add_person(s, "Anh Ba", "doan-a", NOW)
        set_contact(s, pid, "telegram", str(CHAT), NOW)
        s.execute(
            update(steps_table)
            .where(steps_table.c.next_action_at < moment)
            .values(next_action_at=None)
        )  # only the reminder under test is due:
        s.execute(
            update(steps_table)
            .where(steps_table.c.id == STEP)  # as if loaded just
            .values(next_action_at=moment)
        )  # before it
    start = moment - timedelta(seconds=20)
    err = (tmp_path / "serve.err").open("wb")
    proc = kehoach(
        kehoach_bin,
        db_url,
        api,
        tmp_path,
        "serve",
        "--tick-seconds",
        "0.5",
        "--poll-seconds",
        "0.2",
        extra={
            "KEHOACH_SIMULATED_NOW": f"{start.isoformat()}*4",
            # no digest missed within its grace at start: the reminder only
            "KEHOACH_DIGEST_HOUR": "23:00",
        },
        stdout=subprocess.DEVNULL,
        stderr=err,
    )
    try:
        wait_for(lambda: api.calls_of("setMyCommands"), "the bot in serve to start", 30)
        sent = wait_for(
            lambda: [m for m in api.sent() if int(m["chat_id"]) == CHAT], "the reminder", 30
        )
        assert "Nhắc việc" in sent[0]["text"] and "Báo cáo tháng" in sent[0]["text"]

        def delivered() -> tuple[Any, Any] | None:  # recorded once the send returned
            with store.read_session(db) as s:
                row = s.execute(
                    select(outbox_table).where(
                        outbox_table.c.person_id == pid, outbox_table.c.channel == "telegram"
                    )
                ).one()
                found = s.execute(
                    select(deliveries_table).where(deliveries_table.c.outbox_id == row.id)
                ).one_or_none()
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
                return str(
                    s.execute(
                        select(steps_table.c.state).where(steps_table.c.id == STEP)
                    ).scalar_one()
                )

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
    kehoach_bin: str, db: Engine, db_url: str, plan_file: Path, api: FakeBotAPI, tmp_path: Path
) -> None:
    load(db, plan_file)
    with store.write_session(db) as s:
        add_person(s, "Anh Ba", "doan-a", NOW, login="anhba")
    done = kehoach(
        kehoach_bin,
        db_url,
        api,
        tmp_path,
        "invite",
        "anhba",
        "--days",
        "3",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
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
    plain = subprocess.run(
        [kehoach_bin, "invite", "anhba"],
        check=False,
        cwd=tmp_path,
        env=env_without,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert plain.returncode == 0 and "https://t.me/TEN_BOT?start=" in plain.stdout
    assert "/start " in plain.stdout

    missing = subprocess.run(
        [kehoach_bin, "invite", "khong-co"],
        check=False,
        cwd=tmp_path,
        env=env_without,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1 and "không có người" in missing.stderr
    time.sleep(0)


def queue_reminders(engine: Engine, count: int, chats: int, channel: str = "telegram") -> None:
    """`count` due reminders to `chats` people linked on `channel`, in turn (outbox rows, as
    a tick makes)."""
    payload = {
        "plan_id": "kh",
        "title": "Báo cáo tháng",
        "kind": "deadline",
        "event": False,
        "unit": "doan-a",
        "unit_name": "Đoàn phường A",
        "due_at": "2022-05-25T17:00:00+00:00",
        "due_day": "25/05/2022",
        "amount": None,
        "moment": "2022-05-18T02:00:00+00:00",
        "late": False,
        "skipped": 0,
        "status": "sắp đến hạn",
        "days_late": 0,
        "recipient_name": "Đoàn phường A",
    }
    with store.write_session(engine) as s:
        s.execute(insert(units_table).values(id="doan-a", name="Đoàn phường A"))
        s.execute(
            insert(people_table),
            [
                {
                    "name": f"Người {i}",
                    "unit_id": "doan-a",
                    "active": True,
                    "created_at": NOW,
                    "board_role": "member",
                }
                for i in range(chats)
            ],
        )
        ids = list(s.execute(select(people_table.c.id).order_by(people_table.c.id)).scalars())
        s.execute(
            insert(contacts_table),
            [
                {"person_id": pid, "channel": channel, "address": str(10_000 + i), "linked_at": NOW}
                for i, pid in enumerate(ids)
            ],
        )
        s.execute(
            insert(outbox_table),
            [
                {
                    "idempotency_key": f"rate|{i}",
                    "step_id": None,
                    "person_id": ids[i % chats],
                    "unit_id": "doan-a",
                    "channel": channel,
                    "purpose": "reminder",
                    "level": 0,
                    "payload": {**payload, "step_id": f"kh/bao-cao/{i}", "person_name": "Người"},
                    "state": "pending",
                    "attempts": 0,
                    "not_before": NOW,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(count)
            ],
        )


def sent(engine: Engine) -> int:
    """The outbox rows sent."""
    with store.read_session(engine) as s:
        return int(
            s.execute(
                select(func.count()).select_from(outbox_table).where(outbox_table.c.state == "sent")
            ).scalar_one()
        )


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # the case
def test_serve_and_two_workers_share_one_token_within_telegram_limits(
    kehoach_bin: str, empty: Engine, db_url: str, api: FakeBotAPI, tmp_path: Path
) -> None:
    """Three sending processes, one token, the Bot API answering 429 above 30/s overall and
    1/s per chat: one process sends (and runs the bot), nothing is refused; stopped half-way,
    another takes over and sends the rest."""
    store.upgrade(empty)
    queue_reminders(empty, 300, 100)
    api.limits(overall=30, per_chat=1.0)
    logs = [tmp_path / f"{name}.err" for name in ("serve", "worker1", "worker2")]
    procs = [
        kehoach(
            kehoach_bin,
            db_url,
            api,
            tmp_path,
            *args,
            "--poll-seconds",
            "0.2",
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        for args, log in zip((["serve"], ["worker"], ["worker"]), logs, strict=True)
    ]
    try:
        wait_for(lambda: sent(empty) >= 100, "the first hundred", 90)
        assert api.too_many == 0, api.too_many_why
        holders = [i for i, log in enumerate(logs) if TELEGRAM_LINE in log.read_text("utf-8")]
        assert len(holders) == 1, [log.read_text("utf-8") for log in logs]
        procs[holders[0]].send_signal(signal.SIGTERM)  # finishes its batch, hands over
        assert procs[holders[0]].wait(60) == 0
        wait_for(lambda: sent(empty) == 300, "all 300 reminders", 90)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(60) for proc in procs]
    texts = [log.read_text("utf-8") for log in logs]
    assert api.too_many == 0, api.too_many_why
    assert len(api.sent()) == 300  # each once
    assert sum(TELEGRAM_LINE in text for text in texts) == 2  # taken over once
    assert codes == [0, 0, 0] and not any("Traceback" in text for text in texts), texts
