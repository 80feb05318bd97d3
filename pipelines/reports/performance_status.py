"""The ``performance`` part of ``status``: the champion's latest realized and estimated primary metric, its trend
and the latest decay check, from the pipeline's database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

import numpy as np
import pandas as pd
import sqlalchemy as sa

from pipelines.performance import store
from pipelines.performance.cadence import schedule_gap_days
from pipelines.performance.measure import ALL_ROWS
from pipelines.registry import db


@dataclass(frozen=True)
class DayValue:
    """A metric's value on one day and the rows it was measured on."""

    day: str
    value: float | None
    rows: int


@dataclass(frozen=True)
class PerformanceStatus:
    """How the champion performs after promotion, as last measured."""

    champion_version: int
    metric: str
    realized: DayValue | None
    estimated: DayValue | None
    trend_per_week: float | None
    checked_at: str | None
    decay: bool | None
    confirmed: bool | None
    recommended_retrain_days: float | None = None
    schedule_warning: str | None = None


def latest_performance(
    model: str, champion_version: int | None, metric: str, cron: str | None = None
) -> PerformanceStatus | None:
    """The champion's newest measurements and decay check, and the latest ``cadence`` against the retrain
    schedule ``cron``; None before anything was measured.
    """
    if champion_version is None:
        return None
    series = store.series(model)
    mine = series[
        (series["model_version"] == champion_version) & (series["slice"] == ALL_ROWS) & (series["metric"] == metric)
    ]
    check, cadence = _latest_check(model), store.latest_cadence(model)
    if mine.empty and check is None and cadence is None:
        return None
    realized = mine[mine["kind"] == "realized"]
    recommended = cadence[1] if cadence else None
    return PerformanceStatus(
        champion_version=champion_version,
        metric=metric,
        realized=_newest(realized),
        estimated=_newest(mine[mine["kind"] == "estimated"]),
        trend_per_week=_trend(realized),
        checked_at=check[0] if check else None,
        decay=check[1] if check else None,
        confirmed=check[2] if check else None,
        recommended_retrain_days=recommended,
        schedule_warning=_schedule_warning(cron, recommended),
    )


def _schedule_warning(cron: str | None, recommended: float | None) -> str | None:
    """A warning when the retrain schedule leaves longer gaps than the measured cadence recommends."""
    if recommended is None:
        return None
    gap = schedule_gap_days(cron)
    if gap is None:
        return f"no retrain schedule, and cadence recommends retraining at least every {recommended:.0f} days"
    if gap > recommended:
        return f"the retrain schedule ({cron}) leaves {gap:.0f} days between runs; cadence recommends {recommended:.0f}"
    return None


def _newest(rows: pd.DataFrame) -> DayValue | None:
    if rows.empty:
        return None
    last = rows.sort_values("day").iloc[-1]
    value = last["value"]
    return DayValue(str(last["day"]), None if pd.isna(value) else float(value), int(last["rows"]))


def _trend(realized: pd.DataFrame) -> float | None:
    """The least-squares slope of the daily realized metric, per week; None with fewer than 7 days."""
    known = realized.dropna(subset=["value"])
    if len(known) < 7:
        return None
    days = (pd.to_datetime(known["day"]) - pd.Timestamp(known["day"].min())).dt.days.to_numpy(dtype=float)
    slope = np.polyfit(days, known["value"].to_numpy(dtype=float), 1)[0]
    return round(float(slope) * 7, 6)


def _latest_check(model: str) -> tuple[str, bool, bool] | None:
    table = db.PERFORMANCE_CHECKS
    query = (
        sa.select(table.c.checked_at, table.c.decay, table.c.confirmed)
        .where(table.c.model == model)
        .order_by(table.c.checked_at.desc())
        .limit(1)
    )
    with db.engine().connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    moment = row.checked_at if row.checked_at.tzinfo else row.checked_at.replace(tzinfo=UTC)  # SQLite: naive UTC
    return moment.isoformat(), bool(row.decay), bool(row.confirmed)
