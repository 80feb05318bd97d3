"""The ``performance`` part of ``status``: the champion's latest realized and estimated primary metric, its trend
and the latest decay check, from the pipeline's database.

It reads the tables itself, in plain Python: the measuring code (``pipelines.performance.store`` and ``measure``)
imports pandas and the CBPE estimator, more than ``status`` may spend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any

import sqlalchemy as sa

from pipelines.registry import db

ALL_ROWS = ""
"""``pipelines.performance.measure.ALL_ROWS``, the slice of a day's measurement over all its rows (a test keeps the
two equal; importing it from there would cost pandas)."""


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
    days = _daily(model, champion_version, metric)
    check, recommended = _latest_check(model), _recommended_days(model)
    if not days and check is None and recommended is None:
        return None
    realized = [d for d in days if d.kind == "realized"]
    return PerformanceStatus(
        champion_version=champion_version,
        metric=metric,
        realized=_newest(realized),
        estimated=_newest([d for d in days if d.kind == "estimated"]),
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
    from pipelines.performance.cadence import schedule_gap_days

    gap = schedule_gap_days(cron)
    if gap is None:
        return f"no retrain schedule, and cadence recommends retraining at least every {recommended:.0f} days"
    if gap > recommended:
        return f"the retrain schedule ({cron}) leaves {gap:.0f} days between runs; cadence recommends {recommended:.0f}"
    return None


@dataclass(frozen=True)
class _Day:
    day: str
    kind: str
    value: float | None
    rows: int


def _daily(model: str, version: int, metric: str) -> list[_Day]:
    """The version's measurements of ``metric`` over all rows, by day (oldest first) and kind."""
    table = db.PERFORMANCE
    query = (
        sa.select(table.c.day, table.c.kind, table.c.value, table.c.rows)
        .where(
            table.c.model == model,
            table.c.model_version == version,
            table.c.slice == ALL_ROWS,
            table.c.metric == metric,
        )
        .order_by(table.c.day, table.c.kind)
    )
    with db.engine().connect() as conn:
        rows = conn.execute(query).all()
    return [_Day(r.day, r.kind, _number(r.value), int(r.rows)) for r in rows]


def _number(value: Any) -> float | None:
    return None if value is None or math.isnan(float(value)) else float(value)


def _newest(days: list[_Day]) -> DayValue | None:
    if not days:
        return None
    last = max(days, key=lambda d: d.day)
    return DayValue(str(last.day), last.value, last.rows)


def _trend(realized: list[_Day]) -> float | None:
    """The least-squares slope of the daily realized metric, per week; None with fewer than 7 days."""
    known = [(date.fromisoformat(d.day), d.value) for d in realized if d.value is not None]
    if len(known) < 7:
        return None
    first = min(day for day, _ in known)
    xs = [float((day - first).days) for day, _ in known]
    ys = [value for _, value in known]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum((x - mean_x) ** 2 for x in xs)
    return round(slope * 7, 6)


def _recommended_days(model: str) -> float | None:
    """The newest ``cadence`` result's recommended retrain interval (``store.latest_cadence``), or None."""
    table = db.CADENCES
    query = (
        sa.select(table.c.result)
        .where(table.c.model == model)
        .order_by(table.c.computed_at.desc(), table.c.id.desc())
        .limit(1)
    )
    with db.engine().connect() as conn:
        result = conn.execute(query).scalar()
    return None if result is None else dict(result).get("recommended_days")


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
