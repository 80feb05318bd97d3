"""A drift profile built from partitions of the reference rows that are never all in one place.

Row, missing and category counts add up exactly. Numeric bins need their cuts first, and exact quantiles need
every value, so the profile takes two passes over the partitions:

1. ``profile_part`` on each partition: per numeric column (and the scores) a ``QuantileSketch`` of its finite
   values and its missing count; per categorical column its rows per value;
2. ``profile_bins`` merges the sketches and takes the PSI and KS cuts from them as ``np.quantile`` would;
   ``part_counts`` then counts each partition's values per bin with those cuts, and ``merged_profile`` adds
   it all up into the ``Profile`` that ``build_profile`` gives.

Accuracy: a sketch keeps a partition's distinct values with their counts, so while no partition has more
than ``SKETCH_POINTS`` distinct values of a column (and all of them together at most ``MERGED_POINTS``), the
cuts are exactly ``build_profile``'s, to the bit. Beyond that a sketch keeps values at evenly spaced ranks,
each standing for an equal share of the rows, and a cut's rank among the N rows is off by at most about
N / SKETCH_POINTS (0.05% of the rows; N / MERGED_POINTS more when the merged sketch is compressed too): a
decile bin holds 10% +- 0.05% of the rows instead of exactly 10%. The counts per bin are always exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.data.profile import (
    SKETCH_QUANTILES,
    CategoricalProfile,
    NumericProfile,
    Profile,
    bin_counts,
    categorical_profile,
    category_counts,
    check_arguments,
    numeric_values,
    quantile_levels,
    require_columns,
    sorted_present,
)

SKETCH_POINTS = 2048
MERGED_POINTS = 65536


@dataclass(frozen=True)
class QuantileSketch:
    """Sorted values with the rows each stands for: the distinct values and their counts (``exact``), or values
    at evenly spaced ranks, each standing for an equal share of the rows.
    """

    values: np.ndarray
    weights: np.ndarray
    exact: bool

    @classmethod
    def of(cls, ordered: np.ndarray, points: int = SKETCH_POINTS) -> QuantileSketch:
        """The sketch of sorted finite values: exact up to ``points`` distinct values, compressed beyond."""
        values, counts = np.unique(ordered, return_counts=True)
        return cls(values, counts.astype("float64"), exact=True).compressed(points)

    @classmethod
    def merge(cls, sketches: Sequence[QuantileSketch], points: int = MERGED_POINTS) -> QuantileSketch:
        """One sketch of the rows of all ``sketches``: exact when they all are and it needs at most ``points``."""
        values = np.concatenate([np.empty(0), *(s.values for s in sketches)])
        weights = np.concatenate([np.empty(0), *(s.weights for s in sketches)])
        distinct, slot = np.unique(values, return_inverse=True)
        summed = np.bincount(slot, weights=weights, minlength=len(distinct))
        return cls(distinct, summed, all(s.exact for s in sketches)).compressed(points)

    def compressed(self, points: int) -> QuantileSketch:
        """This sketch, or with more than ``points`` values, the values at ``points`` evenly spaced ranks."""
        if len(self.values) <= points:
            return self
        cumulative = np.cumsum(self.weights)
        share = cumulative[-1] / points
        picked = self.values[np.searchsorted(cumulative, (np.arange(points) + 0.5) * share, side="right")]
        values, repeats = np.unique(picked, return_counts=True)
        return QuantileSketch(values, repeats * share, exact=False)

    def quantiles(self, levels: np.ndarray) -> np.ndarray:
        """``np.quantile`` (its default, linear method) of the rows the sketch stands for: the same floats when
        the sketch is exact (the same positions, neighbours and interpolation), none without rows.
        """
        if not self.values.size:
            return np.empty(0)
        cumulative = np.cumsum(self.weights)
        position = (cumulative[-1] - 1) * levels
        below = np.floor(position)
        last = len(self.values) - 1
        low = self.values[np.minimum(np.searchsorted(cumulative, below, side="right"), last)]
        high = self.values[np.minimum(np.searchsorted(cumulative, below + 1, side="right"), last)]
        return _lerp(low, high, position - below)


@dataclass(frozen=True)
class NumericPart:
    """A numeric column (or the scores) in one partition: the sketch of its finite values, its missing count."""

    sketch: QuantileSketch
    missing: int


@dataclass(frozen=True)
class ProfilePart:
    """What one partition adds to a profile before the numeric bins are known."""

    rows: int
    numeric: dict[str, NumericPart]
    categorical: dict[str, tuple[pd.Series, int]]
    predictions: NumericPart


@dataclass(frozen=True)
class Cuts:
    """A numeric column's inner PSI bin edges and its finer (KS) sketch edges."""

    psi: np.ndarray
    sketch: np.ndarray


@dataclass(frozen=True)
class ProfileBins:
    """The cuts of every numeric column and of the scores, and how many categories the profile names."""

    numeric: dict[str, Cuts]
    predictions: Cuts
    max_categories: int


