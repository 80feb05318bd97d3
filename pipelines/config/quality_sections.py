"""The ``quality`` section of a model config: its GX suite, the suite's parameters and the per-day checks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipelines.config.base import Frozen, Identifier


class DailyChecksConfig(Frozen):
    """Per-day checks (``pipelines.quality.day_checks``): each day's rows, null rates, means and label rate against the
    window's earlier days, and the newest days against the days before them.

    A value passes when it lies within ``tolerance`` noise units of the typical value (noise: the larger of
    the day-to-day robust spread and the day's own sampling error) or within the minimum change below.
    """

    enabled: bool = Field(default=True, description="Run the per-day checks besides the whole-window suite.")
    newest_days: int = Field(default=1, ge=1, le=30, description="The newest increment: the window's last N days.")
    tolerance: float = Field(default=6.0, gt=0, description="Noise units a day may stray from the typical day.")
    newest_tolerance: float = Field(default=5.0, gt=0, description="The same for the newest increment.")
    min_rows_change: float = Field(
        default=0.5, ge=0, description="A day's row count may always differ by this share of the typical day's."
    )
    min_rate_change: float = Field(
        default=0.1, ge=0, le=1, description="A null rate or a binary label's rate may always move this much."
    )
    min_mean_change: float = Field(
        default=0.35, ge=0, description="A numeric column's mean may always move by this share of its typical value."
    )
    weekly: bool = Field(
        default=True, description="Compare with the same weekday when the earlier days hold 2 or more of each."
    )
    severity: Literal["critical", "warning"] = Field(default="critical", description="What a failed day check does.")


class QualityConfig(Frozen):
    """The GX suite and the numbers its ``$PARAMETER`` placeholders are computed from, per window."""

    suite: Identifier
    min_rows_per_day: int = Field(default=1, ge=0, description="Suite parameter min_rows = this x window days.")
    max_rows_per_day: int = Field(default=10_000_000, ge=1, description="Suite parameter max_rows = this x days.")
    max_staleness_hours: float = Field(
        default=36, gt=0, description="The newest row must be at most this old at the window's end."
    )
    alert_on_warnings: bool = Field(default=False, description="Post failed warnings to Slack as a quiet message.")
    alert_top_n: int = Field(default=10, ge=1, le=40, description="Failed expectations listed in an alert.")
    daily: DailyChecksConfig = DailyChecksConfig()

    @model_validator(mode="after")
    def _row_bounds(self) -> QualityConfig:
        if self.min_rows_per_day > self.max_rows_per_day:
            raise ValueError("min_rows_per_day is above max_rows_per_day")
        return self
