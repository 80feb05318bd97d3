"""The data window of a run, derived only from its as-of date (the run's logical date)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pipelines.config import WindowsConfig


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

    @property
    def last_day(self) -> date:
        """The newest day of data in the window (``end`` is exclusive)."""
        return self.end - timedelta(days=1)

    def bounds(self) -> tuple[datetime, datetime]:
        return _midnight(self.start), _midnight(self.end)

    def holdout_bound(self) -> datetime:
        return _midnight(self.holdout_start)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def parse_day(text: str) -> date:
    """A ``YYYY-MM-DD`` date, with an error that says what was expected."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date in the form YYYY-MM-DD") from exc
