"""Zalo with real processes (the installed `kehoach` console script) against the loopback
stand-in: serve and two workers share one bot token, the stand-in answering 429 above the
configured rate (one process sends, nothing is refused, the sender stopped half-way hands
over); a worker killed with SIGKILL in the middle of multi-part digests and restarted sends
no part twice and loses none but the row it was sending (parked «unknown»)."""

from __future__ import annotations

import re
import signal
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from kehoach import store
from kehoach.chat.links import set_contact
from kehoach.chat.zalo_bot import ZaloBot
from kehoach.serve import SENDER_LINE
from kehoach.store.dispatch import LEASE, release_stale_claims
from kehoach.store.models import contacts_table, outbox_table, units_table
from kehoach.store.people import add_person
from notifiers.base import Notification, Recipient
from notifiers.zalo import Limiter, ZaloAPI
from notifiers.zalo_render import render
from tests.conftest import NOW, load
from tests.test_telegram_bot import Running, wait_for
from tests.test_telegram_channel import digest_payload
from tests.test_telegram_serve import free_port, kehoach, queue_reminders, sent
from tests.zalo_api import TOKEN, FakeZaloAPI

ZALO = ("ZALO", TOKEN)
HOLDER = f"{SENDER_LINE} Zalo"


def states(engine: Engine) -> Counter[str]:
    with store.read_session(engine) as s:
        return Counter(s.execute(select(outbox_table.c.state)).scalars())


