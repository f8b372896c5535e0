"""`GET /metrics` in the Prometheus text format (prometheus-client), for a monitor to scrape.

What the database knows is read when the monitor asks (a custom collector: one small GROUP BY
per family, so every process reports the same figures, whichever one is scraped):

- `kehoach_outbox_rows{state,channel}`: messages waiting, sent, failed, unknown;
- `kehoach_outbox_oldest_due_seconds`: how long the oldest message that is due has waited to
  be sent (grows when the clock or the senders are stuck);
- `kehoach_clock_next_tick_seconds`: when the clock's next tick is due, from its job store, by
  the machine's clock (APScheduler's); below zero the clock is late: no process holds it;
- `kehoach_deliveries_total{channel,outcome}`: every attempt at sending, by outcome, and
  `kehoach_deliveries_rate_limited_total{channel}`: those the channel refused with a
  wait (Telegram's 429 RetryAfter).

This process's own figures: `kehoach_feed_cache_hits_total` and `…_misses_total`, calendar
feed requests answered from its feed cache and those that built the feed; and its HTTP
answers, timed as they pass: `kehoach_http_request_duration_seconds`
(a histogram by method and status; paths are not labels: feed tokens are secrets and ids
would make a series per step).

    install(app, engine, now)      # in create_app
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, inspect, select, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kehoach import store
from kehoach.clock import JOB_TABLE, TICK_JOB
from kehoach.store.models import Sending
from kehoach.store.models import deliveries_table as d
from kehoach.store.models import outbox_table as o
from kehoach.web import feeds


class StoreCollector(Collector):
    """The outbox and the deliveries, counted in the database at each scrape."""

    def __init__(self, engine: Engine, now: Callable[[], datetime]):
        self.engine, self.now = engine, now

    def collect(self) -> Iterator[Metric]:
        rows = GaugeMetricFamily(
            "kehoach_outbox_rows",
            "Messages in the outbox by state and channel.",
            labels=["state", "channel"],
        )
        oldest = GaugeMetricFamily(
            "kehoach_outbox_oldest_due_seconds",
            "How long the oldest due, unsent message has waited (0 when none).",
        )
        sends = CounterMetricFamily(
            "kehoach_deliveries", "Attempts at sending, by outcome.", labels=["channel", "outcome"]
        )
        limited = CounterMetricFamily(
            "kehoach_deliveries_rate_limited",
            "Attempts the channel refused with a wait (Telegram 429 RetryAfter).",
            labels=["channel"],
        )
        tick = GaugeMetricFamily(
            "kehoach_clock_next_tick_seconds",
            "Seconds until the clock's next tick (machine time); below zero the clock is late.",
        )
        now = self.now()
        jobs = inspect(self.engine).has_table(JOB_TABLE)  # none before a clock first started
        with store.read_session(self.engine) as session:
            for state, channel, count in session.execute(
                select(o.c.state, o.c.channel, func.count()).group_by(o.c.state, o.c.channel)
            ):
                rows.add_metric([state, channel], count)
            due = session.execute(
                select(func.min(o.c.not_before)).where(
                    o.c.state == Sending.PENDING, o.c.not_before <= now
                )
            ).scalar_one()
            for channel, outcome, count in session.execute(
                select(d.c.channel, d.c.outcome, func.count()).group_by(d.c.channel, d.c.outcome)
            ):
                sends.add_metric([channel, outcome], count)
            for channel, count in session.execute(
                select(d.c.channel, func.count())
                .where(d.c.error.like("%RetryAfter%"))
                .group_by(d.c.channel)
            ):
                limited.add_metric([channel], count)
            next_run = (
                session.execute(
                    text(f"SELECT next_run_time FROM {JOB_TABLE} WHERE id = :id"), {"id": TICK_JOB}
                ).scalar_one_or_none()
                if jobs
                else None
            )
        if due is not None and due.tzinfo is None:  # SQLite gives naive UTC
            due = due.replace(tzinfo=UTC)
        oldest.add_metric([], max(0.0, (now - due).total_seconds()) if due else 0.0)
        if next_run is not None:
            tick.add_metric([], float(next_run) - time.time())
        yield from (rows, oldest, sends, limited, tick)


class FeedCacheCollector(Collector):
    """This process's feed cache: requests answered from a built feed, and those that built
    it (a low share of hits means feeds change, or expire, faster than clients ask)."""

    def __init__(self, app: FastAPI):
        self.app = app

    def collect(self) -> Iterator[Metric]:
        cache = feeds.cache_of(self.app)
        yield CounterMetricFamily(
            "kehoach_feed_cache_hits",
            "Feed requests answered from the cache (this process).",
            value=cache.hits,
        )
        yield CounterMetricFamily(
            "kehoach_feed_cache_misses",
            "Feed requests that built the feed (this process).",
            value=cache.misses,
        )


class Timing:
    """ASGI middleware: the duration of every HTTP answer, into `histogram`."""

    def __init__(self, app: ASGIApp, histogram: Histogram):
        self.app, self.histogram = app, histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status = time.perf_counter(), [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.histogram.labels(scope["method"], str(status[0])).observe(
                time.perf_counter() - began
            )


def install(app: FastAPI, engine: Engine, now: Callable[[], datetime]) -> None:
    """Add `GET /metrics` and the HTTP timing to `app` (one registry per app)."""
    registry = CollectorRegistry()
    registry.register(StoreCollector(engine, now))
    registry.register(FeedCacheCollector(app))
    latency = Histogram(
        "kehoach_http_request_duration_seconds",
        "Time to answer an HTTP request.",
        ["method", "status"],
        registry=registry,
    )
    app.add_middleware(Timing, histogram=latency)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
