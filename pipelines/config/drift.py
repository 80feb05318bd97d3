"""Drift settings of a model (the ``drift`` section of its config): thresholds, policy, schedule.

Pydantic only, so loading a config (and parsing DAGs) does not import numpy or pandas.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from pipelines.config.base import Frozen


class FeatureThresholds(Frozen):
    """Overrides for one feature; unset values fall back to the defaults in ``DriftThresholds``."""

    psi_warn: float | None = Field(default=None, gt=0)
    psi_act: float | None = Field(default=None, gt=0)
    ks_act: float | None = Field(default=None, gt=0, le=1)
    js_act: float | None = Field(default=None, gt=0, le=1)
    missing_rate_act: float | None = Field(default=None, gt=0, le=1)


class DriftThresholds(Frozen):
    """When a statistic marks a feature "warn" or "act" (strictly above the threshold)."""

    psi_warn: float = Field(default=0.1, gt=0, description="PSI 0.1-0.25 is the customary 'moderate shift'.")
    psi_act: float = Field(default=0.25, gt=0, description="PSI above 0.25 is the customary 'significant shift'.")
    ks_act: float = Field(
        default=0.1, gt=0, le=1, description="KS (numeric): 0.1 is about a quarter standard deviation of mean shift."
    )
    js_act: float = Field(default=0.1, gt=0, le=1, description="Jensen-Shannon distance, base 2 (categorical).")
    missing_rate_act: float = Field(default=0.1, gt=0, le=1, description="Absolute change of the missing rate.")
    prediction_psi_act: float = Field(default=0.25, gt=0, description="PSI of the model's scores.")
    features: dict[str, FeatureThresholds] = Field(default_factory=dict, description="Per-feature overrides.")

    @model_validator(mode="after")
    def _warn_below_act(self) -> DriftThresholds:
        for name in ["", *self.features]:
            limits = self.for_feature(name)
            if limits.psi_warn > limits.psi_act:
                where = f" for feature {name!r}" if name else ""
                raise ValueError(f"psi_warn {limits.psi_warn} exceeds psi_act {limits.psi_act}{where}")
        return self

    def for_feature(self, name: str) -> DriftThresholds:
        """The thresholds that apply to one feature: its overrides over the defaults."""
        override = self.features.get(name)
        updates = override.model_dump(exclude_none=True) if override else {}
        return self.model_copy(update={**updates, "features": {}})


class DriftPolicy(Frozen):
    """What makes a check "drift", and what confirms it."""

    key_features: tuple[str, ...] = Field(default=(), description="Any of these over an act threshold is drift.")
    max_share_drifted: float = Field(
        default=0.3, gt=0, le=1, description="Drift when more than this share of features is over an act threshold."
    )
    prediction_drift: bool = Field(default=True, description="Drift when the scores' PSI is over its act threshold.")
    consecutive_checks: int = Field(default=2, ge=1, le=100, description="Checks in a row with drift to confirm it.")
    cooldown_hours: int = Field(default=24, ge=0, description="No second drift-triggered retrain within this time.")


class DriftConfig(Frozen):
    """Drift monitoring of one model: how often, on how much data, measured how, judged how."""

    cron: str = Field(default="30 1 * * *", description="When the monitor runs (UTC); default daily at 01:30.")
    window_days: int = Field(default=1, ge=1, le=365, description="Days of current data in one check.")
    bins: int = Field(default=10, ge=2, le=100, description="Quantile bins per numeric feature for PSI.")
    max_categories: int = Field(
        default=20, ge=1, le=1000, description="Categories profiled per feature; the rest are '__other__'."
    )
    thresholds: DriftThresholds = DriftThresholds()
    policy: DriftPolicy = DriftPolicy()
