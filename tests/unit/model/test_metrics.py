"""Metrics: ranks and ROC AUC agree with scipy's, ties included."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from pipelines.model.metrics import METRICS, average_ranks, paired_bootstrap_gain, resampled_metric, roc_auc


@pytest.mark.parametrize("values", [[0.3, 0.1, 0.3, 0.9, 0.1, 0.1], [5.0], [], [2.0, 2.0, 2.0], [-1.0, 0.0, 1.0]])
def test_average_ranks_match_scipy_with_ties(values: list[float]) -> None:
    assert average_ranks(np.array(values)).tolist() == rankdata(values).tolist()


def test_roc_auc_matches_the_mann_whitney_count_on_tied_scores() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500).astype("float64")
    score = np.round(rng.random(500) + 0.3 * y, 1)  # coarse scores: many ties
    pairs = score[y == 1][:, None] - score[y == 0][None, :]
    expected = ((pairs > 0).sum() + 0.5 * (pairs == 0).sum()) / pairs.size
    assert roc_auc(y, score) == pytest.approx(expected)
    assert np.isnan(roc_auc(np.zeros(3), np.array([0.1, 0.2, 0.3])))


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_a_resample_scored_from_its_counts_is_the_resampled_rows_metric(metric: str) -> None:
    # given labels and coarse scores (many ties), and resamples drawn as the bootstrap draws them
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 400).astype("float64")
    score = np.round(rng.random(400) * 0.6 + 0.3 * y, 1)
    scored = resampled_metric(metric, y, score)
    for _ in range(20):
        idx = rng.integers(0, len(y), len(y))
        # then the metric from the draw counts is the metric of the drawn rows themselves
        assert scored(np.bincount(idx, minlength=len(y))) == pytest.approx(METRICS[metric](y[idx], score[idx]))


def test_the_bootstrap_interval_is_the_one_of_scoring_each_resample_anew() -> None:
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 3000).astype("float64")
    challenger, champion = np.clip(0.5 * y + rng.random(3000) * 0.7, 0, 1), rng.random(3000)
    draws = np.random.default_rng(0)
    gains = []
    for _ in range(200):
        idx = draws.integers(0, 3000, 3000)
        gains.append(roc_auc(y[idx], challenger[idx]) - roc_auc(y[idx], champion[idx]))
    expected = np.percentile(gains, [5, 95])

    assert paired_bootstrap_gain("roc_auc", y, challenger, champion, 200, 0.9, 0) == pytest.approx(tuple(expected))


def test_a_resample_of_one_class_has_no_roc_auc() -> None:
    scored = resampled_metric("roc_auc", np.array([1.0, 0.0, 1.0]), np.array([0.9, 0.2, 0.4]))
    assert np.isnan(scored(np.array([2, 0, 1]))) and scored(np.array([1, 1, 1])) == 1.0
