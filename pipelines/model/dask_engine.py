"""Engine ``dask``: XGBoost trained with ``xgboost.dask`` on a ``dask.distributed`` cluster, for windows that
outgrow one worker.

The workers read the snapshot's files in partitions (``dask_split``: the same training, validation and holdout
rows as ``features.split``), train with the parameters of ``estimators.estimator``, early-stopped on the validation
rows, and score and profile in partitions (``profile_parts``). The client holds only small results: counts,
sketches, the validation rows' labels and scores. The model comes back as a plain in-process XGBoost
estimator, so logging, registering and scoring it is the local engine's code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.config.training_sections import METRICS_BY_TASK
from pipelines.data.profile import Profile
from pipelines.data.profile_parts import (
    PartCounts,
    ProfileBins,
    ProfilePart,
    merged_profile,
    part_counts,
    profile_bins,
    profile_part,
)
from pipelines.data.row_groups import ROW
from pipelines.data.snapshot import Snapshot
from pipelines.model.dask_cluster import connected, each_partition, placed, scheduler_address
from pipelines.model.dask_split import (
    TRAIN,
    VALIDATION,
    SplitPlan,
    plan_split,
    read_snapshot,
)
from pipelines.model.estimators import PROFILE_SCORED_ROWS, estimator, predict
from pipelines.model.features import labels, model_frame
from pipelines.model.fitted import Fitted
from pipelines.model.metrics import compute

Categories = dict[str, list[str]]
WORKER_SETTINGS = ("nthread", "n_jobs")
"""Parameters of the local process that a Dask worker sets for itself (``dask worker --nthreads``)."""


def fit(cfg: ModelConfig, snapshot: Snapshot) -> Fitted:
    """Fit the config's model on the snapshot's training rows on the Dask cluster of ``cfg`` (or
    ``PIPELINES_DASK_SCHEDULER``), early-stopped on its validation rows; the engine's ``Fitted``.
    """
    with connected(scheduler_address(cfg)) as client:
        frame = client.persist(read_snapshot(snapshot, cfg))
        plan = plan_split(client, frame, cfg, snapshot.window)
        train, valid = plan.rows(frame, TRAIN), plan.rows(frame, VALIDATION)
        categories = _categories(client, train, cfg)
        model = _train(client, cfg, categories, train, valid)
        shared = client.scatter(model, broadcast=True)
        validated = each_partition(client, valid, _labels_and_scores, shared, cfg, categories)
        y, scores = (np.concatenate([part[i] for part in validated]) for i in (0, 1))
        metrics = compute(METRICS_BY_TASK[cfg.task], y, scores)
        profile = _profile(client, cfg, train, shared, categories, plan)
        example = _example(client, cfg, train, categories, plan)
    return Fitted(
        model=model,
        engine="dask",
        train_rows=plan.train_rows,
        validation_rows=plan.validation_rows,
        holdout_rows=plan.holdout_rows,
        validation_metrics=metrics,
        profile=profile,
        example=example,
    )


def _categories(client: Any, train: Any, cfg: ModelConfig) -> Categories:
    """Each categorical feature's values in the training rows, ordered as ``model_frame`` orders categories."""
    found = each_partition(client, train, _present_values, cfg.columns.categorical)
    return {name: sorted(set[str]().union(*(part[name] for part in found))) for name in cfg.columns.categorical}


def _train(client: Any, cfg: ModelConfig, categories: Categories, train: Any, valid: Any) -> Any:
    """``xgboost.dask`` fitted with ``estimators.estimator``'s parameters but its thread count (each worker uses
    its own: a count above it makes the workers' threads spin against each other), each worker holding the same
    partitions run after run (``placed``); returned as that in-process estimator.
    """
    from xgboost import dask as dxgb

    meta = model_frame(train._meta, cfg, categories)
    label_meta = pd.Series(dtype="float64", name=cfg.columns.label)

    def inputs(rows: Any) -> tuple[Any, Any]:
        return (
            placed(client, rows.map_partitions(model_frame, cfg, categories, meta=meta)),
            placed(client, rows.map_partitions(_label_series, cfg, meta=label_meta)),
        )

    params = {k: v for k, v in estimator(cfg).get_params().items() if k not in WORKER_SETTINGS}
    distributed = dxgb.DaskXGBClassifier(**params) if cfg.task == "binary" else dxgb.DaskXGBRegressor(**params)
    distributed.client = client
    distributed.fit(*inputs(train), eval_set=[inputs(valid)], verbose=False)
    model = estimator(cfg)
    model.load_model(bytearray(distributed.get_booster().save_raw("ubj")))
    return model


def _profile(client: Any, cfg: ModelConfig, train: Any, model: Any, categories: Categories, plan: SplitPlan) -> Profile:
    """The drift profile of the training rows in two passes (``profile_parts``); scores from about
    ``PROFILE_SCORED_ROWS`` training rows, every ``step``-th row of the snapshot, as the local engine scores.
    """
    step = max(1, math.ceil(plan.train_rows / PROFILE_SCORED_ROWS))
    parts = each_partition(client, train, _profile_part, model, cfg, categories, step)
    bins = profile_bins(parts, cfg.drift.bins, cfg.drift.max_categories)
    counts = each_partition(client, train, _count_part, model, cfg, categories, step, bins)
    return merged_profile(parts, bins, counts)


def _example(client: Any, cfg: ModelConfig, train: Any, categories: Categories, plan: SplitPlan) -> pd.DataFrame:
    """The first five training rows in ``split``'s order, as ``model_frame`` gives them (indexed by position)."""
    order = list(plan.rule.order)
    firsts = each_partition(client, train, _first_rows, order, 5)
    rows = pd.concat(firsts).sort_values(order, kind="stable").head(5)
    return model_frame(rows.set_index(ROW).rename_axis(None), cfg, categories)


def _present_values(part: pd.DataFrame, names: Sequence[str]) -> dict[str, set[str]]:
    return {name: set(part[name].astype("string").dropna().unique()) for name in names}


def _label_series(part: pd.DataFrame, cfg: ModelConfig) -> pd.Series:
    return pd.Series(labels(part, cfg), index=part.index, name=cfg.columns.label)


def _labels_and_scores(
    part: pd.DataFrame, model: Any, cfg: ModelConfig, categories: Categories
) -> tuple[np.ndarray, np.ndarray]:
    features = model_frame(part, cfg, categories)
    return labels(part, cfg), predict(model, features, cfg.task) if len(part) else np.empty(0)


def _sampled_scores(part: pd.DataFrame, features: pd.DataFrame, model: Any, cfg: ModelConfig, step: int) -> np.ndarray:
    sampled = features[part[ROW].to_numpy() % step == 0]
    return predict(model, sampled, cfg.task) if len(sampled) else np.empty(0)


def _profile_part(part: pd.DataFrame, model: Any, cfg: ModelConfig, categories: Categories, step: int) -> ProfilePart:
    features = model_frame(part, cfg, categories)
    scores = _sampled_scores(part, features, model, cfg, step)
    return profile_part(features, cfg.columns.numeric, cfg.columns.categorical, scores)


def _count_part(
    part: pd.DataFrame, model: Any, cfg: ModelConfig, categories: Categories, step: int, bins: ProfileBins
) -> PartCounts:
    features = model_frame(part, cfg, categories)
    return part_counts(features, _sampled_scores(part, features, model, cfg, step), bins)


def _first_rows(part: pd.DataFrame, order: list[str], n: int) -> pd.DataFrame:
    return part.sort_values(order, kind="stable").head(n)
