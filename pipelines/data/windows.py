"""The data window of a run, derived only from its as-of date (the run's logical date).

Days are UTC days: a window is the UTC instants ``[start 00:00, end 00:00)``. A source whose timestamp column
holds wall-clock times of another zone (``columns.timestamp_timezone``) is filtered by the same instants as
that zone's wall-clock times (``Window.bounds(zone)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from pipelines.config.data_sections import WindowsConfig
from pipelines.errors import InputError


@dataclass(frozen=True)
class Window:
    """Whole days ``[start, end)``; ``holdout_start`` splits training days from holdout days."""

    start: date
    holdout_start: date
    end: date

    @classmethod
    def for_as_of(cls, as_of: date, cfg: WindowsConfig, training_days: int | None = None) -> Window:
        """The window of a run for ``as_of``: the days strictly before it, holdout last."""
        days = training_days or cfg.training_days
        holdout_start = as_of - timedelta(days=cfg.holdout_days)
        return cls(start=holdout_start - timedelta(days=days), holdout_start=holdout_start, end=as_of)

    @classmethod
    def span(cls, first: date, end: date) -> Window:
        """The days ``[first, end)`` as a window without holdout days: a run of days to read."""
        return cls(start=first, holdout_start=end, end=end)

    def days(self) -> list[date]:
        """Every day of the window, oldest first."""
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days)]

    def end_instant(self) -> datetime:
        """The first instant after the window: midnight UTC of ``end``, as a naive datetime."""
        return _midnight(self.end)

    @property
    def last_day(self) -> date:
        """The newest day of data in the window (``end`` is exclusive)."""
        return self.end - timedelta(days=1)

    def bounds(self, zone: str = "UTC") -> tuple[datetime, datetime]:
        """The window's first and end instants as naive datetimes: UTC, or the wall-clock times of ``zone``."""
        return wall_clock(_midnight(self.start), zone), wall_clock(_midnight(self.end), zone)

    def holdout_bound(self) -> datetime:
        """The first holdout instant: midnight UTC of ``holdout_start``, as a naive datetime."""
        return _midnight(self.holdout_start)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def wall_clock(instant: datetime, zone: str) -> datetime:
    """The naive wall-clock time in ``zone`` (an IANA name) of ``instant``, a naive UTC datetime."""
    if zone == "UTC":
        return instant
    return instant.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def parse_day(text: str) -> date:
    """A ``YYYY-MM-DD`` date, with an error that says what was expected."""
    error = InputError(f"{text!r} is not a date in the form YYYY-MM-DD")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise error
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise error from exc
