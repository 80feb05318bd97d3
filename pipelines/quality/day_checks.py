"""Per-day checks: the gate sees the newest day, not only the window's average.

A window's average hides a problem confined to its last day, so the gate also validates a small per-day
aggregate of the snapshot (``day_checks``: one row per day, column and statistic, with its observed value
and the bounds it must lie within) with a generated suite ``<suite>__daily``. What it checks, for every
suite, from the config's column lists and ``quality.daily``:

- no two rows share the values of ``columns.unique_key`` (default: the entity key; added to the suite
  itself, critical);
- every feature and the label has at least one non-null value in the window, and no day has a ±inf value
  in a numeric column (always, critical);
- each day of the window (UTC days, from the first with data): its row count, each column's null rate, each
  numeric column's mean and the label's rate (binary) or mean (regression) against the typical earlier day;
- the newest increment (the last ``newest_days`` days together) against the days before it, with its own
  tolerance (a one-day increment is judged by this check only).

Bounds, per statistic: the typical value is the median of the earlier days (of the same weekday, with
``weekly`` and enough days); a value passes within ``tolerance`` noise units of it, where the noise is the
larger of the days' robust spread (1.4826 x MAD) and the day's own sampling error (rates are compared on
the arcsine-square-root scale, where that error is 1/(2 sqrt n)), or within the minimum change
(``min_rows_change``, ``min_rate_change``, ``min_mean_change``), whichever is wider. A day's row count
also stays within ``min_rows_per_day`` .. ``max_rows_per_day``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.config.quality_sections import DailyChecksConfig
from pipelines.data.windows import Window
from pipelines.quality.day_stats import DayStats, checked_columns, numeric_columns, window_day_stats

DAILY_COLUMNS = ("check", "day", "column", "statistic", "observed", "low", "high", "typical")
MIN_REFERENCE_DAYS = 7  # fewer earlier days with data: no relative checks (too little history to judge by)
SAME_WEEKDAY_DAYS = 2  # earlier days of each weekday needed to compare a day with its own weekday
_MAD_TO_SD = 1.4826

Kind = Literal["rows", "rate", "mean"]


@dataclass(frozen=True)
class _Series:
    """One statistic of one column per day of the window: ``numerator / denominator`` (NaN where 0)."""

    column: str
    statistic: str
    kind: Kind
    numerator: np.ndarray
    denominator: np.ndarray
    spread_per_row: float = 0.0  # standard deviation of one value (means): a day's sampling error is it / sqrt(n)

    @property
    def values(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.denominator > 0, self.numerator / np.maximum(self.denominator, 1), np.nan)


def day_checks(cfg: ModelConfig, frame: pd.DataFrame, window: Window) -> pd.DataFrame:
    """The per-day aggregate of a snapshot that the gate validates: one row per check with ``DAILY_COLUMNS``.

    ``check`` is ``window`` (whole window), ``day`` (one day) or ``newest`` (the newest increment as a whole);
    ``day`` the ISO day (or ``first..last``); ``column`` the data column (``*`` for row counts);
    ``statistic`` one of ``rows``, ``null_rate``, ``mean``, ``label_rate``, ``infinite``, ``non_null``; the
    row passes when ``low <= observed <= high``; ``typical`` is what the bounds are centred on. Days run from
    the window's first day with data to its last day: a day without rows inside that span counts as 0 rows.
    Rows outside the window (future timestamps) are left to the suite.
    """
    columns = checked_columns(cfg, list(frame.columns))
    numeric = numeric_columns(frame.dtypes, columns)
    stats = window_day_stats(frame, cfg.columns.timestamp, window, columns, numeric)
    if stats is not None:
        return checks_from_stats(cfg, stats, window, columns, numeric)
    span, total = _span(window), len(frame)  # no timestamps to tell the days by: the window's checks only
    rows: list[tuple[Any, ...]] = [("window", span, "*", "rows", total, 1, max(total, 1), np.nan)]
    for column in columns if total else ():
        rows.append(("window", span, column, "non_null", int(frame[column].notna().sum()), 1, total, np.nan))
    return pd.DataFrame(rows, columns=list(DAILY_COLUMNS))


def checks_from_stats(
    cfg: ModelConfig, stats: Sequence[DayStats], window: Window, columns: Sequence[str], numeric: Sequence[str]
) -> pd.DataFrame:
    """``day_checks`` from the aggregates of the window's days (``day_stats``; days without rows may be left
    out), over the checked ``columns``, ``numeric`` among them: the same frame as from the window's rows.
    """
    span, total = _span(window), sum(s.rows for s in stats)
    rows: list[tuple[Any, ...]] = [("window", span, "*", "rows", total, 1, max(total, 1), np.nan)]
    for column in columns if total else ():
        rows.append(("window", span, column, "non_null", total - sum(s.nulls[column] for s in stats), 1, total, np.nan))
    present = [s for s in stats if s.rows]
    if not present:
        return pd.DataFrame(rows, columns=list(DAILY_COLUMNS))
    first_day = min(s.day for s in present)
    n_days = (window.end - first_day).days
    days = [(first_day + timedelta(days=i)).isoformat() for i in range(n_days)]
    offsets = [(s.day - first_day).days for s in present]

    def per_day(values: list[float]) -> np.ndarray:
        found = np.zeros(n_days)
        found[offsets] = values
        return found

    counts = per_day([s.rows for s in present])
    series = [_Series("*", "rows", "rows", counts, np.ones(n_days))]
    for column in columns:
        series.append(_Series(column, "null_rate", "rate", per_day([s.nulls[column] for s in present]), counts))
        if column not in numeric:
            continue
        infinite = per_day([s.infinite[column] for s in present])
        rows += [("day", days[d], column, "infinite", infinite[d], 0, 0, np.nan) for d in range(n_days) if counts[d]]
        sums, finite = per_day([s.sums[column] for s in present]), per_day([s.finite[column] for s in present])
        squares = float(np.sum([s.squares[column] for s in present]))
        series.append(_mean_series(column, cfg, sums, finite, squares))
    if cfg.quality.daily.enabled:
        rows += _relative_rows(series, days, first_day, cfg)
    return pd.DataFrame(rows, columns=list(DAILY_COLUMNS))


def _span(window: Window) -> str:
    return f"{window.start.isoformat()}..{window.last_day.isoformat()}"


def _mean_series(column: str, cfg: ModelConfig, sums: np.ndarray, count: np.ndarray, squares: float) -> _Series:
    """Daily means of the finite values (a binary label's: its rate), with the values' standard deviation."""
    n = count.sum()
    spread = float(np.sqrt(max(squares / n - (sums.sum() / n) ** 2, 0.0))) if n > 1 else 0.0
    binary = column == cfg.columns.label and cfg.task == "binary"
    return _Series(column, "label_rate" if binary else "mean", "rate" if binary else "mean", sums, count, spread)


def _relative_rows(series: list[_Series], days: list[str], first_day: date, cfg: ModelConfig) -> list[tuple[Any, ...]]:
    """Rows comparing each day with the typical earlier day, and the newest increment as a whole with the days
    before it; only the row-count limits when fewer than ``MIN_REFERENCE_DAYS`` earlier days hold data.
    """
    daily = cfg.quality.daily
    n_days = len(days)
    newest = min(daily.newest_days, n_days)
    earlier = n_days - newest
    weekdays = np.array([(first_day + timedelta(days=i)).weekday() for i in range(n_days)])
    limits = (float(cfg.quality.min_rows_per_day), float(cfg.quality.max_rows_per_day))
    span = days[-1] if newest == 1 else f"{days[earlier]}..{days[-1]}"
    checked_days = earlier if newest == 1 else n_days  # a one-day increment's own check is its day check
    rows: list[tuple[Any, ...]] = []
    for s in series:
        values = s.values
        scaled = _scale(values, s.kind)
        known = np.flatnonzero(np.isfinite(scaled[:earlier]))
        if known.size < MIN_REFERENCE_DAYS:
            if s.kind == "rows":
                rows += [("day", days[d], "*", "rows", values[d], *limits, np.nan) for d in range(n_days)]
            continue
        centres = _centres(scaled, known, weekdays, daily)
        spread = _MAD_TO_SD * float(np.median(np.abs(scaled[known] - centres[known])))
        for d in np.flatnonzero(np.isfinite(scaled[:checked_days])):
            noise = max(spread, _sampling_error(s, s.denominator[d]))
            low, high = _bounds(s.kind, centres[d], daily.tolerance * noise, daily, limits)
            rows.append(("day", days[d], s.column, s.statistic, values[d], low, high, _unscale(centres[d], s.kind)))
        numerator, denominator = s.numerator[earlier:].sum(), s.denominator[earlier:].sum()
        if denominator <= 0:
            continue
        pooled = numerator / denominator
        centre = float(np.mean(centres[earlier:]))
        noise = max(spread / np.sqrt(newest), _sampling_error(s, denominator))
        low, high = _bounds(s.kind, centre, daily.newest_tolerance * noise, daily, limits)
        rows.append(("newest", span, s.column, s.statistic, pooled, low, high, _unscale(centre, s.kind)))
    return rows


def _scale(values: np.ndarray, kind: Kind) -> np.ndarray:
    """Rates on the arcsine-square-root scale, where their sampling error no longer depends on the rate."""
    return np.arcsin(np.sqrt(np.clip(values, 0, 1))) if kind == "rate" else values


def _unscale(value: float, kind: Kind) -> float:
    return float(np.sin(np.clip(value, 0, np.pi / 2)) ** 2) if kind == "rate" else float(value)


def _centres(scaled: np.ndarray, known: np.ndarray, weekdays: np.ndarray, daily: DailyChecksConfig) -> np.ndarray:
    """The typical value for each day: the median of the earlier days, of the same weekday when asked and
    each weekday has ``SAME_WEEKDAY_DAYS`` of them.
    """
    overall = np.full(len(scaled), float(np.median(scaled[known])))
    if not daily.weekly:
        return overall
    per_weekday = {w: scaled[known[weekdays[known] == w]] for w in range(7)}
    if min(len(v) for v in per_weekday.values()) < SAME_WEEKDAY_DAYS:
        return overall
    medians = {w: float(np.median(v)) for w, v in per_weekday.items()}
    return np.array([medians[w] for w in weekdays])


def _sampling_error(s: _Series, n: float) -> float:
    """The sampling error of the statistic over ``n`` rows (on the scale it is compared on)."""
    if n <= 0 or s.kind == "rows":
        return 0.0
    return 1 / (2 * np.sqrt(n)) if s.kind == "rate" else s.spread_per_row / np.sqrt(n)


def _bounds(
    kind: Kind, centre: float, margin: float, daily: DailyChecksConfig, limits: tuple[float, float]
) -> tuple[float, float]:
    """The noise band around ``centre`` (on the compared scale), widened to the minimum change, as values."""
    typical = _unscale(centre, kind)
    if kind == "rate":
        low = min(_unscale(max(centre - margin, 0), kind), typical - daily.min_rate_change)
        high = max(_unscale(min(centre + margin, np.pi / 2), kind), typical + daily.min_rate_change)
        return max(low, 0.0), min(high, 1.0)
    floor = (daily.min_rows_change if kind == "rows" else daily.min_mean_change) * abs(typical)
    low, high = centre - max(margin, floor), centre + max(margin, floor)
    if kind == "rows":
        low, high = max(low, limits[0], 0.0), min(high, limits[1])
        high = max(high, low)
    return float(low), float(high)
