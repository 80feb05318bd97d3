"""Typed model configuration: one YAML file in ``configs/`` per model.

Every model is described by data alone: where its rows come from, which columns mean what, the
windows it trains and is judged on, its XGBoost parameters, the promotion policy and its GX suite.
Unknown keys are errors that name the key.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines.config import settings
from pipelines.config.drift import DriftConfig
from pipelines.errors import PipelinesError

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MODEL_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

Metric = Literal["roc_auc", "log_loss", "accuracy", "brier", "rmse", "mae", "r2"]
METRICS_BY_TASK: dict[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "log_loss", "accuracy", "brier"),
    "regression": ("rmse", "mae", "r2"),
}


class ConfigError(PipelinesError, ValueError):
    """A model config that cannot be used, with a message naming the file and the bad key."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _identifier(value: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(f"{value!r} is not a plain SQL identifier (letters, digits, underscore)")
    return value


Identifier = Annotated[str, Field(min_length=1, max_length=63)]


class SourceConfig(_Frozen):
    """Where rows come from. The URL is never in the file: it comes from an env var or a connection."""

    url_env: str = Field(description="Environment variable holding the SQLAlchemy URL.")
    conn_id: str | None = Field(default=None, description="Airflow connection used when the env var is unset.")
    default_url: str | None = Field(
        default=None,
        description="Fallback URL without secrets, e.g. a SQLite file; '{home}' is the state folder.",
    )
    table: str | None = None
    db_schema: str | None = Field(default=None, alias="schema")
    query: str | None = Field(
        default=None, description="SELECT with the bound parameters :window_start and :window_end."
    )

    @model_validator(mode="after")
    def _table_or_query(self) -> SourceConfig:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        if self.table is not None:
            _identifier(self.table)
        if self.db_schema is not None:
            _identifier(self.db_schema)
        if self.query is not None and not {":window_start", ":window_end"} <= set(re.findall(r":\w+", self.query)):
            raise ValueError("'query' must use the bound parameters :window_start and :window_end")
        return self

    def resolve_url(self, connection_url: str | None = None) -> str:
        """The SQLAlchemy URL: env var, then the given connection URL, then the default."""
        url = os.environ.get(self.url_env) or connection_url or self.default_url
        if not url:
            raise ConfigError(
                f"no source URL: set the environment variable {self.url_env}"
                + (f" or the Airflow connection {self.conn_id}" if self.conn_id else "")
            )
        return url.replace("{home}", str(settings.home()))