@dataclass(frozen=True)
class PartCounts:
    """One partition's rows per PSI bin and per sketch bin, per numeric column and for the scores."""

    numeric: dict[str, tuple[np.ndarray, np.ndarray]]
    predictions: tuple[np.ndarray, np.ndarray]


def profile_part(
    features: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str], predictions: np.ndarray
) -> ProfilePart:
    """Pass 1 on one partition of the reference features (as ``build_profile`` takes them) and the model's scores
    on some or all of its rows (maybe none).
    """
    require_columns(features, [*numeric, *categorical], "reference data")
    return ProfilePart(
        rows=len(features),
        numeric={name: _numeric_part(numeric_values(features, name)) for name in numeric},
        categorical={name: category_counts(features[name]) for name in categorical},
        predictions=_numeric_part(_scores(predictions)),
    )


def profile_bins(
    parts: Sequence[ProfilePart], bins: int = 10, max_categories: int = 20, sketch_quantiles: int = SKETCH_QUANTILES
) -> ProfileBins:
    """Pass 1 merged: the cuts ``build_profile`` would take, from the partitions' sketches."""
    if not parts:
        raise ValueError("the reference data has no partitions")
    check_arguments(list(parts[0].numeric), list(parts[0].categorical), bins, max_categories, sketch_quantiles)
    if not sum(part.rows for part in parts):
        raise ValueError("the reference data has no rows")
    if not sum(part.predictions.sketch.weights.sum() + part.predictions.missing for part in parts):
        raise ValueError("predictions must be a non-empty 1-D array, got none in any partition")

    def cuts(sketches: list[QuantileSketch]) -> Cuts:
        merged = QuantileSketch.merge(sketches)
        return Cuts(*(np.unique(merged.quantiles(quantile_levels(n))) for n in (bins, sketch_quantiles)))

    return ProfileBins(
        numeric={name: cuts([part.numeric[name].sketch for part in parts]) for name in parts[0].numeric},
        predictions=cuts([part.predictions.sketch for part in parts]),
        max_categories=max_categories,
    )


def part_counts(features: pd.DataFrame, predictions: np.ndarray, bins: ProfileBins) -> PartCounts:
    """Pass 2 on one partition: its rows per bin, with the same features and scores as its ``profile_part``."""
    return PartCounts(
        numeric={name: _counts(numeric_values(features, name), cuts) for name, cuts in bins.numeric.items()},
        predictions=_counts(_scores(predictions), bins.predictions),
    )


def merged_profile(parts: Sequence[ProfilePart], bins: ProfileBins, counts: Sequence[PartCounts]) -> Profile:
    """The profile of all partitions, from their ``profile_part``, the ``profile_bins`` and their ``part_counts``."""
    return Profile(
        n_rows=sum(part.rows for part in parts),
        numeric={
            name: _numeric_profile(
                cuts, [c.numeric[name] for c in counts], sum(part.numeric[name].missing for part in parts)
            )
            for name, cuts in bins.numeric.items()
        },
        categorical={name: _categorical(parts, name, bins.max_categories) for name in parts[0].categorical},
        predictions=_numeric_profile(
            bins.predictions, [c.predictions for c in counts], sum(part.predictions.missing for part in parts)
        ),
    )


def _numeric_part(values: np.ndarray) -> NumericPart:
    ordered, missing = sorted_present(values)
    return NumericPart(QuantileSketch.of(ordered[np.isfinite(ordered)]), missing)


def _scores(predictions: np.ndarray) -> np.ndarray:
    values = np.asarray(predictions, dtype="float64")
    if values.ndim != 1:
        raise ValueError(f"predictions must be a 1-D array, got shape {values.shape}")
    return values


def _counts(values: np.ndarray, cuts: Cuts) -> tuple[np.ndarray, np.ndarray]:
    ordered, _ = sorted_present(values)
    return bin_counts(ordered, cuts.psi), bin_counts(ordered, cuts.sketch)


def _numeric_profile(cuts: Cuts, counts: list[tuple[np.ndarray, np.ndarray]], missing: int) -> NumericProfile:
    psi = np.sum([c[0] for c in counts], axis=0, dtype="int64")
    sketch = np.sum([c[1] for c in counts], axis=0, dtype="int64")
    return NumericProfile(
        cuts=tuple(cuts.psi.tolist()),
        counts=tuple(psi.tolist()),
        sketch_cuts=tuple(cuts.sketch.tolist()),
        sketch_counts=tuple(sketch.tolist()),
        missing=missing,
    )


def _categorical(parts: Sequence[ProfilePart], name: str, max_categories: int) -> CategoricalProfile:
    present = pd.concat([part.categorical[name][0] for part in parts]).groupby(level=0).sum()
    return categorical_profile(present, sum(part.categorical[name][1] for part in parts), max_categories)


def _lerp(low: np.ndarray, high: np.ndarray, fraction: np.ndarray) -> np.ndarray:
    """Linear interpolation exactly as ``np.quantile`` computes it (from the nearer end)."""
    step = high - low
    return np.where(fraction >= 0.5, high - step * (1 - fraction), low + step * fraction)
