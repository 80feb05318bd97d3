"""The ``performance`` part of ``status``, read from the pipeline's database without pandas: the champion's newest
realized and estimated values of the primary metric over all rows, and the weekly trend of the realized ones."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from pipelines.performance import measure, store
from pipelines.performance.measure import Measurement
from pipelines.reports import performance_status
from pipelines.reports.performance_status import DayValue, latest_performance


def day(offset: int) -> str:
    return (date(2026, 3, 1) + timedelta(days=offset)).isoformat()


def test_the_all_rows_slice_is_the_one_measure_writes() -> None:
    assert performance_status.ALL_ROWS == measure.ALL_ROWS


def test_newest_values_and_trend_of_the_champion_over_all_rows(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    # given realized roc_auc of v3 on 9 days (one without a value), spread out and falling, and estimates after them
    realized = {0: 0.90, 1: 0.89, 2: math.nan, 4: 0.88, 5: 0.86, 7: 0.87, 8: 0.85, 10: 0.84, 11: 0.83}
    rows = [Measurement(day(d), 3, "realized", "", "roc_auc", v, 100 + d) for d, v in realized.items()]
    rows += [Measurement(day(d), 3, "estimated", "", "roc_auc", 0.8 - d / 100, 50) for d in (12, 13)]
    # and rows that must not count: another slice, another version, another metric, another model
    rows += [
        Measurement(day(14), 3, "realized", "plan=basic", "roc_auc", 0.1, 9),
        Measurement(day(14), 2, "realized", "", "roc_auc", 0.2, 9),
        Measurement(day(14), 3, "realized", "", "log_loss", 0.3, 9),
    ]
    store.save("demo", rows)
    store.save("other", [Measurement(day(20), 3, "realized", "", "roc_auc", 0.4, 9)])
    # when status reads the champion's performance
    found = latest_performance("demo", 3, "roc_auc")
    # then the newest of each kind, and the least-squares slope of the known realized days, per week
    assert found is not None
    assert found.realized == DayValue(day(11), 0.83, 111)
    assert found.estimated == DayValue(day(13), pytest.approx(0.67), 50)
    known = {d: v for d, v in realized.items() if not math.isnan(v)}
    slope = np.polyfit(list(known), list(known.values()), 1)[0]
    assert found.trend_per_week == pytest.approx(round(float(slope) * 7, 6), abs=1e-6)
    assert found.trend_per_week < 0
    assert (found.checked_at, found.recommended_retrain_days, found.schedule_warning) == (None, None, None)


def test_no_trend_from_fewer_than_seven_known_days_and_nothing_before_any_measurement(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    assert latest_performance("demo", 3, "roc_auc") is None
    assert latest_performance("demo", None, "roc_auc") is None
    store.save("demo", [Measurement(day(d), 3, "realized", "", "roc_auc", 0.9, 10) for d in range(6)])
    store.save("demo", [Measurement(day(6), 3, "realized", "", "roc_auc", math.nan, 10)])
    found = latest_performance("demo", 3, "roc_auc")
    assert found is not None and found.trend_per_week is None
    assert found.realized == DayValue(day(6), None, 10)
    assert found.estimated is None
