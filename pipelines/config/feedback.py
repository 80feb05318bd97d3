"""The feedback loop of a model (its ``scoring`` and ``feedback`` sections): where the champion's batch scores
go, when labels arrive, and when decay calls for a retrain.

Pydantic only, so loading a config (and parsing DAGs) does not import numpy or pandas.
"""

from __future__ import annotations

import os

from pydantic import Field, field_validator, model_validator

from pipelines.config.base import ConfigError, Frozen, plain_identifier
from pipelines.config.data_sections import SourceConfig


class TargetConfig(Frozen):
    """Where predictions are written: a table in a database named like a source (env var, connection, default)."""

    url_env: str = Field(
        default="PIPELINES_PREDICTIONS_URL", description="Environment variable holding the SQLAlchemy URL."
    )
    conn_id: str | None = Field(default=None, description="Airflow connection used when the env var is unset.")
    default_url: str | None = Field(
        default=None, description="Fallback URL without secrets; null: the pipeline's own database (the ledger's)."
    )
    table: str = Field(default="pipelines_predictions", description="One row per scored input, for every model.")

    @field_validator("table")
    @classmethod
    def _plain(cls, value: str) -> str:
        return plain_identifier(value)

    def resolve_url(self, connection_url: str | None = None, own_database: str | None = None) -> str:
        """The target's URL: env var, then the connection's URL, then the default, then the pipeline's database."""
        url = os.environ.get(self.url_env) or connection_url or self.default_url or own_database
        if not url:
            raise ConfigError(f"no predictions URL: set the environment variable {self.url_env}")
        return url


class ScoringConfig(Frozen):
    """Batch scoring with the champion: ``score_<model>`` scores the days before its date into the target."""

    cron: str | None = Field(default="0 3 * * *", description="When score_<model> runs (UTC); null: by hand only.")
    window_days: int = Field(default=1, ge=1, le=366, description="Days before the run's date that one run scores.")
    batch_rows: int = Field(
        default=100_000, ge=100, le=10_000_000, description="Rows scored and written at a time (bounds memory)."
    )
    source: SourceConfig | None = Field(
        default=None, description="The rows to score (table or windowed query); null: the model's own source."
    )
    target: TargetConfig = TargetConfig()


class DecayConfig(Frozen):
    """When a measured fall in performance retrains: the same debounce as drift (consecutive checks, cooldown)."""

    use_estimate: bool = Field(
        default=False, description="Also act on the estimated metric (CBPE) of days whose labels have not arrived."
    )
    tolerance: float = Field(
        default=0.03, ge=0, description="Decay: the metric is worse than the version's holdout value by more than this."
    )
    consecutive_checks: int = Field(default=2, ge=1, le=100, description="Checks in a row with decay to act.")
    cooldown_hours: int = Field(default=72, ge=0, description="No second decay-triggered retrain within this time.")


class FeedbackConfig(Frozen):
    """Labels that arrive after scoring: how late, from where, and how many days one decay check pools."""

    label_delay_days: int = Field(default=7, ge=0, le=365, description="Days after an event before its label is in.")
    lookback_days: int = Field(default=28, ge=1, le=366, description="Labelled days measured again on each run.")
    check_days: int = Field(default=7, ge=1, le=90, description="Newest days pooled into one decay check.")
    labels: SourceConfig | None = Field(
        default=None,
        description="Where labels are (table or windowed query with the timestamp, the entity key (without one: the "
        "features) and the label column); null: the label column of the scored rows' source, filled in later.",
    )
    decay: DecayConfig = DecayConfig()

    @model_validator(mode="after")
    def _check_within_lookback(self) -> FeedbackConfig:
        if self.check_days > self.lookback_days:
            raise ValueError(f"check_days ({self.check_days}) cannot exceed lookback_days ({self.lookback_days})")
        return self