def stop_all(procs: list[subprocess.Popen[bytes]]) -> list[int]:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    return [proc.wait(60) for proc in procs]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # several processes
def test_serve_and_two_workers_share_one_zalo_token_within_the_rate(
    kehoach_bin: str, empty: Engine, db_url: str, zalo_api: FakeZaloAPI, tmp_path: Path
) -> None:
    store.upgrade(empty)
    queue_reminders(empty, 150, 50, channel="zalo")
    zalo_api.limits(rate=15)  # what the operator configured is what the API takes
    logs = [tmp_path / f"{name}.err" for name in ("serve", "worker1", "worker2")]
    procs = [
        kehoach(
            kehoach_bin,
            db_url,
            zalo_api,
            tmp_path,
            *args,
            "--poll-seconds",
            "0.2",
            bot=ZALO,
            extra={"KEHOACH_ZALO_RATE": "15"},
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        for args, log in zip((["serve"], ["worker"], ["worker"]), logs, strict=True)
    ]
    try:
        wait_for(lambda: sent(empty) >= 50, "the first fifty", 90)
        holders = [i for i, log in enumerate(logs) if HOLDER in log.read_text("utf-8")]
        assert len(holders) == 1, [log.read_text("utf-8") for log in logs]
        procs[holders[0]].send_signal(signal.SIGTERM)  # finishes its batch, hands over
        assert procs[holders[0]].wait(60) == 0
        wait_for(lambda: sent(empty) == 150, "all 150 reminders", 120)
    finally:
        codes = stop_all(procs)
    texts = [log.read_text("utf-8") for log in logs]
    assert zalo_api.too_many == 0
    assert len(zalo_api.sent()) == 150  # each once
    assert sum(HOLDER in text for text in texts) == 2  # taken over once
    assert codes == [0, 0, 0] and not any("Traceback" in text for text in texts), texts


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # one process
def test_webhook_answers_share_the_rate_with_the_reminders(
    kehoach_bin: str, empty: Engine, db_url: str, zalo_api: FakeZaloAPI, tmp_path: Path
) -> None:
    """With a webhook, the board's /zalo/webhook hands the updates to the bot serve runs for
    the token, so its answers and the reminders keep together under the configured rate (a
    bot of the board's own had a limiter of its own: both sent at the full rate)."""
    store.upgrade(empty)
    queue_reminders(empty, 24, 4, channel="zalo")
    zalo_api.limits(rate=3)
    port = free_port()
    log = tmp_path / "serve.err"
    with log.open("wb") as errors:  # the child has its own copy of the descriptor
        proc = kehoach(
            kehoach_bin,
            db_url,
            zalo_api,
            tmp_path,
            "serve",
            "--poll-seconds",
            "0.2",
            bot=ZALO,
            extra={
                "KEHOACH_ZALO_RATE": "3",
                "KEHOACH_HTTP_PORT": str(port),
                "KEHOACH_ZALO_WEBHOOK_URL": f"http://127.0.0.1:{port}/zalo/webhook",
                "KEHOACH_ZALO_WEBHOOK_SECRET": "bi-mat-zalo-123",
            },
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )
    asking = [f"hoi-{i}" for i in range(12)]
    try:
        wait_for(lambda: zalo_api.webhook.get("url"), "setWebhook", 60)
        wait_for(lambda: sent(empty) >= 2, "the first reminders", 60)
        for chat in asking:  # while the reminders go out
            zalo_api.message(chat, "/help")
        wait_for(lambda: sent(empty) == 24, "all 24 reminders", 120)
        wait_for(lambda: all(zalo_api.texts_to(c) for c in asking), "the 12 answers", 60)
    finally:
        code = stop_all([proc])
    text = log.read_text("utf-8")
    assert zalo_api.webhook_answers == [200] * len(asking)
    assert zalo_api.too_many == 0, text
    assert len(zalo_api.sent()) == 24 + len(asking)
    assert code == [0] and "Traceback" not in text, text


def test_invite_for_zalo_prints_a_code_the_bot_takes(
    kehoach_bin: str,
    db: Engine,
    db_url: str,
    plan_file: Path,
    zalo_api: FakeZaloAPI,
    tmp_path: Path,
) -> None:
    load(db, plan_file)
    with store.write_session(db) as s:
        pid = add_person(s, "Anh Ba", "doan-a", NOW, login="anhba")
    done = kehoach(
        kehoach_bin,
        db_url,
        zalo_api,
        tmp_path,
        "invite",
        "anhba",
        "--channel",
        "zalo",
        bot=ZALO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = done.communicate(timeout=60)
    text = out.decode()
    assert done.returncode == 0, err.decode()
    found = re.search(r"Mã: ([A-Za-z0-9_-]+)", text)
    assert found is not None and "gửi mã này cho bot" in text and "t.me" not in text, text
    running = Running(
        ZaloBot(
            db,
            ZaloAPI(TOKEN, zalo_api.base_url),
            now=lambda: NOW,
            limiter=Limiter(None),
            poll_timeout=1,
        )
    )
    try:
        zalo_api.message("z-ba", found.group(1))
        wait_for(lambda: any("Đã liên kết" in t for t in zalo_api.texts_to("z-ba")), "the link")
    finally:
        running.close()
    with store.read_session(db) as s:
        linked = s.execute(select(contacts_table).where(contacts_table.c.person_id == pid)).one()
    assert (linked.channel, linked.address) == ("zalo", "z-ba")


ROWS, ITEMS = 40, 20
AT = datetime(2022, 6, 2, 0, 30, tzinfo=UTC)


def queue_digests(engine: Engine) -> list[Notification]:
    """ROWS digests of ITEMS late steps each (several messages apiece), their titles naming
    the row; the notifications as the channel will see them."""
    with store.write_session(engine) as s:
        s.execute(insert(units_table).values(id="doan-a", name="Đoàn phường A"))
        people = []
        for i in range(4):
            pid = add_person(s, f"Người {i}", "doan-a", NOW)
            set_contact(s, pid, "zalo", f"z-{i}", NOW)
            people.append(pid)
        rows: list[dict[str, Any]] = []
        for row in range(ROWS):
            payload = digest_payload(ITEMS, title_len=60)
            payload["late"] = [
                {**item, "title": f"K{row:03d} việc {n} " + "x" * 200}
                for n, item in enumerate(payload["late"])
            ]
            payload["lost_links"] = []
            rows.append(
                {
                    "idempotency_key": f"digest|K{row:03d}",
                    "step_id": None,
                    "person_id": people[row % 4],
                    "unit_id": "doan-a",
                    "channel": "zalo",
                    "purpose": "digest",
                    "level": None,
                    "payload": payload,
                    "state": "pending",
                    "attempts": 0,
                    "not_before": AT,
                    "created_at": AT,
                    "updated_at": AT,
                }
            )
        s.execute(insert(outbox_table), rows)
    return [
        Notification(
            0,
            f"digest|K{row:03d}",
            "doan-a",
            "digest",
            None,
            rows[row]["payload"],
            1,
            Recipient(0, f"Người {row % 4}"),
        )
        for row in range(ROWS)
    ]


def test_a_worker_killed_mid_digest_sends_no_part_twice(
    kehoach_bin: str, db: Engine, db_url: str, zalo_api: FakeZaloAPI, tmp_path: Path
) -> None:
    notes = queue_digests(db)
    parts = {n.key: render(n) for n in notes}
    assert all(len(p) >= 3 for p in parts.values())
    total = sum(len(p) for p in parts.values())

    def start(name: str) -> subprocess.Popen[bytes]:
        return kehoach(
            kehoach_bin,
            db_url,
            zalo_api,
            tmp_path,
            "worker",
            "--poll-seconds",
            "0.1",
            bot=ZALO,
            extra={"KEHOACH_ZALO_RATE": "40"},
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / name).open("wb"),
        )

    first = start("first.err")
    try:
        wait_for(lambda: len(zalo_api.sent()) >= total // 3, "a third of the parts", 90)
    finally:
        first.kill()  # SIGKILL, in the middle of a digest's parts
        first.wait(10)
    in_flight = states(db)["sending"]
    assert in_flight <= 2 and 0 < len(zalo_api.sent()) < total
    second = start("second.err")
    try:
        wait_for(
            lambda: not (states(db)["pending"] or states(db)["claimed"]), "the rest to be sent", 120
        )
    finally:
        assert stop_all([second]) == [0], (tmp_path / "second.err").read_text("utf-8")
    with store.write_session(db) as s:  # the dead worker's row, after its lease
        release_stale_claims(s, AT, datetime.now(UTC) + 2 * LEASE)
    with store.read_session(db) as s:
        final = {
            r.idempotency_key: r.state
            for r in s.execute(select(outbox_table.c.idempotency_key, outbox_table.c.state))
        }
    got = Counter(m["text"] for m in zalo_api.sent())
    assert max(got.values()) == 1  # no part twice
    assert (
        set(final.values()) <= {"sent", "unknown"}
        and sum(v == "unknown" for v in final.values()) <= in_flight
    )
    for key, state in final.items():
        if state == "sent":
            assert all(got[text] == 1 for text in parts[key]), key
    lost = {key for key, texts in parts.items() if not all(got[t] for t in texts)}
    assert lost <= {key for key, state in final.items() if state == "unknown"}
    assert "Traceback" not in (tmp_path / "second.err").read_text("utf-8")
