"""Long-running processes: `kehoach serve` and `kehoach worker`."""

from __future__ import annotations

import sys

import click

from kehoach.cli import Bounded, err, main
from kehoach.cli_store import _store_fail, settings


# ── Long-running processes (issue 3): `serve`, `worker` (kehoach/serve.py wires them) ─────
def _run_engine(clock: bool, tick_seconds: float, poll_seconds: float, limit: int) -> None:
    import asyncio
    import logging
    import signal

    from kehoach import store
    from kehoach.serve import serve as run

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("apscheduler", "alembic"):  # one line per run of every job: not news
        logging.getLogger(noisy).setLevel(logging.WARNING)

    config = settings()

    async def main_() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(
            config,
            stop,
            clock=clock,
            tick_seconds=tick_seconds,
            poll_seconds=poll_seconds,
            limit=limit,
            announce=lambda line: err.print(line, markup=False, soft_wrap=True),
        )

    try:
        asyncio.run(main_())
    except store.StoreError as exc:
        raise _store_fail(exc) from None
    err.print("Đã dừng.")


RUN_OPTIONS = [
    click.option(
        "--poll-seconds",
        default=1.0,
        show_default=True,
        type=Bounded(0.01, 3600, real=True),
        help="Khi hàng đợi trống, chờ bấy nhiêu giây rồi xem lại (0,01 đến 3600).",
    ),
    click.option(
        "--limit",
        default=100,
        show_default=True,
        type=Bounded(1, 100_000),
        help="Số tin nhận gửi mỗi lượt (1 đến 100000).",
    ),
]


@main.command()
@click.option(
    "--tick-seconds",
    default=60.0,
    show_default=True,
    type=Bounded(0.1, 86_400, real=True),
    help="Khoảng cách giữa hai nhịp của đồng hồ, giây (0,1 đến 86400).",
)
@RUN_OPTIONS[0]
@RUN_OPTIONS[1]
def serve(tick_seconds: float, poll_seconds: float, limit: int) -> None:
    """Chạy máy: đồng hồ (chỉ một tiến trình giữ, tự thay khi tiến trình đó chết) và gửi tin,
    đến khi nhận Ctrl-C hoặc SIGTERM. Từ chối chạy nếu lược đồ cơ sở dữ liệu đã cũ."""
    _run_engine(True, tick_seconds, poll_seconds, limit)


@main.command()
@RUN_OPTIONS[0]
@RUN_OPTIONS[1]
def worker(poll_seconds: float, limit: int) -> None:
    """Chỉ gửi tin từ hàng đợi (không chạy đồng hồ); chạy bao nhiêu tiến trình cũng được."""
    _run_engine(False, 60.0, poll_seconds, limit)
