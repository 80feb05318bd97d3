"""How a model is trained and judged: its XGBoost parameters and the champion/challenger ``policy``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from pipelines.config.base import Frozen, Identifier

Metric = Literal["roc_auc", "log_loss", "accuracy", "brier", "rmse", "mae", "r2"]
METRICS_BY_TASK: dict[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "log_loss", "accuracy", "brier"),
    "regression": ("rmse", "mae", "r2"),
}


class XGBoostConfig(Frozen):
    """XGBoost parameters, boosting rounds, early stopping and seed."""

    params: dict[str, float | int | str] = Field(default_factory=dict)
    num_boost_round: int = Field(default=500, ge=1)
    early_stopping_rounds: int = Field(default=30, ge=1)
    seed: int = 42


class TrainingConfig(Frozen):
    """Where a model is fitted: in the worker's process (``local``) or on a ``dask.distributed`` cluster; and
    for ``local``, whether XGBoost's quantized training matrix is held in memory or cached on disk.

    ``memory: auto`` estimates what in-memory training needs (the window's rows times its bytes per row as
    pandas holds one row group, times ``memory_plan.NEED_PER_WINDOW_BYTE``) and compares it with a budget: the
    environment variable ``PIPELINES_TRAINING_MEMORY_BYTES`` when set, else half of the machine's available
    memory (``MemAvailable`` in /proc/meminfo). Within the budget it trains in memory, else in external memory.
    """

    engine: Literal["local", "dask"] = Field(
        default="local", description="local: XGBoost in the task's process; dask: xgboost.dask on a cluster."
    )
    scheduler: str | None = Field(
        default=None,
        description="The Dask scheduler's address (tcp://host:8786) for engine dask; the environment variable "
        "PIPELINES_DASK_SCHEDULER overrides it.",
    )
    memory: Literal["auto", "in_memory", "external"] = Field(
        default="auto",
        description="Engine local only. in_memory: the training rows streamed from the day files into XGBoost's "
        "in-memory quantized matrix (QuantileDMatrix); external: into its external-memory matrix "
        "(ExtMemQuantileDMatrix), its pages cached in a temporary folder on disk, for windows that do not fit; "
        "auto: in_memory when the estimated need fits the memory budget, else external.",
    )


class BootstrapConfig(Frozen):
    """The paired bootstrap comparing challenger and champion: samples, confidence, and whether it must be significant."""

    samples: int = Field(default=500, ge=50, le=20000)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    require_significant: bool = Field(
        default=False, description="Promote only when the whole interval shows an improvement."
    )


class SlicesConfig(Frozen):
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


class ApprovalConfig(Frozen):
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


class PolicyConfig(Frozen):
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
