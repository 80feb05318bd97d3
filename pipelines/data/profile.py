"""Reference profile: what drift checks compare the current window against, without the reference rows.

Numeric features and the model's scores keep quantile bins of their reference values (the PSI bins)
and a finer quantile sketch (for the KS statistic); categorical features keep the counts of their most
common categories and an ``__other__`` bucket, and the names of the categories in it (so a value never seen
in the reference is known as such). Missing values (NaN, None) are counted apart from the distributions.
The profile is plain JSON, small enough to store next to the champion. ``profile_parts`` builds the same
profile from partitions of the reference data that are never all in one place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipelines.errors import PipelinesError

OTHER = "__other__"
FORMAT = 1
SKETCH_QUANTILES = 100


class ProfileError(PipelinesError, ValueError):
    """A stored reference profile that is not one this code can read (another format, or not a profile)."""


@dataclass(frozen=True)
class NumericProfile:
    """Quantile bins of the present values: bin ``i`` is ``[edges[i], edges[i + 1])``.

    ``cuts`` are the deduplicated inner PSI edges and ``counts`` the reference rows per bin; the sketch is
    the same for finer quantiles (100 by default), for the KS statistic.
    """

    cuts: tuple[float, ...]
    counts: tuple[int, ...]
    sketch_cuts: tuple[float, ...]
    sketch_counts: tuple[int, ...]
    missing: int

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.cuts) + 1 or len(self.sketch_counts) != len(self.sketch_cuts) + 1:
            raise ValueError("a numeric profile needs one count more than cuts, for PSI bins and sketch alike")

    @property
    def edges(self) -> tuple[float, ...]:
        """The PSI bin edges, from minus to plus infinity."""
        return (-np.inf, *self.cuts, np.inf)

    @property
    def missing_rate(self) -> float:
        """The share of reference rows with a missing value."""
        total = sum(self.counts) + self.missing
        return self.missing / total if total else 0.0

    def histogram(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """PSI-bin counts, sketch-bin counts and missing count of ``values``, from one sort of them."""
        ordered, missing = sorted_present(values)
        return bin_counts(ordered, self.cuts), bin_counts(ordered, self.sketch_cuts), missing


@dataclass(frozen=True)
class CategoricalProfile:
    """Counts of the most common categories (as strings), then of all others under ``__other__``.

    ``others`` names the reference's categories counted under ``__other__``, so a value never seen in the
    reference can be told apart; it is None for a profile written before they were kept, with ``__other__``
    rows (such a profile cannot tell).
    """

    categories: tuple[str, ...]
    counts: tuple[int, ...]
    missing: int
    others: tuple[str, ...] | None = ()

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.categories) + 1:
            raise ValueError("a categorical profile needs one count per category plus one for '__other__'")

    @property
    def labels(self) -> tuple[str, ...]:
        """The names of the count slots: the categories, then ``__other__``."""
        return (*self.categories, OTHER)

    @property
    def missing_rate(self) -> float:
        """The share of reference rows with a missing value."""
        total = sum(self.counts) + self.missing
        return self.missing / total if total else 0.0

    def histogram(self, series: pd.Series) -> tuple[np.ndarray, int, pd.Series | None]:
        """Counts per profiled category (all others under ``__other__``), the missing count, and the rows
        per value never seen in the reference (None when the profile cannot tell), in one pass.
        """
        present, missing = category_counts(series)
        slot = pd.Index(self.categories).get_indexer(present.index)
        outside = slot < 0
        slot[outside] = len(self.categories)
        counts = np.bincount(slot, weights=present.to_numpy(), minlength=len(self.categories) + 1)
        new = None if self.others is None else present[outside & ~present.index.isin(self.others)]
        return counts.astype("int64"), missing, new


@dataclass(frozen=True)
class Profile:
    """The reference profile of a model: its features and its scores on the reference data."""

    n_rows: int
    numeric: dict[str, NumericProfile]
    categorical: dict[str, CategoricalProfile]
    predictions: NumericProfile

    @property
    def features(self) -> tuple[str, ...]:
        """The profiled feature names: numeric, then categorical."""
        return (*self.numeric, *self.categorical)

    def to_json(self) -> str:
        """Plain JSON (no NaN or infinity), the same text for the same profile."""
        data = {"format": FORMAT, **asdict(self)}
        return json.dumps(data, allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Profile:
        """The profile ``to_json`` wrote; ``ProfileError`` when the text is not one of this format."""
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise ProfileError(f"unsupported profile format {data.get('format')!r}, expected {FORMAT}")
            return cls(
                n_rows=int(data["n_rows"]),
                numeric={k: _numeric_from(v) for k, v in data["numeric"].items()},
                categorical={k: _categorical_from(v) for k, v in data["categorical"].items()},
                predictions=_numeric_from(data["predictions"]),
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ProfileError(f"not a drift profile: {exc!r}") from exc


def build_profile(
    features: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    predictions: np.ndarray,
    bins: int = 10,
    max_categories: int = 20,
    sketch_quantiles: int = SKETCH_QUANTILES,
) -> Profile:
    """Profile the reference features and the model's scores on them (vectorised, no per-row Python)."""
    check_arguments(numeric, categorical, bins, max_categories, sketch_quantiles)
    if features.empty:
        raise ValueError("the reference data has no rows")
    require_columns(features, [*numeric, *categorical], "reference data")
    return Profile(
        n_rows=len(features),
        numeric={name: _numeric_profile(numeric_values(features, name), bins, sketch_quantiles) for name in numeric},
        categorical={
            name: categorical_profile(*category_counts(features[name]), max_categories) for name in categorical
        },
        predictions=_numeric_profile(score_values(predictions), bins, sketch_quantiles),
    )


