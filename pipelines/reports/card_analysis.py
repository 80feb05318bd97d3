"""What the model card measures beyond the decision: a learning curve from refits, and SHAP values.

The learning curve refits the challenger's parameters with a fixed number of rounds (its best iteration) on
the newest 1/8, 1/4 and 1/2 of its training rows (the largest capped at ``MAX_REFIT_ROWS``, the others its quarter
and half), and its last point is the challenger itself (trained on all of them with those rounds): the newest
rows are kept because they are the most like the holdout, so a smaller share means "less history". The refits
run side by side, one thread each, without early stopping's per-round evaluation, so their cost stays bounded
at any window size, and every point is scored on the same sample of at most ``CURVE_HOLDOUT_ROWS`` holdout rows
(the points are compared with each other, so what matters is that they share their rows). When each doubling of the rows on the last step still raises the holdout metric by more than
``MORE_DATA_HELPS`` (relative), more data would likely help.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.model.estimators import estimator
from pipelines.model.features import labels, model_frame
from pipelines.model.metrics import METRICS, gain
from pipelines.model.ordered_split import RecentSplit
from pipelines.model.scoring import score

REFIT_FRACTIONS = (0.125, 0.25, 0.5)
"""Shares of the training rows refitted for the curve; its last point, all rows, is the challenger itself."""
MAX_REFIT_ROWS = 150_000
"""The largest refit's rows at most, so the curve's cost stops growing with the window."""
CURVE_HOLDOUT_ROWS = 50_000
"""The holdout rows every point of the curve is scored on at most (a seeded sample, the same for each point)."""
MORE_DATA_HELPS = 0.005
SHAP_SAMPLE_ROWS = 500


@dataclass(frozen=True)
class LearningCurve:
    """The holdout primary metric of refits on the newest ``rows`` training rows, and what it says."""

    metric: str
    rows: list[int]
    values: list[float]
    more_data_helps: bool
    verdict: str


def learning_curve(cfg: ModelConfig, rows: RecentSplit, model: Any, rounds: int) -> LearningCurve:
    """Refits with ``rounds`` trees on growing shares of the (time-ordered) training rows, newest kept, then
    ``model`` (fitted on all ``rows.train_rows`` of them) as the last point. ``rows.newest`` must hold the
    largest refit's rows: ``MAX_REFIT_ROWS``, or all when there are fewer.
    """
    from concurrent.futures import ThreadPoolExecutor

    metric = cfg.policy.primary_metric
    holdout = rows.holdout
    if len(holdout) > CURVE_HOLDOUT_ROWS:
        picked = np.random.default_rng(cfg.xgboost.seed).choice(len(holdout), CURVE_HOLDOUT_ROWS, replace=False)
        holdout = holdout.iloc[np.sort(picked)]
    y = labels(holdout, cfg)
    largest = min(rows.train_rows * REFIT_FRACTIONS[-1], MAX_REFIT_ROWS)
    if len(rows.newest) < round(largest):
        raise ValueError(f"the learning curve needs the newest {round(largest)} training rows, got {len(rows.newest)}")
    shares = [fraction / REFIT_FRACTIONS[-1] for fraction in REFIT_FRACTIONS]
    parts = [rows.newest.iloc[-max(round(largest * share), 1) :] for share in shares]
    parts = [part for part in parts if cfg.task != "binary" or len(np.unique(labels(part, cfg))) > 1]

    def refit(part: pd.DataFrame) -> Any:
        fitted = estimator(cfg, n_estimators=rounds, early_stopping_rounds=None, n_jobs=1, nthread=1)
        return fitted.fit(model_frame(part, cfg), labels(part, cfg), verbose=False)

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="learning-curve") as pool:
        # the largest share first: the two threads then finish at about the same time
        refits = list(reversed(list(pool.map(refit, reversed(parts)))))
    sizes = [*(len(part) for part in parts), rows.train_rows]
    values = [METRICS[metric](y, score(fitted, holdout, cfg).scores) for fitted in (*refits, model)]
    helps, verdict = curve_verdict(metric, sizes, values)
    return LearningCurve(metric, sizes, values, helps, verdict)


def curve_verdict(metric: str, rows: Sequence[int], values: Sequence[float]) -> tuple[bool, str]:
    """Whether the last step of the curve still gains more than ``MORE_DATA_HELPS`` of the metric per doubling of
    the rows, in words.
    """
    if len(values) < 2:
        return False, "too few training rows to draw a learning curve"
    step = gain(metric, values[-1], values[-2])
    relative = step / max(abs(values[-1]), 1e-12)
    doublings = max(math.log2(rows[-1] / max(rows[-2], 1)), 1.0)
    change = f"going from {rows[-2]} to {rows[-1]} training rows changed {metric} by {step:+.4f} ({relative:+.1%})"
    if doublings > 1:
        change += f", {relative / doublings:+.1%} per doubling"
    if relative / doublings > MORE_DATA_HELPS:
        return True, f"{change}: the curve still rises, more data would likely help"
    return False, f"{change}: the curve has flattened, more data alone is unlikely to help much"


def contributions(model: Any, features: pd.DataFrame, rounds: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SHAP values (XGBoost's ``pred_contribs``) of a seeded sample of holdout rows, one column per feature,
    and that sample.
    """
    import xgboost as xgb

    if len(features) > SHAP_SAMPLE_ROWS:
        picked = np.sort(np.random.default_rng(seed).choice(len(features), SHAP_SAMPLE_ROWS, replace=False))
        features = features.iloc[picked]
    matrix = xgb.DMatrix(features, enable_categorical=True)
    values = model.get_booster().predict(matrix, pred_contribs=True, iteration_range=(0, rounds))
    return pd.DataFrame(values[:, :-1], columns=features.columns, index=features.index), features
