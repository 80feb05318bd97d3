"""Train: XGBoost on the snapshot's training days, logged to MLflow and registered as a version born with its lineage."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config import settings
from pipelines.config.model import ModelConfig
from pipelines.config.training_sections import METRICS_BY_TASK
from pipelines.data.ingest import load
from pipelines.data.profile import Profile, build_profile
from pipelines.data.snapshot import Snapshot
from pipelines.faults import stop_point
from pipelines.model.features import Splits, labels, model_frame, split
from pipelines.model.metrics import compute
from pipelines.registry import locks
from pipelines.registry import versions as registry
from pipelines.registry.lineage import Lineage

PROFILE_ARTIFACT = "drift_profile.json"
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


def config_hash(cfg: ModelConfig) -> str:
    """Hash of everything in the config that changes the trained model."""
    relevant = {
        "task": cfg.task,
        "columns": cfg.columns.model_dump(),
        "xgboost": cfg.xgboost.model_dump(),
        "validation_fraction": cfg.windows.validation_fraction,
    }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def predict(model: Any, features: pd.DataFrame, task: str) -> np.ndarray:
    """Scores for the primary metric: positive-class probability or the regression value."""
    if task == "binary":
        return np.asarray(model.predict_proba(features)[:, 1], dtype="float64")
    return np.asarray(model.predict(features), dtype="float64")


def train(cfg: ModelConfig, snapshot: Snapshot, lineage: Lineage | None = None) -> TrainResult:
    """Fit, log and register a challenger; an identical earlier version (same data, config, code) is reused.

    Runs that would train the same thing wait for each other (a lock in the pipeline's database, at most
    ``PIPELINES_TRAIN_LOCK_TIMEOUT`` seconds, default 3600), so it is trained once even when two race.
    The version is created with its whole lineage; no alias moves here.
    """
    lineage = lineage or Lineage()
    identity = {
        "snapshot_hash": snapshot.content_hash,
        "config_hash": config_hash(cfg),
        "code_version": settings.code_version(),
    }
    name = f"train:{cfg.name}:{':'.join(identity.values())}"
    timeout = float(os.environ.get("PIPELINES_TRAIN_LOCK_TIMEOUT") or 3600)
    with locks.held(name, timeout, waiting=log.warning):
        existing = registry.find_version(cfg.name, identity)
        if existing is not None:
            return TrainResult(cfg.name, existing.version, existing.run_id, None, {}, reused=True)
        splits = split(load(snapshot), cfg, snapshot.window)
        model = fit(cfg, splits)
        valid_metrics = compute(
            METRICS_BY_TASK[cfg.task],
            labels(splits.validation, cfg),
            predict(model, model_frame(splits.validation, cfg), cfg.task),
        )
        model_uri, run_id = _log_model(cfg, snapshot, splits, model, valid_metrics)
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
                "training_rows": str(len(splits.train)),
            },
        )
    stop_point("version_created")
    best = getattr(model, "best_iteration", None)
    return TrainResult(cfg.name, created.version, run_id, best, valid_metrics, reused=False)


def reference_profile(cfg: ModelConfig, splits: Splits, model: Any) -> Profile:
    """What drift monitoring compares new data with: the training rows' features and the model's scores."""
    features = model_frame(splits.train, cfg)
    return build_profile(
        features,
        cfg.columns.numeric,
        cfg.columns.categorical,
        predict(model, features, cfg.task),
        bins=cfg.drift.bins,
        max_categories=cfg.drift.max_categories,
    )


def estimator(cfg: ModelConfig, **overrides: Any) -> Any:
    """An unfitted XGBoost estimator with the config's parameters; ``overrides`` win."""
    import xgboost as xgb

    params: dict[str, Any] = {
        "n_estimators": cfg.xgboost.num_boost_round,
        "early_stopping_rounds": cfg.xgboost.early_stopping_rounds,
        "random_state": cfg.xgboost.seed,
        "tree_method": "hist",
        "enable_categorical": True,
        **cfg.xgboost.params,
        **overrides,
    }
    return xgb.XGBClassifier(**params) if cfg.task == "binary" else xgb.XGBRegressor(**params)


def fit(cfg: ModelConfig, splits: Splits) -> Any:
    """The config's estimator fitted on the training rows, early-stopped on the validation rows."""
    model = estimator(cfg)
    model.fit(
        model_frame(splits.train, cfg),
        labels(splits.train, cfg),
        eval_set=[(model_frame(splits.validation, cfg), labels(splits.validation, cfg))],
        verbose=False,
    )
    return model


def _log_model(
    cfg: ModelConfig, snapshot: Snapshot, splits: Splits, model: Any, valid_metrics: dict[str, float]
) -> tuple[str, str]:
    """Log the fitted model with its parameters, metrics and reference profile; returns (model URI, run id)."""
    import mlflow
    from mlflow.models import infer_signature

    example = model_frame(splits.train.head(5), cfg)
    with registry.start_run(cfg.name, f"train {snapshot.window_end}") as run:
        mlflow.log_params({f"xgb.{k}": v for k, v in model.get_params().items() if v is not None})
        mlflow.log_params(
            {
                "window_start": snapshot.window_start,
                "window_end": snapshot.window_end,
                "snapshot_hash": snapshot.content_hash,
                "train_rows": len(splits.train),
                "validation_rows": len(splits.validation),
                "holdout_rows": len(splits.holdout),
            }
        )
        mlflow.log_metrics({f"validation_{k}": v for k, v in valid_metrics.items() if np.isfinite(v)})
        if getattr(model, "best_iteration", None) is not None:
            mlflow.log_metric("best_iteration", model.best_iteration)
        with tempfile.TemporaryDirectory() as tmp:
            plot = importance_plot(model, Path(tmp) / "feature_importance.png")
            mlflow.log_artifact(str(plot))
        mlflow.log_text(reference_profile(cfg, splits, model).to_json(), PROFILE_ARTIFACT)
        with _quiet("mlflow.models.model"):
            info = mlflow.xgboost.log_model(
                model,
                name="model",
                signature=infer_signature(example, predict(model, example, cfg.task)),
                input_example=example,
                pip_requirements=[*mlflow.xgboost.get_default_pip_requirements(), f"pandas=={pd.__version__}"],
            )
    return str(info.model_uri), run.info.run_id


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Silence MLflow's pyfunc serving check, which cannot pass: pyfunc hands categoricals over as
    strings, while the model takes pandas categories. Score with ``mlflow.xgboost.load_model`` on
    ``features.model_frame`` (as ``evaluate`` does).
    """
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def importance_plot(model: Any, path: Path) -> Path:
    """Bar chart of the 20 features with the most total gain, as PNG."""
    from matplotlib.figure import Figure

    gains = model.get_booster().get_score(importance_type="total_gain")
    ranked = sorted(gains.items(), key=lambda kv: kv[1])[-20:]
    fig = Figure(figsize=(7, max(3, 0.32 * len(ranked))))
    ax = fig.subplots()
    ax.barh([k for k, _ in ranked], [v for _, v in ranked], color="#3b75af")
    ax.set_xlabel("total gain")
    ax.set_title("Feature importance")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