def check_arguments(
    numeric: Sequence[str], categorical: Sequence[str], bins: int, max_categories: int, sketch_quantiles: int
) -> None:
    """ValueError unless there are bins, categories and at least one feature, each named once."""
    if bins < 2 or sketch_quantiles < 2 or max_categories < 1:
        raise ValueError("bins and sketch_quantiles must be at least 2, max_categories at least 1")
    names = [*numeric, *categorical]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"profile at least one feature, each once (numeric or categorical), got {names}")


def require_columns(frame: pd.DataFrame, names: Sequence[str], what: str) -> None:
    """ValueError naming the profiled columns ``frame`` lacks, if any."""
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks profiled columns: {', '.join(missing)}")


def numeric_values(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column as float64 with NaN for missing values (no copy for float64 columns)."""
    series = frame[name]
    if not pd.api.types.is_numeric_dtype(series.dtype):
        raise ValueError(f"numeric feature {name!r} has non-numeric dtype {series.dtype}")
    return series.to_numpy(dtype="float64", na_value=np.nan)


def score_values(predictions: np.ndarray) -> np.ndarray:
    """The model's scores as a float64 array; ValueError unless they are a non-empty 1-D array."""
    values = np.asarray(predictions, dtype="float64")
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"predictions must be a non-empty 1-D array, got shape {values.shape}")
    return values


def category_counts(series: pd.Series) -> tuple[pd.Series, int]:
    """Counts of the present values keyed by their string form, and the number of missing values."""
    counts = series.value_counts(dropna=False, sort=False)
    absent = counts.index.isna()
    present = counts[~absent]
    present = present[present > 0]
    return present.groupby(present.index.astype(str)).sum(), int(counts[absent].sum())


def _numeric_profile(values: np.ndarray, bins: int, sketch_quantiles: int) -> NumericProfile:
    ordered, missing = sorted_present(values)
    finite = ordered[np.isfinite(ordered)]
    cuts, sketch_cuts = (_quantile_cuts(finite, n) for n in (bins, sketch_quantiles))
    return NumericProfile(
        cuts=tuple(cuts.tolist()),
        counts=tuple(bin_counts(ordered, cuts).tolist()),
        sketch_cuts=tuple(sketch_cuts.tolist()),
        sketch_counts=tuple(bin_counts(ordered, sketch_cuts).tolist()),
        missing=missing,
    )


def _quantile_cuts(ordered: np.ndarray, n: int) -> np.ndarray:
    """The distinct inner ``n``-quantiles of sorted values (none for no values)."""
    if not ordered.size:
        return np.empty(0)
    return np.unique(np.quantile(ordered, quantile_levels(n)))


def quantile_levels(n: int) -> np.ndarray:
    """The inner ``n``-quantile levels ``1/n .. (n-1)/n`` the cuts are taken at."""
    return np.arange(1, n) / n


def categorical_profile(present: pd.Series, missing: int, max_categories: int) -> CategoricalProfile:
    """The profile of a categorical feature from its counts per value (as ``category_counts`` gives them)."""
    ranked = present.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    top, rest = ranked.iloc[:max_categories], ranked.iloc[max_categories:]
    return CategoricalProfile(
        categories=tuple(str(c) for c in top.index),
        counts=(*(int(c) for c in top), int(rest.sum())),
        missing=missing,
        others=tuple(sorted(str(c) for c in rest.index)),
    )


def sorted_present(values: np.ndarray) -> tuple[np.ndarray, int]:
    """The present values sorted, and the number of missing ones.

    Sorting once and searching the few cuts in the result is ~3x faster than searching every value among
    the cuts. NaN sorts after +inf, so the present values are those before the first NaN.
    """
    ordered = np.sort(values)
    present = int(np.searchsorted(ordered, np.nan, side="left"))
    return ordered[:present], len(values) - present


def bin_counts(ordered: np.ndarray, cuts: Sequence[float] | np.ndarray) -> np.ndarray:
    """Counts of sorted values per bin ``[cut[i - 1], cut[i])``, with open outer bins."""
    below = np.searchsorted(ordered, np.asarray(cuts, dtype="float64"), side="left")
    return np.diff(below, prepend=0, append=len(ordered))


def _numeric_from(data: dict[str, Any]) -> NumericProfile:
    return NumericProfile(
        cuts=tuple(data["cuts"]),
        counts=tuple(data["counts"]),
        sketch_cuts=tuple(data["sketch_cuts"]),
        sketch_counts=tuple(data["sketch_counts"]),
        missing=data["missing"],
    )


def _categorical_from(data: dict[str, Any]) -> CategoricalProfile:
    counts = tuple(data["counts"])
    others = data.get("others")
    if others is None and counts[-1] == 0:
        others = ()  # written before ``others`` was kept, but nothing fell under "__other__"
    return CategoricalProfile(
        tuple(data["categories"]), counts, data["missing"], None if others is None else tuple(others)
    )