class ColumnsConfig(_Frozen):
    timestamp: Identifier
    entity_key: Identifier | None = Field(
        default=None,
        description="Column naming the entity a row is about; optional. Ingest orders rows by the timestamp, then "
        "by it (without one, by every other column).",
    )
    label: Identifier
    numeric: tuple[Identifier, ...] = ()
    categorical: tuple[Identifier, ...] = ()
    timestamp_timezone: str = Field(
        default="UTC",
        description="IANA zone of a timestamp column without a zone (wall-clock times); ingest converts it to UTC.",
    )
    unique_key: tuple[Identifier, ...] | None = Field(
        default=None,
        description="Columns no two rows may share (the quality gate checks them); default the entity key, "
        "else none; [] for none.",
    )

    @field_validator("timestamp_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import available_timezones  # scans the zone database (~30 ms): only for zones other than UTC

        if value != "UTC" and (value not in available_timezones() or value in {"localtime", "Factory"}):
            raise ValueError(f"{value!r} is not an IANA time zone name (such as 'UTC' or 'America/New_York')")
        return value

    @field_validator("timestamp", "entity_key", "label")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        return None if value is None else _identifier(value)

    @field_validator("numeric", "categorical", "unique_key")
    @classmethod
    def _plain_all(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if values is None else tuple(_identifier(v) for v in values)

    @model_validator(mode="after")
    def _distinct(self) -> ColumnsConfig:
        features = self.features
        if not features:
            raise ValueError("at least one numeric or categorical feature is needed")
        names = [self.timestamp, *([self.entity_key] if self.entity_key else []), self.label, *features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"columns listed twice: {', '.join(dupes)}")
        unique = self.unique_key or ()
        if len(set(unique)) < len(unique):
            raise ValueError(f"unique_key lists a column twice: {', '.join(unique)}")
        return self

    @property
    def unique_columns(self) -> tuple[str, ...]:
        """The columns the quality gate checks for duplicates: ``unique_key``, else the entity key, else none."""
        if self.unique_key is not None:
            return self.unique_key
        return (self.entity_key,) if self.entity_key else ()

    @property
    def features(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    @property
    def all(self) -> tuple[str, ...]:
        return (self.timestamp, *([self.entity_key] if self.entity_key else []), *self.features, self.label)


class WindowsConfig(_Frozen):
    """Days of data for a run with as-of date D: training days, then holdout days, ending before D."""

    training_days: int = Field(ge=1, le=3650)
    holdout_days: int = Field(ge=1, le=365)
    validation_fraction: float = Field(default=0.2, gt=0, lt=0.5)


class XGBoostConfig(_Frozen):
    params: dict[str, float | int | str] = Field(default_factory=dict)
    num_boost_round: int = Field(default=500, ge=1)
    early_stopping_rounds: int = Field(default=30, ge=1)
    seed: int = 42


class BootstrapConfig(_Frozen):
    samples: int = Field(default=500, ge=50, le=20000)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    require_significant: bool = Field(
        default=False, description="Promote only when the whole interval shows an improvement."
    )


class SlicesConfig(_Frozen):
    """Per-slice holdout metrics: a slice that gets worse than the champion by more than the tolerance blocks."""

    columns: tuple[Identifier, ...] = Field(
        default=(), description="Categorical feature columns; each of their values is a slice."
    )
    tolerance: float = Field(default=0.02, ge=0, description="How much a slice's primary metric may get worse.")
    min_rows: int = Field(default=50, ge=1, description="Slices with fewer holdout rows are reported, not judged.")
    min_positives: int = Field(
        default=20,
        ge=0,
        description="Binary tasks: slices with fewer positive or fewer negative rows than this are reported, not judged.",
    )


class ApprovalConfig(_Frozen):
    """A human approves or rejects each promotion the policy would make, in Airflow's UI or REST API."""

    required: bool = Field(default=False, description="Put an approval task between evaluate and promote.")
    timeout_hours: float = Field(default=24, gt=0, description="How long the task waits for an answer.")
    default: Literal["reject", "approve"] = Field(
        default="reject", description="The answer taken when nobody answers in time."
    )
    approvers: tuple[Annotated[str, Field(min_length=1, max_length=256)], ...] = Field(
        default=(),
        description="Airflow user ids who may answer (the user name with the simple auth manager); empty: anyone "
        "who may edit the DAG's runs.",
    )

    @field_validator("approvers")
    @classmethod
    def _distinct_approvers(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(values)) != len(values):
            raise ValueError("approvers listed twice")
        return values


class PolicyConfig(_Frozen):
    """Declarative champion/challenger policy, judged on the same holdout."""

    primary_metric: Metric
    floor: float = Field(description="The challenger's primary metric must reach this, always.")
    min_improvement: float = Field(
        default=0.0,
        description="Required gain over the champion; a negative value lets a fresher model win while it is at "
        "most that much worse.",
    )
    guards: dict[Metric, float] = Field(
        default_factory=dict, description="Metric -> how much it may get worse than the champion's."
    )
    bootstrap: BootstrapConfig = BootstrapConfig()
    slices: SlicesConfig = SlicesConfig()
    approval: ApprovalConfig = ApprovalConfig()


class DailyChecksConfig(_Frozen):
    """Per-day checks (``pipelines.quality``): each day's rows, null rates, means and label rate against the
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


class QualityConfig(_Frozen):
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


class ScheduleConfig(_Frozen):
    """When ``retrain_<model>`` runs by itself, and the earliest logical date any of the model's DAGs accepts."""

    cron: str | None = Field(
        default="0 2 * * *",
        description="Nightly schedule (UTC); null: only drift events and people start runs (data that is not live).",
    )
    start_date: date = Field(
        default=date(2000, 1, 1),
        description="No run of the model's DAGs may have an earlier logical date; early enough for all the data.",
    )

    @field_validator("start_date")
    @classmethod
    def _not_in_the_future(cls, value: date) -> date:
        if value > datetime.now(UTC).date():
            raise ValueError(f"{value} is in the future: no run before it could run any task")
        return value


class ModelConfig(_Frozen):
    """Everything that describes one model; loaded from ``configs/<name>.yaml``."""

    name: str
    description: str = ""
    task: Literal["binary", "regression"]
    source: SourceConfig
    columns: ColumnsConfig
    windows: WindowsConfig
    schedule: ScheduleConfig = ScheduleConfig()
    xgboost: XGBoostConfig = XGBoostConfig()
    policy: PolicyConfig
    quality: QualityConfig
    drift: DriftConfig = DriftConfig()
    owner: str = "ml-platform"

    @property
    def drift_asset(self) -> str:
        """Name of the Airflow asset whose events mean "drift confirmed, retrain"."""
        return f"drift_{self.name}"

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


def load_config(path: Path) -> ModelConfig:
    """Parse and validate one config file; errors name the file and each bad key."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        cfg = ModelConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc
    if cfg.name != path.stem:
        raise ConfigError(f"{path}: name {cfg.name!r} must match the file name {path.stem!r}")
    return cfg


def config_paths(directory: Path | None = None) -> list[Path]:
    return sorted((directory or settings.configs_dir()).glob("*.yaml"))


def load_all(directory: Path | None = None) -> list[ModelConfig]:
    """Every model config in the configs folder, sorted by name."""
    return [load_config(p) for p in config_paths(directory)]


def load_model(name: str, directory: Path | None = None) -> ModelConfig:
    """The config of one model by name, with a clear error listing the known models."""
    path = (directory or settings.configs_dir()) / f"{name}.yaml"
    if not MODEL_NAME.match(name) or not path.exists():
        known = ", ".join(p.stem for p in config_paths(directory)) or "none"
        raise ConfigError(f"unknown model {name!r} (known: {known})")
    return load_config(path)
