"""The cadence against the retrain schedule: the longest gap of a cron, and the warning ``status`` gives when the
schedule is slower than the recommendation (stored by ``cadence`` in the pipeline's database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.performance import store
from pipelines.performance.cadence import schedule_gap_days
from pipelines.reports.performance_status import latest_performance


@pytest.mark.parametrize(
    ("cron", "days"), [("0 2 * * *", 1), ("0 2 * * 1", 7), ("0 2 1 * *", 31), ("0 */6 * * *", 0.25), (None, None)]
)
def test_the_longest_gap_of_a_schedule(cron: str | None, days: float | None) -> None:
    assert schedule_gap_days(cron) == (pytest.approx(days) if days is not None else None)


def test_status_warns_when_the_schedule_is_slower_than_the_stored_cadence(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    assert latest_performance("demo", 3, "roc_auc", "0 2 * * 1") is None  # nothing measured, no cadence yet
    store.save_cadence("demo", "replay", 12.0, {"recommended_days": 30.0})
    store.save_cadence("demo", "replay", 5.4, {"recommended_days": 5.4})  # the newest one counts
    weekly = latest_performance("demo", 3, "roc_auc", "0 2 * * 1")
    assert weekly is not None and weekly.recommended_retrain_days == 5.4
    assert (
        weekly.schedule_warning == "the retrain schedule (0 2 * * 1) leaves 7 days between runs; cadence recommends 5"
    )
    nightly = latest_performance("demo", 3, "roc_auc", "0 2 * * *")
    assert nightly is not None and nightly.schedule_warning is None
    unscheduled = latest_performance("demo", 3, "roc_auc", None)
    assert unscheduled is not None and "no retrain schedule" in (unscheduled.schedule_warning or "")
