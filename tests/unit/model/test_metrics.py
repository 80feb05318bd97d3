"""Metrics: ranks and ROC AUC agree with scipy's, ties included."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from pipelines.model.metrics import average_ranks, roc_auc


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
