"""What the model card measures beyond the decision: a learning curve from refits, and SHAP values.

The learning curve refits the challenger's parameters with a fixed number of rounds (its best iteration) on
the newest 1/8, 1/4, 1/2 and all of its training rows: the newest rows are kept because they are the most
like the holdout, so a smaller share means "less history". Each refit uses one thread: on a few thousand
rows that is as fast, and it never waits on cores busy with other tasks. When doubling the rows still raises the
holdout metric by more than ``MORE_DATA_HELPS`` (relative), more data would likely help.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.model.features import labels, model_frame
from pipelines.model.metrics import METRICS, gain
from pipelines.model.scoring import score
from pipelines.model.train import estimator

CURVE_FRACTIONS = (0.125, 0.25, 0.5, 1.0)
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


def learning_curve(cfg: ModelConfig, train: pd.DataFrame, holdout: pd.DataFrame, rounds: int) -> LearningCurve:
    """Refit with ``rounds`` trees on growing shares of the (time-ordered) training rows, newest kept."""
    metric = cfg.policy.primary_metric
    y = labels(holdout, cfg)
    rows, values = [], []
    for fraction in CURVE_FRACTIONS:
        part = train.iloc[-max(round(len(train) * fraction), 1) :]
        target = labels(part, cfg)
        if cfg.task == "binary" and len(np.unique(target)) < 2:
            continue
        model = estimator(cfg, n_estimators=rounds, early_stopping_rounds=None, n_jobs=1, nthread=1)
        model.fit(model_frame(part, cfg), target, verbose=False)
        rows.append(len(part))
        values.append(METRICS[metric](y, score(model, holdout, cfg).scores))
    helps, verdict = curve_verdict(metric, rows, values)
    return LearningCurve(metric, rows, values, helps, verdict)


def curve_verdict(metric: str, rows: Sequence[int], values: Sequence[float]) -> tuple[bool, str]:
    """Whether the last step of the curve still gains more than ``MORE_DATA_HELPS`` of the metric, in words."""
    if len(values) < 2:
        return False, "too few training rows to draw a learning curve"
    step = gain(metric, values[-1], values[-2])
    relative = step / max(abs(values[-1]), 1e-12)
    change = f"going from {rows[-2]} to {rows[-1]} training rows changed {metric} by {step:+.4f} ({relative:+.1%})"
    if relative > MORE_DATA_HELPS:
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
