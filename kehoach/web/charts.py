"""The summary pages' pictures: bar charts drawn on the server as inline SVG (no JavaScript,
printable, readable without colour: every bar has its number above it and a table beside it).

    chart = Chart("Cụm Một: tỉ lệ đúng hạn theo tháng", "%", [Bar("01/2022", 80, "80%")])
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from . import queries
from .auth import Viewer
from .queries import Month

#: At most this many months a chart (the latest ones), and this many charts a page.
MONTHS = 24
MAX_CHARTS = 12


@dataclass(frozen=True)
class Bar:
    label: str  # the month, 01/2024
    value: int
    text: str  # the number as shown: 80%, 12
    detail: str  # for the table: "8/10 đúng hạn"


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str  # "%" or "việc"
    bars: list[Bar]
    width: int = 0  # SVG geometry, set by `chart`
    height: int = 160
    bar_width: int = 22
    top: int = 0  # the scale's maximum

    def y(self, value: int) -> float:
        """The top of a bar of `value` (the plot is 20..height-30)."""
        return self.height - 30 - (self.height - 50) * value / (self.top or 1)


def chart(title: str, unit: str, bars: Sequence[Bar]) -> Chart:
    shown = list(bars)[-MONTHS:]
    top = 100 if unit == "%" else max([b.value for b in shown] + [1])
    return Chart(title, unit, shown, width=40 + 26 * len(shown), top=top)


def rate_bars(months: list[Month]) -> list[Bar]:
    return [Bar(m.label, m.rate, f"{m.rate}%", f"{m.on_time}/{m.due} đúng hạn") for m in months]


def late_bars(months: list[Month]) -> list[Bar]:
    return [Bar(m.label, m.late, str(m.late), f"{m.late}/{m.due} trễ hạn") for m in months]


def charts_for(
    session: Session,
    v: Viewer,
    now: datetime,
    by: str,
    keys: Collection[str],
    plan: str | None,
    plans: list[tuple[str, str]],
) -> list[Chart]:
    """The late count over time for everything the person sees; then the on-time rate by
    month of each cluster on the page (cluster summary) or, for a secretary, of each of the
    `plans` in scope ((id, title), `queries.plans_in`)."""
    out: list[Chart] = []
    per_plan = queries.monthly(session, v.scope, now, "plan", plan=plan)  # one GROUP BY
    total = _summed(per_plan.values())
    if total:
        out.append(
            chart(
                "Số việc trễ hạn theo tháng (hạn trong tháng, xong trễ hay chưa xong)",
                "việc",
                late_bars(total),
            )
        )
    names: dict[str, str] = {}
    if by == "cluster":
        wanted = list(keys)[:MAX_CHARTS]
        found = queries.monthly(session, v.scope, now, "cluster", wanted, plan)
        for key, name in _cluster_names(session, wanted).items():
            names[key] = f"{name}: tỉ lệ đúng hạn theo tháng"
    elif v.board_role == "secretary":
        wanted = [pid for pid, _ in plans if pid in per_plan][:MAX_CHARTS]
        found = per_plan
        names = {pid: f"{title}: tỉ lệ đúng hạn theo tháng" for pid, title in plans}
    else:
        return out
    out += [
        chart(names.get(key, key), "%", rate_bars(found[key])) for key in wanted if found.get(key)
    ]
    return out


def _summed(series: Iterable[list[Month]]) -> list[Month]:
    """Month by month sums of several series (every plan → everything seen)."""
    sums: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for months in series:
        for m in months:
            sums[(m.year, m.month)][0] += m.on_time
            sums[(m.year, m.month)][1] += m.late
    return [Month(y, mo, on, late) for (y, mo), (on, late) in sorted(sums.items())]


def _cluster_names(session: Session, keys: list[str]) -> dict[str, str]:
    from sqlalchemy import select

    from kehoach.store.models import groups_table as g

    pairs = [k.split("/", 1) for k in keys if "/" in k]
    found: dict[str, Any] = {}
    for plan_id, gid, name in session.execute(
        select(g.c.plan_id, g.c.id, g.c.name).where(
            g.c.plan_id.in_({p for p, _ in pairs}), g.c.id.in_({c for _, c in pairs})
        )
    ):
        found[f"{plan_id}/{gid}"] = name
    return {k: found[k] for k in keys if k in found}
