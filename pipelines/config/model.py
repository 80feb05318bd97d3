"""A model's whole config (``ModelConfig``, one YAML file in ``configs/``) and its ``schedule`` section.

Every model is described by data alone: where its rows come from, which columns mean what, the
windows it trains and is judged on, its XGBoost parameters, the promotion policy and its GX suite.
Unknown keys are errors that name the key.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from pipelines.config.base import Frozen
from pipelines.config.data_sections import ColumnsConfig, SourceConfig, WindowsConfig
from pipelines.config.drift import DriftConfig
from pipelines.config.feedback import FeedbackConfig, ScoringConfig
from pipelines.config.quality_sections import QualityConfig
from pipelines.config.training_sections import METRICS_BY_TASK, PolicyConfig, TrainingConfig, XGBoostConfig

MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ScheduleConfig(Frozen):
    """When ``retrain_<model>`` runs by itself, and, when set, the earliest logical date the model's DAGs run."""

    cron: str | None = Field(
        default="0 2 * * *",
        description="Nightly schedule (UTC); null: only drift events and people start runs (data that is not live).",
    )
    start_date: date | None = Field(
        default=None,
        description="None (the default): a run of any logical date runs its tasks. A date: Airflow runs no task "
        "of a run dated earlier, so keep it before the data.",
    )

    @field_validator("start_date")
    @classmethod
    def _not_in_the_future(cls, value: date | None) -> date | None:
        if value is not None and value > datetime.now(UTC).date():
            raise ValueError(f"{value} is in the future: no run before it could run any task")
        return value


class ModelConfig(Frozen):
    """Everything that describes one model; loaded from ``configs/<name>.yaml``."""

    name: str
    description: str = ""
    task: Literal["binary", "regression"]
    source: SourceConfig
    columns: ColumnsConfig
    windows: WindowsConfig
    schedule: ScheduleConfig = ScheduleConfig()
    xgboost: XGBoostConfig = XGBoostConfig()
    training: TrainingConfig = TrainingConfig()
    policy: PolicyConfig
    quality: QualityConfig
    drift: DriftConfig = DriftConfig()
    scoring: ScoringConfig | None = Field(
        default=None, description="Batch scoring with the champion and the feedback loop; null: neither."
    )
    feedback: FeedbackConfig = FeedbackConfig()
    owner: str = "ml-platform"

    @property
    def drift_asset(self) -> str:
        """Name of the Airflow asset whose events mean "drift confirmed, retrain"."""
        return f"drift_{self.name}"

    @property
    def scored_source(self) -> SourceConfig:
        """Where the rows the model scores come from: ``scoring.source``, else the model's own source."""
        return self.scoring.source if self.scoring and self.scoring.source else self.source

    @property
    def performance_asset(self) -> str:
        """Name of the Airflow asset whose events mean "performance decayed, retrain"."""
        return f"performance_{self.name}"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not MODEL_NAME.match(value):
            raise ValueError("model names are lower case letters, digits and '_', starting with a letter")
        return value

    @model_validator(mode="after")
    def _drift_names_features(self) -> ModelConfig:
        named = {*self.drift.policy.key_features, *self.drift.thresholds.features}
        unknown = sorted(named - set(self.columns.features))
        if unknown:
            raise ValueError(f"drift settings name unknown features: {', '.join(unknown)}")
        return self

    @model_validator(mode="after")
    def _slices_are_categorical(self) -> ModelConfig:
        unknown = sorted(set(self.policy.slices.columns) - set(self.columns.categorical))
        if unknown:
            raise ValueError(f"policy.slices.columns must be categorical features; not: {', '.join(unknown)}")
        return self

    @model_validator(mode="after")
    def _metrics_fit_task(self) -> ModelConfig:
        allowed = METRICS_BY_TASK[self.task]
        used = [self.policy.primary_metric, *self.policy.guards]
        wrong = [m for m in used if m not in allowed]
        if wrong:
            raise ValueError(f"metrics {wrong} do not apply to task {self.task!r}; use {list(allowed)}")
        return self
