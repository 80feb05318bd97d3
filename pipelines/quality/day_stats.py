"""The per-day aggregates the per-day checks are computed from: one small ``DayStats`` per UTC day.

A day's aggregates depend only on that day's rows, in snapshot order, with the window's dtypes: computed from
the whole window's frame (each day's rows are a slice of it) or from the day's own file, they are the same to
the last bit, so stored aggregates of an unchanged day (``day_stats_store``) can stand in for computing them.
Each column's sums run over a contiguous copy of its values, so numpy adds them in one fixed (pairwise) order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.data.windows import Window


@dataclass(frozen=True)
class DayStats:
    """One day's rows; per checked column its nulls; per numeric column the count, sum and sum of squares of
    its finite values and the count of its infinite ones.
    """

    day: date
    rows: int
    nulls: dict[str, int]
    finite: dict[str, int]
    sums: dict[str, float]
    squares: dict[str, float]
    infinite: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """The aggregates as JSON-friendly values (floats as Python writes them: they read back exactly)."""
        return {**asdict(self), "day": self.day.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DayStats:
        """Read back ``to_dict``."""
        return cls(**{**data, "day": date.fromisoformat(data["day"])})


def checked_columns(cfg: ModelConfig, columns: Sequence[str]) -> list[str]:
    """The feature and label columns of ``columns`` that the per-day checks look at, in the config's order."""
    return [c for c in (*cfg.columns.features, cfg.columns.label) if c in columns]


def numeric_columns(dtypes: pd.Series, columns: Sequence[str]) -> list[str]:
    """The ``columns`` whose dtype (of ``dtypes``, a frame's) is numeric or boolean."""
    return [c for c in columns if pd.api.types.is_numeric_dtype(dtypes[c])]


def day_stats(day: date, frame: pd.DataFrame, columns: Sequence[str], numeric: Sequence[str]) -> DayStats:
    """The aggregates of one day's rows (``frame``) over ``columns``, ``numeric`` among them."""
    nulls = frame[list(columns)].isna().to_numpy().sum(axis=0) if columns else np.zeros(0)
    values = frame[list(numeric)].to_numpy(dtype="float64", na_value=np.nan) if numeric else np.zeros((len(frame), 0))
    block = np.ascontiguousarray(values.T)  # a column per row, contiguous: each sum runs pairwise along its values
    finite = np.isfinite(block)
    kept = np.where(finite, block, 0.0)
    return DayStats(
        day=day,
        rows=len(frame),
        nulls={c: int(n) for c, n in zip(columns, nulls, strict=True)},
        finite={c: int(n) for c, n in zip(numeric, finite.sum(axis=1), strict=True)},
        sums={c: float(s) for c, s in zip(numeric, kept.sum(axis=1), strict=True)},
        squares={c: float(s) for c, s in zip(numeric, (kept * kept).sum(axis=1), strict=True)},
        infinite={c: int(n) for c, n in zip(numeric, np.isinf(block).sum(axis=1), strict=True)},
    )


def window_day_stats(
    frame: pd.DataFrame, timestamp: str, window: Window, columns: Sequence[str], numeric: Sequence[str]
) -> list[DayStats] | None:
    """``day_stats`` of each day of ``window`` with rows in ``frame``, oldest first (rows outside the window are
    left out); None when the frame has no timestamp column to tell the days by.
    """
    days = day_rows(frame, timestamp, window)
    return None if days is None else [day_stats(day, rows, columns, numeric) for day, rows in days]


def day_rows(frame: pd.DataFrame, timestamp: str, window: Window) -> list[tuple[date, pd.DataFrame]] | None:
    """Each day of ``window`` with rows in ``frame`` and those rows, in frame order (slices when the frame is in
    time order); None when the frame has no timestamp column to tell the days by.
    """
    codes = day_codes(frame, timestamp, window)
    if codes is None:
        return None
    return [(window.start + timedelta(days=offset), rows) for offset, rows in _days(frame, codes)]


def day_codes(frame: pd.DataFrame, timestamp: str, window: Window) -> np.ndarray | None:
    """Each row's day as an offset from the window's start, -1 outside the window; None without timestamps."""
    if timestamp not in frame.columns or not pd.api.types.is_datetime64_any_dtype(frame[timestamp].dtype):
        return None
    stamps = frame[timestamp]
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    day = stamps.to_numpy().astype("datetime64[D]")
    offset = (day - np.datetime64(window.start, "D")).astype("int64")
    valid = ~np.isnat(day) & (offset >= 0) & (offset < (window.end - window.start).days)
    return np.where(valid, offset, -1)


def _days(frame: pd.DataFrame, codes: np.ndarray) -> Iterator[tuple[int, pd.DataFrame]]:
    """Each window day's rows of ``frame`` in frame order: slices when the frame is in time order."""
    if len(codes) and bool(np.all(codes[1:] >= codes[:-1])):
        bounds = np.flatnonzero(np.diff(codes)) + 1
        starts, ends = np.r_[0, bounds], np.r_[bounds, len(codes)]
        for start, end in zip(starts, ends, strict=True):
            if codes[start] >= 0:
                yield int(codes[start]), frame.iloc[start:end]
        return
    for offset in np.unique(codes[codes >= 0]):
        yield int(offset), frame[codes == offset]
