"""The XGBoost estimator every training engine fits, its scores, and how many training rows the profile scores.

Shared by the local engine (``train``) and the Dask engine (``dask_engine``), which ``train`` calls: so they
live apart from both, and neither imports the other's module to get them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.model import ModelConfig

PROFILE_SCORED_ROWS = 200_000
"""At most this many training rows, evenly spread, are scored for the drift profile's score bins."""


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


def predict(model: Any, features: pd.DataFrame, task: str) -> np.ndarray:
    """Scores for the primary metric: positive-class probability or the regression value."""
    if task == "binary":
        return np.asarray(model.predict_proba(features)[:, 1], dtype="float64")
    return np.asarray(model.predict(features), dtype="float64")
