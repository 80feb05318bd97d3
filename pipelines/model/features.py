"""Turning snapshot rows into model inputs, and the time-ordered splits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.data.windows import Window
from pipelines.errors import PipelinesError


class FeatureError(PipelinesError, ValueError):
    """Snapshot columns that cannot be used as model inputs."""


@dataclass(frozen=True)
class Splits:
    """Time-ordered rows of a window: training, early-stopping validation and holdout."""

    train: pd.DataFrame
    validation: pd.DataFrame
    holdout: pd.DataFrame


def model_frame(
    frame: pd.DataFrame, cfg: ModelConfig, categories: Mapping[str, Sequence[str]] | None = None
) -> pd.DataFrame:
    """Feature columns only: numeric as float64, categorical as pandas categories.

    With ``categories`` (a model's trained categories per feature), a listed column has exactly those
    categories, in that order, and every other value is missing.
    """
    cols = cfg.columns
    missing = [c for c in cols.features if c not in frame.columns]
    if missing:
        raise FeatureError(f"snapshot lacks feature columns: {', '.join(missing)}")
    out = pd.DataFrame(index=frame.index)
    for name in cols.numeric:
        try:
            out[name] = pd.to_numeric(frame[name], errors="raise").astype("float64")
        except (TypeError, ValueError) as exc:
            raise FeatureError(f"numeric feature {name!r} has non-numeric values: {exc}") from exc
    for name in cols.categorical:
        values = frame[name].astype("string")
        known = (categories or {}).get(name)
        out[name] = values.astype("category") if known is None else _with_categories(values, known)
    return out


def _with_categories(values: pd.Series, categories: Sequence[str]) -> pd.Series:
    """String values as exactly these categories; any other value (and NA) becomes missing."""
    dtype = pd.CategoricalDtype(pd.Index(categories, dtype="string"))
    codes = dtype.categories.get_indexer(values)
    return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype), index=values.index)


def labels(frame: pd.DataFrame, cfg: ModelConfig) -> np.ndarray:
    """The label column as float64; FeatureError when it is absent or has missing or non-numeric values."""
    label = cfg.columns.label
    if label not in frame.columns:
        raise FeatureError(f"snapshot lacks the label column {label!r}")
    values = pd.to_numeric(frame[label], errors="coerce")
    if values.isna().any():
        raise FeatureError(f"label {label!r} has {int(values.isna().sum())} missing or non-numeric values")
    return values.to_numpy(dtype="float64")


def split(frame: pd.DataFrame, cfg: ModelConfig, window: Window) -> Splits:
    """Holdout = the window's last days; the training days' newest rows validate early stopping.

    Rows are ordered by the timestamp, then the entity key when there is one; the sort is stable, so rows of
    the same moment keep the snapshot's order.
    """
    ts, key = cfg.columns.timestamp, cfg.columns.entity_key
    ordered = frame.sort_values([ts, key] if key else [ts], kind="stable")
    is_holdout = ordered[ts] >= window.holdout_bound()
    training, holdout = ordered[~is_holdout], ordered[is_holdout]
    n_valid = round(len(training) * cfg.windows.validation_fraction)
    if len(training) - n_valid < 10 or n_valid < 1:
        raise FeatureError(f"too few training rows in the window ({len(training)})")
    if holdout.empty:
        raise FeatureError(f"no holdout rows on or after {window.holdout_start}")
    return Splits(training.iloc[:-n_valid], training.iloc[-n_valid:], holdout)
