"""Data windows derive from the as-of date alone: training days, then holdout days, ending before it."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from pipelines.config.data_sections import WindowsConfig
from pipelines.data.windows import Window, parse_day

DEMO_WINDOWS = WindowsConfig(training_days=42, holdout_days=7)


def test_window_ends_before_as_of_with_holdout_last() -> None:
    # given the demo's 42 training + 7 holdout days, when the run is as of 2026-03-01
    window = Window.for_as_of(date(2026, 3, 1), DEMO_WINDOWS)
    # then the window is [2026-01-11, 2026-03-01) with the holdout from 2026-02-22
    assert window == Window(start=date(2026, 1, 11), holdout_start=date(2026, 2, 22), end=date(2026, 3, 1))
    assert window.last_day == date(2026, 2, 28)
    assert (window.end - window.start).days == 49


def test_training_days_override_keeps_the_holdout() -> None:
    window = Window.for_as_of(date(2026, 3, 1), DEMO_WINDOWS, training_days=14)
    assert window == Window(start=date(2026, 2, 8), holdout_start=date(2026, 2, 22), end=date(2026, 3, 1))


def test_window_crosses_leap_day_and_year() -> None:
    # given one holdout day before 2024-03-01 (2024 is a leap year) and 60 training days
    window = Window.for_as_of(date(2024, 3, 1), WindowsConfig(training_days=60, holdout_days=1))
    # then the holdout is the leap day and training reaches back into 2023
    assert window.holdout_start == date(2024, 2, 29)
    assert window.start == date(2023, 12, 31)


def test_bounds_are_midnights_end_exclusive() -> None:
    window = Window.for_as_of(date(2026, 3, 1), DEMO_WINDOWS)
    assert window.bounds() == (datetime(2026, 1, 11), datetime(2026, 3, 1))
    assert window.holdout_bound() == datetime(2026, 2, 22)


def test_consecutive_dates_shift_the_window_by_one_day() -> None:
    first = Window.for_as_of(date(2026, 3, 1), DEMO_WINDOWS)
    second = Window.for_as_of(date(2026, 3, 2), DEMO_WINDOWS)
    assert (second.start - first.start).days == (second.end - first.end).days == 1


def test_parse_day_accepts_iso_dates() -> None:
    assert parse_day("2026-03-01") == date(2026, 3, 1)


@pytest.mark.parametrize("text", ["2026-13-01", "2026-02-30", "01/03/2026", "tomorrow", "", "2026-03-01T00:00"])
def test_parse_day_error_names_text_and_format(text: str) -> None:
    with pytest.raises(ValueError, match="is not a date in the form YYYY-MM-DD") as info:
        parse_day(text)
    assert str(info.value) == f"{text!r} is not a date in the form YYYY-MM-DD"


@pytest.mark.parametrize("text", ["20260301", "2026-W09-1"])
def test_parse_day_refuses_other_iso_forms(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_day(text)
