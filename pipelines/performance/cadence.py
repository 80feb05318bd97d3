"""How often to retrain, from measured decay: a model's primary metric on each later labelled week as a function
of its age, the decay fitted over many models, and the longest retrain interval that keeps the expected metric
within a tolerance of its fresh value.

Pure functions. A point is one model (a past version, or a model replayed at an earlier date) on one later week.
The slope of the metric per day of age is fitted within models (each model its own level, one slope for all),
so models that start better or worse do not bend it; its interval comes from resampling whole models (their
weeks move together). The recommendation is ``tolerance / -slope`` days, capped at the oldest age observed: a
longer interval would be a guess past the data.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from pipelines.model.metrics import HIGHER_IS_BETTER


@dataclass(frozen=True)
class AgePoint:
    """One model's metric on one labelled week, ``age_days`` after the end of its training window."""

    model_id: str
    age_days: float
    value: float
    rows: int


@dataclass(frozen=True)
class Cadence:
    """The fitted decay and the recommended retrain interval, with their uncertainty."""

    metric: str
    tolerance: float
    models: int
    points: list[AgePoint]
    slope_per_day: float | None
    slope_interval: tuple[float, float] | None
    recommended_days: float | None
    recommended_interval: tuple[float, float | None] | None
    horizon_days: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The cadence as a plain dict."""
        return asdict(self)


def fit_cadence(
    points: Sequence[AgePoint],
    metric: str,
    tolerance: float,
    samples: int = 500,
    confidence: float = 0.9,
    seed: int = 0,
) -> Cadence:
    """Fit the decay of ``metric`` with age over ``points`` and recommend a retrain interval (see the module)."""
    usable = [p for p in points if np.isfinite(p.value)]
    by_model = _by_model(usable)
    weekly = {m: _signed(rows, metric) for m, rows in by_model.items() if len(rows) >= 2}
    horizon = max((p.age_days for p in usable), default=0.0)
    fitted = _fitted(weekly, tolerance, horizon, samples, confidence, seed) if len(weekly) >= 2 else None
    if fitted is None:
        note = f"{len(weekly)} model(s) with two or more labelled weeks: at least 2 are needed to fit a decay"
        return Cadence(metric, tolerance, len(weekly), list(points), None, None, None, None, horizon, [note])
    slope, interval, recommended, recommended_interval = fitted
    notes = []
    if slope >= 0:
        notes.append(f"no decay measured over {horizon:.0f} days of age: retraining is not limited by decay so far")
    elif recommended >= horizon:
        notes.append(f"the expected fall stays within the tolerance over the {horizon:.0f} days observed")
    return Cadence(
        metric, tolerance, len(weekly), list(points), slope, interval, recommended, recommended_interval, horizon, notes
    )


def _fitted(
    weekly: dict[str, list[tuple[float, float]]],
    tolerance: float,
    horizon: float,
    samples: int,
    confidence: float,
    seed: int,
) -> tuple[float, tuple[float, float], float, tuple[float, float | None]]:
    """The slope, its bootstrap interval (whole models resampled), the recommended days and their interval."""
    slope = _slope(list(weekly.values()))
    rng = np.random.default_rng(seed)
    keys = list(weekly)
    draws = [_slope([weekly[keys[i]] for i in rng.integers(0, len(keys), len(keys))]) for _ in range(samples)]
    tail = (1 - confidence) / 2 * 100
    low, high = (float(v) for v in np.percentile(draws, [tail, 100 - tail]))
    steepest, gentlest = _interval(low, tolerance, horizon), _interval(high, tolerance, horizon)
    recommended = _interval(slope, tolerance, horizon)
    return slope, (low, high), recommended, (steepest, None if gentlest >= horizon else gentlest)


def _by_model(points: Sequence[AgePoint]) -> dict[str, list[AgePoint]]:
    found: dict[str, list[AgePoint]] = {}
    for point in sorted(points, key=lambda p: (p.model_id, p.age_days)):
        found.setdefault(point.model_id, []).append(point)
    return found


def _signed(rows: list[AgePoint], metric: str) -> list[tuple[float, float]]:
    """(age in days, value) of one model's weeks, the value signed so that worse is lower."""
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    return [(p.age_days, sign * p.value) for p in rows]


def _slope(groups: Sequence[list[tuple[float, float]]]) -> float:
    """Least-squares slope of value against age within groups (each group centred on its own means)."""
    across, spread = 0.0, 0.0
    for group in groups:
        pairs = np.array(group, dtype=float)
        ages, values = pairs[:, 0] - pairs[:, 0].mean(), pairs[:, 1] - pairs[:, 1].mean()
        across += float(np.sum(ages * values))
        spread += float(np.sum(ages**2))
    return across / spread if spread > 0 else 0.0


def _interval(slope: float, tolerance: float, horizon: float) -> float:
    """Days until the expected fall reaches the tolerance, capped at the horizon observed."""
    if slope >= 0:
        return horizon
    return float(min(tolerance / -slope, horizon))


def schedule_gap_days(cron: str | None) -> float | None:
    """The longest gap, in days, between two of the next 400 runs of ``cron``; None without a schedule."""
    if cron is None:
        return None
    from croniter import croniter

    runs = croniter(cron, datetime(2026, 1, 1, tzinfo=UTC))
    moments = [runs.get_next(datetime) for _ in range(400)]
    gaps = [(later - earlier).total_seconds() / 86400 for earlier, later in itertools.pairwise(moments)]
    return max(gaps)
