"""Train: XGBoost on the snapshot's training days, logged to MLflow and registered as a version born with its lineage."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import settings
from pipelines.config.model import ModelConfig
from pipelines.data.snapshot import Snapshot
from pipelines.faults import stop_point
from pipelines.model import memory_plan
from pipelines.model.estimators import estimator
from pipelines.model.features import Splits, labels, model_frame
from pipelines.model.fitted import Fitted
from pipelines.model.ordered_split import holdout_rows
from pipelines.registry import locks
from pipelines.registry import versions as registry
from pipelines.registry.lineage import Lineage

PROFILE_ARTIFACT = "drift_profile.json"
OnRegistered = Callable[[int, pd.DataFrame, Any], None]
"""Called with a new version's number, its holdout rows and the fitted model."""
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """A trained (or reused) version: its number, run, best iteration and validation metrics."""

    model: str
    version: int
    run_id: str | None
    best_iteration: int | None
    validation_metrics: dict[str, float]
    reused: bool

    def to_dict(self) -> dict[str, Any]:
        """The result's fields as a plain dict."""
        return asdict(self)


def config_hash(cfg: ModelConfig, external: bool = False) -> str:
    """Hash of everything in the config that changes the trained model; ``external``: the local engine trains
    in external memory (its quantiles come from pages of the data, so it is another model).
    """
    relevant: dict[str, Any] = {
        "task": cfg.task,
        "columns": cfg.columns.model_dump(),
        "xgboost": cfg.xgboost.model_dump(),
        "validation_fraction": cfg.windows.validation_fraction,
    }
    if cfg.training.engine != "local":  # another engine fits another model; local keeps its older hashes
        relevant["engine"] = cfg.training.engine
    elif external:
        relevant["memory"] = "external"
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def train(
    cfg: ModelConfig, snapshot: Snapshot, lineage: Lineage | None = None, on_registered: OnRegistered | None = None
) -> TrainResult:
    """Fit, log and register a challenger; an identical earlier version (same data, config, code) is reused.

    Runs that would train the same thing wait for each other (a lock in the pipeline's database, at most
    ``PIPELINES_TRAIN_LOCK_TIMEOUT`` seconds, default 3600), so it is trained once even when two race.
    The local engine streams the training rows to XGBoost, in memory or in external memory as
    ``training.memory`` says (``memory_plan``); the engine that ran is the version's ``training_engine`` tag:
    ``local``, ``local-external`` or ``dask``. The version is created with its whole lineage; no alias moves
    here. ``on_registered(version, holdout, model)`` is called with a new local version, its holdout rows (read
    from the holdout days' files only) and its model.
    """
    lineage = lineage or Lineage()
    external = cfg.training.engine == "local" and memory_plan.plan(cfg, snapshot).external
    identity = {
        "snapshot_hash": snapshot.content_hash,
        "config_hash": config_hash(cfg, external),
        "code_version": settings.code_version(),
    }
    name = f"train:{cfg.name}:{':'.join(identity.values())}"
    timeout = float(os.environ.get("PIPELINES_TRAIN_LOCK_TIMEOUT") or 3600)
    with locks.held(name, timeout, waiting=log.warning):
        existing = registry.find_version(cfg.name, identity)
        if existing is not None:
            return TrainResult(cfg.name, existing.version, existing.run_id, None, {}, reused=True)
        if cfg.training.engine == "dask":
            from pipelines.model import dask_engine

            fitted = dask_engine.fit(cfg, snapshot)
        else:
            from pipelines.model import streamed_engine

            fitted = streamed_engine.fit(cfg, snapshot, external)
        model_uri, run_id = _log_model(cfg, snapshot, fitted)
        created = registry.register(
            cfg.name,
            model_uri,
            {
                **identity,
                "window_start": snapshot.window_start,
                "holdout_start": snapshot.holdout_start,
                "window_end": snapshot.window_end,
                "snapshot_path": snapshot.path,
                "suite": cfg.quality.suite,
                "trigger": lineage.trigger,
                "airflow_run_id": lineage.airflow_run_id or "",
                "trigger_cause": lineage.cause,
                "training_rows": str(fitted.train_rows),
                "training_engine": fitted.engine,
            },
        )
        if on_registered is not None and cfg.training.engine == "local":
            on_registered(created.version, holdout_rows(snapshot, cfg), fitted.model)
    stop_point("version_created")
    best = getattr(fitted.model, "best_iteration", None)
    return TrainResult(cfg.name, created.version, run_id, best, fitted.validation_metrics, reused=False)


def fit(cfg: ModelConfig, splits: Splits) -> Any:
    """The config's estimator fitted on splits held in memory, early-stopped on the validation rows (the
    cadence job's refits, and the raw baseline of ``bench/retrain_bench.py``).
    """
    model = estimator(cfg)
    model.fit(
        model_frame(splits.train, cfg),
        labels(splits.train, cfg),
        eval_set=[(model_frame(splits.validation, cfg), labels(splits.validation, cfg))],
        verbose=False,
    )
    return model


def signature(cfg: ModelConfig) -> Any:
    """The logged model's MLflow signature, from the config: numeric features as doubles, categorical ones as
    strings, one float64 score per row (what ``infer_signature`` finds on complete rows, without scoring any).
    """
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema, TensorSpec

    inputs: list[ColSpec | TensorSpec] = [ColSpec("double", name) for name in cfg.columns.numeric]
    inputs += [ColSpec("string", name) for name in cfg.columns.categorical]
    return ModelSignature(Schema(inputs), Schema([TensorSpec(np.dtype("float64"), (-1,))]))


def pip_requirements() -> list[str]:
    """The logged model's pip requirements, pinned to this environment's versions (no inference)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("mlflow", "xgboost-cpu", "pandas", "numpy", "scikit-learn")]


def _log_model(cfg: ModelConfig, snapshot: Snapshot, fitted: Fitted) -> tuple[str, str]:
    """Log the fitted model with its parameters, metrics and reference profile; returns (model URI, run id)."""
    import mlflow

    model = fitted.model
    with registry.start_run(cfg.name, f"train {snapshot.window_end}") as run:
        params = {f"xgb.{k}": v for k, v in model.get_params().items() if v is not None}
        params.update(
            {
                "window_start": snapshot.window_start,
                "window_end": snapshot.window_end,
                "snapshot_hash": snapshot.content_hash,
                "train_rows": fitted.train_rows,
                "validation_rows": fitted.validation_rows,
                "holdout_rows": fitted.holdout_rows,
                "training_engine": fitted.engine,
            }
        )
        metrics = {f"validation_{k}": v for k, v in fitted.validation_metrics.items() if np.isfinite(v)}
        if getattr(model, "best_iteration", None) is not None:
            metrics["best_iteration"] = model.best_iteration
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.log_text(fitted.profile.to_json(), PROFILE_ARTIFACT)
        info = mlflow.xgboost.log_model(
            model, name="model", signature=signature(cfg), pip_requirements=pip_requirements()
        )
    return str(info.model_uri), run.info.run_id
