"""The drift profile built in partitions: exactly ``build_profile``'s while the partitions' sketches are exact,
within the stated rank error when they are compressed, whatever the partitions."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from pipelines.data.profile import Profile, build_profile
from pipelines.data.profile_parts import (
    SKETCH_POINTS,
    QuantileSketch,
    merged_profile,
    part_counts,
    profile_bins,
    profile_part,
)

NUMERIC = ("a", "c")
CATEGORICAL = ("k",)


def _frame(n: int, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "c": rng.poisson(3.0, n).astype("float64"),
            "k": pd.Series(rng.choice(["x", "y", "z", "w", None], n, p=[0.4, 0.3, 0.2, 0.05, 0.05])).astype("category"),
        }
    )
    frame.loc[::17, "a"] = np.nan
    frame.loc[5, "a"] = np.inf
    frame.loc[7, "c"] = -np.inf
    return frame, rng.random(n)


def _in_parts(frame: pd.DataFrame, scores: np.ndarray, sizes: list[int], **options: int) -> Profile:
    """Both passes over consecutive partitions of the given sizes, scores split alike."""
    ends = np.cumsum([0, *sizes])
    chunks = [(frame.iloc[s:e], scores[s:e]) for s, e in pairwise(ends)]
    parts = [profile_part(features, NUMERIC, CATEGORICAL, part_scores) for features, part_scores in chunks]
    bins = profile_bins(parts, **options)
    return merged_profile(parts, bins, [part_counts(features, part_scores, bins) for features, part_scores in chunks])


@pytest.mark.parametrize("sizes", [[2000], [1000, 1000, 1000], [1, 0, 1499, 700, 800], [100] * 30])
def test_partitions_of_at_most_the_sketch_size_give_exactly_the_in_memory_profile(sizes: list[int]) -> None:
    # given: rows with missing and infinite values, a rare category and missing categories
    frame, scores = _frame(sum(sizes))
    assert max(sizes) <= SKETCH_POINTS
    # when: profiled in partitions (an empty one among them)
    merged = _in_parts(frame, scores, sizes)
    # then: the same profile, cuts to the bit, and the same JSON
    expected = build_profile(frame, NUMERIC, CATEGORICAL, scores)
    assert merged == expected
    assert merged.to_json() == expected.to_json()


def test_the_options_of_build_profile_apply_alike() -> None:
    frame, scores = _frame(2000, seed=4)
    merged = _in_parts(frame, scores, [700, 1300], bins=4, max_categories=2, sketch_quantiles=20)
    assert merged == build_profile(frame, NUMERIC, CATEGORICAL, scores, bins=4, max_categories=2, sketch_quantiles=20)
    assert merged.categorical["k"].others == ("w", "z")


def test_compressed_sketches_place_each_cut_within_the_stated_rank_error() -> None:
    # given: 60,000 continuous values in two partitions, each far above the sketch's 2048 points
    frame, scores = _frame(60_000, seed=7)
    # when
    merged = _in_parts(frame, scores, [25_000, 35_000])
    expected = build_profile(frame, NUMERIC, CATEGORICAL, scores)
    # then: each cut sits within N / SKETCH_POINTS rows of the exact one's rank; every count is exact for its cuts
    for got, exact, raw in (
        (merged.numeric["a"], expected.numeric["a"], frame["a"].to_numpy()),
        (merged.predictions, expected.predictions, scores),
    ):
        values = np.sort(raw[np.isfinite(raw)])
        assert len(got.sketch_cuts) == len(exact.sketch_cuts) == 99
        ranks = np.searchsorted(values, got.sketch_cuts) - np.searchsorted(values, exact.sketch_cuts)
        assert np.abs(ranks).max() <= len(values) / SKETCH_POINTS
        psi_counts, sketch_counts, _ = got.histogram(raw)
        assert (psi_counts.tolist(), sketch_counts.tolist()) == (list(got.counts), list(got.sketch_counts))
    assert merged.numeric["a"] != expected.numeric["a"]  # approximate indeed, yet:
    assert merged.numeric["c"] == expected.numeric["c"]  # few distinct values stay exact
    assert merged.categorical == expected.categorical and merged.n_rows == expected.n_rows


def test_an_exact_sketch_gives_numpys_quantiles_to_the_bit() -> None:
    rng = np.random.default_rng(3)
    values = np.sort(np.round(rng.normal(size=1500), 1))  # many ties
    levels = np.arange(1, 100) / 100
    sketch = QuantileSketch.merge([QuantileSketch.of(values[:600]), QuantileSketch.of(values[600:])])
    assert sketch.exact
    assert sketch.quantiles(levels).tolist() == np.quantile(values, levels).tolist()
    assert QuantileSketch.of(np.empty(0)).quantiles(levels).size == 0


def test_a_profile_without_rows_or_scores_is_refused_as_build_profile_refuses_it() -> None:
    frame, scores = _frame(10)
    empty = profile_part(frame.iloc[:0], NUMERIC, CATEGORICAL, scores[:0])
    with pytest.raises(ValueError, match="no rows"):
        profile_bins([empty])
    unscored = profile_part(frame, NUMERIC, CATEGORICAL, scores[:0])
    with pytest.raises(ValueError, match="predictions"):
        profile_bins([unscored])
    with pytest.raises(ValueError, match="at least 2"):
        profile_bins([profile_part(frame, NUMERIC, CATEGORICAL, scores)], bins=1)
    with pytest.raises(ValueError, match="lacks profiled columns: b"):
        profile_part(frame, ("b",), (), scores)
