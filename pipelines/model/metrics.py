"""Model metrics and the paired bootstrap used to compare champion and challenger."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MetricFn = Callable[[np.ndarray, np.ndarray], float]
_EPS = 1e-15


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (NaN when ``y`` holds a single class)."""
    positives = y == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = average_ranks(score)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (``scipy.stats.rankdata``'s default, without scipy's
    import cost).
    """
    values = np.asarray(values)
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.concatenate(([0], np.flatnonzero(ordered[1:] != ordered[:-1]) + 1))
    ends = np.append(starts[1:], len(values))
    ranks = np.empty(len(values), dtype="float64")
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def log_loss(y: np.ndarray, score: np.ndarray) -> float:
    """Mean binary cross-entropy, the scores clipped away from 0 and 1."""
    p = np.clip(score, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def accuracy(y: np.ndarray, score: np.ndarray) -> float:
    """Share of rows classified right at a 0.5 threshold."""
    return float(np.mean((score >= 0.5) == (y == 1)))


def brier(y: np.ndarray, score: np.ndarray) -> float:
    """Brier score: mean squared error of the scores as probabilities."""
    return float(np.mean((score - y) ** 2))


def rmse(y: np.ndarray, pred: np.ndarray) -> float:
    """Root mean squared error."""
    return float(np.sqrt(np.mean((pred - y) ** 2)))


def mae(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(pred - y)))


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination (NaN when ``y`` is constant)."""
    total = float(np.sum((y - y.mean()) ** 2))
    return float("nan") if total == 0 else 1 - float(np.sum((y - pred) ** 2)) / total


METRICS: dict[str, MetricFn] = {
    "roc_auc": roc_auc,
    "log_loss": log_loss,
    "accuracy": accuracy,
    "brier": brier,
    "rmse": rmse,
    "mae": mae,
    "r2": r2,
}
HIGHER_IS_BETTER = {
    "roc_auc": True,
    "accuracy": True,
    "r2": True,
    "log_loss": False,
    "brier": False,
    "rmse": False,
    "mae": False,
}


def finite_or_none(value: float) -> float | None:
    """``value``, or None when it is NaN or infinite (for JSON and the database)."""
    return float(value) if np.isfinite(value) else None


def compute(names: tuple[str, ...], y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Each named metric of ``score`` against ``y``."""
    return {name: METRICS[name](y, score) for name in names}


def gain(metric: str, new: float, old: float) -> float:
    """How much better ``new`` is than ``old`` (positive = better), whatever the metric's direction."""
    return new - old if HIGHER_IS_BETTER[metric] else old - new


def paired_bootstrap_gain(
    metric: str,
    y: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    samples: int,
    confidence: float,
    seed: int,
) -> tuple[float, float]:
    """Confidence interval of the challenger's gain, resampling the same rows for both models."""
    fn = METRICS[metric]
    rng = np.random.default_rng(seed)
    n = len(y)
    gains = np.empty(samples)
    for i in range(samples):
        idx = rng.integers(0, n, n)
        gains[i] = gain(metric, fn(y[idx], challenger[idx]), fn(y[idx], champion[idx]))
    gains = gains[~np.isnan(gains)]
    if gains.size == 0:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(gains, [tail, 100 - tail])
    return float(low), float(high)
