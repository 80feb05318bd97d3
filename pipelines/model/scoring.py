"""Scoring a model with exactly the categories it was trained with.

XGBoost (3.1 and later) stores a model's categories in the model itself (``Booster.get_categories``), so
they survive MLflow's save and load. At scoring, its re-coder must never see a value the model was not
trained with: it raises for some ("Found a category not in the training set") and in 3.2 silently scores
others as a neighbouring known category (xgboost issue #11826). So every categorical column is given the
model's categories, in the model's order, before scoring: an unseen value becomes missing and is scored
exactly as a missing value is, and the rows are counted per feature and value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.model.estimators import predict
from pipelines.model.features import FeatureError, model_frame

Unseen = dict[str, dict[str, int]]
"""Rows per value never seen in training, per feature: ``{"region": {"newtown": 12}}``."""

SHOWN_VALUES = 5


@dataclass(frozen=True)
class Scored:
    """A model's scores on some rows, and the values it never saw in training (each scored as missing)."""

    scores: np.ndarray
    unseen: Unseen

    def unseen_lines(self) -> list[str]:
        """One line per feature with unseen values, e.g.
        ``region: 12 rows with values never seen in training (newtown), scored as missing``.
        """
        return [unseen_line(name, values) for name, values in self.unseen.items()]


def trained_categories(model: Any) -> dict[str, list[str]]:
    """The categories each categorical feature had in training, in the model's order.

    ``model`` is an XGBoost estimator or Booster. A model that has categorical features but no stored
    categories (saved before XGBoost 3.1) raises ``FeatureError``: unseen values could not be told apart.
    """
    booster = _booster(model)
    stored = booster.get_categories(export_to_arrow=True).to_arrow()
    found = {name: [str(v) for v in values.to_pylist()] for name, values in stored if values is not None}
    kinds = dict(zip(booster.feature_names or (), booster.feature_types or (), strict=False))
    lacking = [name for name, kind in kinds.items() if kind == "c" and name not in found]
    if lacking:
        raise FeatureError(
            f"the model stores no training categories for {', '.join(lacking)} (saved before XGBoost 3.1?): "
            "values it never saw could not be scored as missing"
        )
    return found


def aligned_frame(model: Any, frame: pd.DataFrame, cfg: ModelConfig) -> tuple[pd.DataFrame, Unseen]:
    """The model frame of ``frame`` with each categorical column set to the model's categories (same order),
    values never seen in training as missing; and the rows of those values per feature and value.
    """
    categories = trained_categories(model)
    _require_model_features(model, cfg, categories)
    features = model_frame(frame, cfg, categories)
    return features, _unseen(frame, features, cfg.columns.categorical)


def score(model: Any, frame: pd.DataFrame, cfg: ModelConfig) -> Scored:
    """The model's scores on ``frame`` (as ``estimators.predict``), unseen categories scored as missing and counted.

    Raises ``FeatureError`` before scoring when a column is missing or does not fit the model.
    """
    features, unseen = aligned_frame(model, frame, cfg)
    return Scored(predict(model, features, cfg.task), unseen)


def unseen_line(feature: str, values: dict[str, int]) -> str:
    """``region: 12 rows with values never seen in training (newtown), scored as missing`` (plain text)."""
    rows = sum(values.values())
    ranked = sorted(values, key=lambda value: (-values[value], value))
    shown = ", ".join(ranked[:SHOWN_VALUES])
    more = f", and {len(ranked) - SHOWN_VALUES} more" if len(ranked) > SHOWN_VALUES else ""
    noun = "row" if rows == 1 else "rows"
    return f"{feature}: {rows} {noun} with values never seen in training ({shown}{more}), scored as missing"


def _require_model_features(model: Any, cfg: ModelConfig, categories: dict[str, list[str]]) -> None:
    """The config's features are the model's, with the same ones categorical."""
    trained = tuple(_booster(model).feature_names or ())
    if trained and trained != cfg.columns.features:
        raise FeatureError(
            f"the model was trained on features {', '.join(trained)}; "
            f"the config gives {', '.join(cfg.columns.features)}"
        )
    if set(categories) != set(cfg.columns.categorical):
        raise FeatureError(
            f"the model's categorical features are {', '.join(sorted(categories)) or 'none'}; "
            f"the config's are {', '.join(sorted(cfg.columns.categorical)) or 'none'}"
        )


def _unseen(frame: pd.DataFrame, features: pd.DataFrame, names: tuple[str, ...]) -> Unseen:
    """Rows per value that was present in ``frame`` but is missing after alignment, per feature."""
    found: Unseen = {}
    for name in names:
        lost = frame[name].notna().to_numpy() & features[name].isna().to_numpy()
        if lost.any():
            counts = frame.loc[lost, name].astype("string").value_counts()
            found[name] = {str(value): int(rows) for value, rows in sorted(counts.items(), key=_by_rows)}
    return found


def _booster(model: Any) -> Any:
    return model.get_booster() if hasattr(model, "get_booster") else model


def _by_rows(item: tuple[Any, int]) -> tuple[int, str]:
    return -item[1], str(item[0])
