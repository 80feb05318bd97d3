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
    """Confidence interval of the challenger's gain, resampling the same rows for both models.

    Each resample is the rows drawn with replacement, ``rng.integers(0, n, n)``, given to the metric as how many
    times each row was drawn (``resampled_metric``): the metric of the resampled rows, to rounding, without
    copying or sorting them again.
    """
    y = np.asarray(y, dtype="float64")
    new, old = resampled_metric(metric, y, challenger), resampled_metric(metric, y, champion)
    rng = np.random.default_rng(seed)
    n = len(y)
    gains = np.empty(samples)
    for i in range(samples):
        counts = np.bincount(rng.integers(0, n, n), minlength=n)
        gains[i] = gain(metric, new(counts), old(counts))
    gains = gains[~np.isnan(gains)]
    if gains.size == 0:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(gains, [tail, 100 - tail])
    return float(low), float(high)


def resampled_metric(metric: str, y: np.ndarray, score: np.ndarray) -> Callable[[np.ndarray], float]:
    """The metric of the rows of a resample, from how many times each row was drawn (``counts``, summing to
    ``len(y)``): what ``METRICS[metric]`` gives on the resampled rows themselves. Sums are elementwise products
    summed, not BLAS dot products: OpenBLAS's threads made each one 100x slower on a busy 2-core machine.
    """
    y, score = np.asarray(y, dtype="float64"), np.asarray(score, dtype="float64")
    n = len(y)
    if n == 0:
        return lambda counts: float("nan")
    if metric == "roc_auc":
        return _resampled_roc_auc(y, score)
    if metric == "r2":

        def r2_of(counts: np.ndarray) -> float:
            mean = (counts * y).sum() / n
            total = (counts * (y - mean) ** 2).sum()
            return float("nan") if total == 0 else 1 - float((counts * (y - score) ** 2).sum()) / float(total)

        return r2_of
    per_row = _per_row(metric, y, score)
    if metric == "rmse":
        return lambda counts: float(np.sqrt((counts * per_row).sum() / n))
    return lambda counts: float((counts * per_row).sum() / n)


def _per_row(metric: str, y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Each row's term of a metric that is a mean over rows (``rmse``: of its square)."""
    if metric == "log_loss":
        p = np.clip(score, _EPS, 1 - _EPS)
        return -(y * np.log(p) + (1 - y) * np.log(1 - p))
    if metric == "accuracy":
        return ((score >= 0.5) == (y == 1)).astype("float64")
    if metric in ("brier", "rmse"):
        return (score - y) ** 2
    if metric == "mae":
        return np.abs(score - y)
    raise ValueError(f"no resampled form of the metric {metric!r}")


def _resampled_roc_auc(y: np.ndarray, score: np.ndarray) -> Callable[[np.ndarray], float]:
    """ROC AUC of a resample: the scores sorted once; per resample, the drawn positives and negatives of each
    group of tied scores, each positive counting the negatives below it and half of those tied with it.
    """
    order = np.argsort(score, kind="mergesort")
    ordered = score[order]
    starts = np.concatenate(([0], np.flatnonzero(ordered[1:] != ordered[:-1]) + 1))
    positive = (y[order] == 1).astype("float64")

    def auc_of(counts: np.ndarray) -> float:
        drawn = counts[order]
        pos = np.add.reduceat(drawn * positive, starts)
        neg = np.add.reduceat(drawn, starts) - pos
        n_pos, n_neg = pos.sum(), neg.sum()
        if n_pos == 0 or n_neg == 0:
            return float("nan")
        below = np.cumsum(neg) - neg
        return float((pos * (below + 0.5 * neg)).sum() / (n_pos * n_neg))

    return auc_of
