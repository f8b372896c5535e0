"""`GET /metrics`: the outbox by state and channel, deliveries by outcome (and the 429s), the
oldest due message's wait, the feed cache's hits and misses and the HTTP timing, in the
Prometheus text format, parsed back with prometheus-client's own parser; on SQLite and
PostgreSQL."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from kehoach.clock import TICK_JOB, Clock
from kehoach.store import feeds, write_session
from kehoach.store.models import deliveries_table, outbox_table
from kehoach.web.app import create_app
from kehoach.web.server import background
from notifiers.testing import RecordingChannel
from tests.conftest import NOW, load


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def row(i: int, state: str, channel: str, not_before=NOW) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "idempotency_key": f"k{i}",
        "channel": channel,
        "purpose": "reminder",
        "payload": {},
        "state": state,
        "not_before": not_before,
        "created_at": NOW,
        "updated_at": NOW,
    }


def test_metrics_count_the_outbox_and_the_deliveries(db: Engine) -> None:
    with write_session(db) as s:
        s.execute(
            outbox_table.insert(),
            [
                row(1, "pending", "telegram", NOW - timedelta(minutes=5)),
                row(2, "pending", "telegram", NOW + timedelta(days=1)),  # not due yet
                row(3, "sent", "telegram"),
                row(4, "sent", "email"),
                row(5, "failed", "email"),
            ],
        )
        ids = [r.id for r in s.execute(outbox_table.select().order_by(outbox_table.c.id))]
        s.execute(
            deliveries_table.insert(),
            [
                {
                    "outbox_id": ids[2],
                    "at": NOW,
                    "channel": "telegram",
                    "outcome": "temporary",
                    "error": "Telegram: RetryAfter: Flood control exceeded. Retry in 3 seconds",
                },
                {
                    "outbox_id": ids[2],
                    "at": NOW,
                    "channel": "telegram",
                    "outcome": "sent",
                    "error": None,
                },
                {
                    "outbox_id": ids[3],
                    "at": NOW,
                    "channel": "email",
                    "outcome": "sent",
                    "error": None,
                },
                {
                    "outbox_id": ids[4],
                    "at": NOW,
                    "channel": "email",
                    "outcome": "permanent",
                    "error": None,
                },
            ],
        )
    with background(create_app({}, db, now=lambda: NOW)) as base:
        assert httpx.get(f"{base}/healthz").status_code == 200
        answer = httpx.get(f"{base}/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    got = samples(answer.text)
    assert got[("kehoach_outbox_rows", (("channel", "telegram"), ("state", "pending")))] == 2
    assert got[("kehoach_outbox_rows", (("channel", "email"), ("state", "failed")))] == 1
    assert got[("kehoach_outbox_oldest_due_seconds", ())] == 300
    assert got[("kehoach_deliveries_total", (("channel", "telegram"), ("outcome", "sent")))] == 1
    assert got[("kehoach_deliveries_total", (("channel", "email"), ("outcome", "permanent")))] == 1
    assert got[("kehoach_deliveries_rate_limited_total", (("channel", "telegram"),))] == 1
    assert (
        got[("kehoach_http_request_duration_seconds_count", (("method", "GET"), ("status", "200")))]
        >= 1
    )
    assert ("kehoach_clock_next_tick_seconds", ()) not in got  # no clock has run here


def test_metrics_say_when_the_clock_ticks_next(db: Engine, db_url: str) -> None:
    """A clock whose tick job is overdue (its holder died a minute ago) shows below zero."""
    jobs = Clock(db, db_url, RecordingChannel(), now=lambda: NOW).job_store()
    jobs.start(None, "default")  # type: ignore[arg-type]  (creates the table)
    with jobs.engine.begin() as conn:
        conn.execute(
            jobs.jobs_t.insert().values(id=TICK_JOB, next_run_time=time.time() - 60, job_state=b"")
        )
    jobs.engine.dispose()
    with background(create_app({}, db, now=lambda: NOW)) as base:
        got = samples(httpx.get(f"{base}/metrics").text)
    assert -120 < got[("kehoach_clock_next_tick_seconds", ())] < -59


def test_metrics_count_the_feed_caches_hits_and_misses(db: Engine, plan_file: Path) -> None:
    load(db, plan_file)
    with write_session(db) as s:
        token = feeds.create(s, "unit", "doan-a", NOW)[1]
    with background(create_app({}, db, now=lambda: NOW)) as base:
        before = samples(httpx.get(f"{base}/metrics").text)
        first, second = (httpx.get(f"{base}/lich/{token}.ics") for _ in range(2))
        assert httpx.get(f"{base}/lich/khong-co.ics").status_code == 404  # counts as neither
        got = samples(httpx.get(f"{base}/metrics").text)
    assert first.status_code == second.status_code == 200 and first.content == second.content
    assert before[("kehoach_feed_cache_misses_total", ())] == 0
    assert got[("kehoach_feed_cache_misses_total", ())] == 1
    assert got[("kehoach_feed_cache_hits_total", ())] == 1
