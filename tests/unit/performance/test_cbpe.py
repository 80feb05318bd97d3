"""CBPE: whether to calibrate, isotonic calibration against an independent solver, expected metrics against the
realized ones averaged over many label draws, the stored form and every way it can be broken."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import isotonic_regression

from pipelines.model.metrics import METRICS, roc_auc
from pipelines.performance.cbpe import (
    ESTIMABLE,
    Calibration,
    CalibrationError,
    estimate,
    expected_accuracy,
    expected_roc_auc,
    fit_calibration,
    fit_isotonic,
)

ALL = tuple(sorted(ESTIMABLE))


def _realized(p: np.ndarray, scores: np.ndarray, draws: int, seed: int) -> dict[str, float]:
    """Each metric of the raw scores, averaged over label sets drawn Bernoulli(p)."""
    labels = (np.random.default_rng(seed).random((draws, len(p))) < p).astype("float64")
    return {name: float(np.mean([METRICS[name](y, scores) for y in labels])) for name in ALL}


def _holdout(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(2.0, 2.0, n)
    return (rng.random(n) < p).astype("float64"), p


# --- expected metrics against realized ones ---


def test_on_calibrated_scores_each_estimate_is_the_average_realized_metric() -> None:
    # given scores that are their own probabilities: labels drawn Bernoulli(score)
    p = np.random.default_rng(0).beta(1.5, 1.5, 2000)
    # when estimated with the scores as the calibrated probabilities
    expected = {
        "roc_auc": expected_roc_auc(p, p),
        "accuracy": expected_accuracy(p, p),
    }
    realized = _realized(p, p, draws=300, seed=1)
    # then each is the realized metric's average over the draws
    assert abs(expected["roc_auc"] - realized["roc_auc"]) < 0.01
    assert abs(expected["accuracy"] - realized["accuracy"]) < 0.003


def test_calibration_fixes_a_miscalibrated_model() -> None:
    # given a model whose scores are p**3 (ranking right, probabilities far too low), calibrated on its holdout
    y_holdout, p_holdout = _holdout(seed=2, n=5000)
    calibration = fit_calibration(y_holdout, p_holdout**3)
    assert calibration == fit_isotonic(y_holdout, p_holdout**3)  # calibrating helps, so it is the isotonic fit
    _, p = _holdout(seed=3, n=3000)
    scores = p**3
    # when its metrics are estimated on new, unlabelled rows
    found = estimate(calibration, scores, ALL)
    realized = _realized(p, scores, draws=200, seed=4)
    # then each is within tolerance of the realized average
    tolerance = {"roc_auc": 0.02, "accuracy": 0.015, "log_loss": 0.02, "brier": 0.01}
    assert {name: abs(found[name] - realized[name]) < tolerance[name] for name in ALL} == dict.fromkeys(ALL, True)
    # while taking the raw scores as probabilities would miss by far more
    assert abs(expected_roc_auc(scores, scores) - realized["roc_auc"]) > 0.05
    assert abs(METRICS["log_loss"](scores, scores) - realized["log_loss"]) > 0.3


def test_accuracy_judges_the_models_own_decisions_not_the_calibrated_ones() -> None:
    # given the p**3 model: it says "positive" only where p**3 >= 0.5, i.e. p >= 0.79
    y_holdout, p_holdout = _holdout(seed=5, n=5000)
    calibration = fit_calibration(y_holdout, p_holdout**3)
    _, p = _holdout(seed=6, n=3000)
    scores = p**3
    realized = _realized(p, scores, draws=200, seed=7)["accuracy"]
    # when estimated
    found = estimate(calibration, scores, ("accuracy",))["accuracy"]
    # then it is the accuracy of raw score >= 0.5; thresholding the calibrated probability is another classifier
    calibrated = calibration.apply(scores)
    assert abs(found - realized) < 0.015
    assert abs(expected_accuracy(calibrated, calibrated) - realized) > 0.05


def test_with_certain_labels_the_expected_auc_is_the_realized_auc_ties_included() -> None:
    # given probabilities of exactly 0 or 1 (labels known) and scores with ties across the classes
    rng = np.random.default_rng(8)
    scores = rng.integers(0, 6, 500).astype("float64")
    y = (rng.random(500) < scores / 6).astype("float64")
    # then the expectation is that one outcome, tied scores counting half
    assert expected_roc_auc(y, scores) == pytest.approx(roc_auc(y, scores), abs=1e-12)


def test_all_equal_scores_have_an_expected_auc_of_one_half() -> None:
    p = np.random.default_rng(9).random(400)
    assert expected_roc_auc(p, np.full(400, 0.3)) == pytest.approx(0.5, abs=1e-12)
    calibration = fit_calibration(np.array([0.0, 1.0, 1.0]), np.array([0.1, 0.5, 0.9]))
    assert estimate(calibration, np.full(50, 0.7), ("roc_auc",)) == {"roc_auc": pytest.approx(0.5, abs=1e-12)}


def test_no_expected_positives_or_no_rows_give_nan() -> None:
    scores = np.linspace(0.0, 1.0, 10)
    assert np.isnan(expected_roc_auc(np.zeros(10), scores))
    assert np.isnan(expected_roc_auc(np.ones(10), scores))
    assert np.isnan(expected_accuracy(np.array([]), np.array([])))


def test_estimate_on_no_scores_is_nan_and_leaves_out_what_it_cannot_estimate() -> None:
    calibration = fit_calibration(np.array([0.0, 1.0]), np.array([0.2, 0.8]))
    found = estimate(calibration, np.array([]), ("roc_auc", "rmse", "log_loss", "accuracy", "brier", "f1"))
    assert list(found) == ["roc_auc", "log_loss", "accuracy", "brier"]
    assert all(np.isnan(v) for v in found.values())


def test_expected_log_loss_and_brier_on_a_hand_example() -> None:
    # one row, raw score 0.8, calibrated probability 0.25 (the knots map 0.8 to 0.25)
    calibration = Calibration((0.0, 0.8, 1.0), (0.1, 0.25, 0.9), 10, 3)
    found = estimate(calibration, np.array([0.8]), ("log_loss", "brier", "accuracy"))
    assert found["log_loss"] == pytest.approx(-(0.25 * np.log(0.8) + 0.75 * np.log(0.2)))
    assert found["brier"] == pytest.approx(0.25 * 0.2**2 + 0.75 * 0.8**2)
    assert found["accuracy"] == pytest.approx(0.25)


# --- whether to calibrate ---


def _identity(calibration: Calibration) -> bool:
    return (calibration.knots_x, calibration.knots_y) == ((0.0, 1.0), (0.0, 1.0))


def test_a_well_calibrated_model_keeps_its_raw_scores_a_slightly_miscalibrated_one_is_calibrated() -> None:
    # given ten demo-sized holdouts (2,800 rows) of a calibrated model (labels drawn Bernoulli(score)), and the
    # same holdouts scored p**1.2 (probabilities a little too low)
    holdouts = [_holdout(seed=seed, n=2800) for seed in range(20, 30)]
    # then nine in ten or more keep the raw scores, and as many of the others are calibrated (the check compares
    # two noisy errors: it cannot be right every time)
    assert sum(_identity(fit_calibration(y, p)) for y, p in holdouts) >= 9
    assert sum(not _identity(fit_calibration(y, p**1.2)) for y, p in holdouts) >= 9


def test_the_identity_estimates_with_the_raw_scores() -> None:
    # given a calibrated model's holdout, on which calibrating does not help
    y, p = _holdout(seed=20, n=2800)
    calibration = fit_calibration(y, p)
    assert _identity(calibration) and (calibration.rows, calibration.positives) == (2800, int(y.sum()))
    # then its probabilities are the raw scores (kept within [1e-6, 1 - 1e-6]) and so are its estimates
    raw = np.array([-0.5, 0.0, 0.3, 1.0, 2.0])
    assert calibration.apply(raw) == pytest.approx([1e-6, 1e-6, 0.3, 1 - 1e-6, 1 - 1e-6])
    _, scores = _holdout(seed=21, n=1000)
    found = estimate(calibration, scores, ("roc_auc", "accuracy"))
    assert found == {"roc_auc": expected_roc_auc(scores, scores), "accuracy": expected_accuracy(scores, scores)}
    assert Calibration.from_json(calibration.to_json()) == calibration


def test_the_decision_depends_on_the_holdout_only() -> None:
    # given a holdout scored by a calibrated model (kept raw) and by a miscalibrated one, p**1.5 (calibrated)
    y, p = _holdout(seed=22, n=3000)
    assert _identity(fit_calibration(y, p))
    assert fit_calibration(y, p**1.5) == fit_isotonic(y, p**1.5)
    for scores in (p, p**1.5):
        first = fit_calibration(y, scores)
        # when fitted again after the global random state moved, and on the rows in another order
        np.random.random(100)
        again = fit_calibration(y, scores)
        order = np.random.default_rng(23).permutation(len(y))
        # then the calibration is the same
        assert first == again == fit_calibration(y[order], scores[order])


def test_too_few_of_a_class_or_separated_scores_keep_the_raw_scores() -> None:
    # given a badly miscalibrated model (scores p**3) on a holdout with only 9 positives, then 10
    y, p = _holdout(seed=24, n=2000)
    negatives, positives = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    nine, ten = (np.concatenate((negatives, positives[:count])) for count in (9, 10))
    # then 9 are too few to show calibrating helps, 10 are enough
    assert _identity(fit_calibration(y[nine], p[nine] ** 3))
    assert fit_calibration(y[ten], p[ten] ** 3) == fit_isotonic(y[ten], p[ten] ** 3)
    # and scores that separate the classes (ROC AUC above 0.999), however badly scaled, are kept too
    assert _identity(fit_calibration(y, np.where(y == 1, 0.2 + 0.1 * p, 0.1 * p)))


# --- the isotonic fit ---


def test_isotonic_fit_on_a_hand_example_pools_violators_and_ties() -> None:
    # scores 1..4 with labels 1, 0, 0, 1: the first three pool to 1/3; tied scores pool first
    calibration = fit_isotonic(np.array([1, 0, 0, 1]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert calibration.knots_x == (1.0, 3.0, 4.0)
    assert calibration.knots_y == pytest.approx((1 / 3, 1 / 3, 1.0))
    assert calibration.apply(np.array([0.0, 2.5, 3.5, 9.0])) == pytest.approx([1 / 3, 1 / 3, 2 / 3, 1 - 1e-6])
    tied = fit_isotonic(np.array([0, 1, 1, 1, 0]), np.array([1.0, 1.0, 2.0, 2.0, 0.5]))
    assert (tied.knots_x, tied.knots_y) == ((0.5, 1.0, 2.0), (0.0, 0.5, 1.0))
    assert (tied.rows, tied.positives) == (5, 3)


@pytest.mark.parametrize("seed", range(5))
def test_isotonic_fit_matches_an_independent_solver_and_is_monotone(seed: int) -> None:
    # given rounded scores (many ties) with noisy labels
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random(3000), 2)
    y = (rng.random(3000) < scores**2).astype("float64")
    # when fitted
    calibration = fit_isotonic(y, scores)
    # then the knots are ordered, and at each distinct score the fit is scipy's weighted isotonic regression
    assert np.all(np.diff(calibration.knots_x) > 0) and np.all(np.diff(calibration.knots_y) >= 0)
    xs, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    means = np.bincount(inverse, weights=y) / counts
    reference = isotonic_regression(means, weights=counts).x
    assert np.interp(xs, calibration.knots_x, calibration.knots_y) == pytest.approx(reference, abs=1e-12)
    # the map is monotone everywhere, and keeps the holdout's share of positives
    grid = calibration.apply(np.linspace(-0.5, 1.5, 5001))
    assert np.all(np.diff(grid) >= 0)
    assert calibration.apply(scores).sum() == pytest.approx(y.sum(), abs=1e-2)


# --- the stored form ---


def test_json_round_trip_is_exact() -> None:
    y, p = _holdout(seed=10, n=2000)
    calibration = fit_isotonic(y, p**2)
    again = Calibration.from_json(calibration.to_json())
    assert again == calibration
    assert np.array_equal(again.apply(p), calibration.apply(p))


GOOD = {"knots_x": [0.1, 0.5], "knots_y": [0.2, 0.7], "rows": 10, "positives": 4}


def _with(**changes: object) -> str:
    return json.dumps({**GOOD, **changes})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "must be an object, not list"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "rows"}), r"missing \['rows'\]"),
        (_with(method="platt"), r"unknown \['method'\]"),
        (_with(knots_x=["0.1", 0.5]), "knots_x must be a list of numbers"),
        (_with(knots_y=0.5), "knots_y must be a list of numbers"),
        (_with(knots_x=[True, 0.5]), "knots_x must be a list of numbers"),
        (_with(rows=10.0), "rows must be an integer"),
        (_with(positives=True), "positives must be an integer"),
        (_with(knots_x=[0.5, 0.1]), "knots_x must be strictly increasing"),
        (_with(knots_x=[0.5, 0.5]), "knots_x must be strictly increasing"),
        (_with(knots_y=[0.7, 0.2]), "knots_y must be non-decreasing"),
        (_with(knots_y=[0.2, 1.5]), r"within \[0, 1\]"),
        (_with(knots_x=[0.1]), "of one length, not 1 and 2"),
        (_with(knots_x=[], knots_y=[]), "non-empty"),
        ('{"knots_x": [0.1, NaN], "knots_y": [0.2, 0.7], "rows": 10, "positives": 4}', "finite"),
        (_with(positives=0), "10 rows with 0 positive"),
        (_with(positives=10), "10 rows with 10 positive"),
    ],
)
def test_a_malformed_calibration_is_refused_in_one_line_naming_the_problem(text: str, problem: str) -> None:
    with pytest.raises(CalibrationError, match=problem) as caught:
        Calibration.from_json(text)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


# --- holdouts and scores it cannot use ---


@pytest.mark.parametrize(
    ("y", "scores", "problem"),
    [
        ([1, 1, 1], [0.1, 0.2, 0.3], r"single-class holdout \(3 of 3 positive\)"),
        ([0, 0], [0.1, 0.2], r"single-class holdout \(0 of 2 positive\)"),
        ([0, 1, 1], [0.1, np.nan, 0.3], "scores hold 1 NaN or infinite"),
        ([0, 1, 1], [0.1, np.inf, -np.inf], "scores hold 2 NaN or infinite"),
        ([0, 1], [0.1, 0.2, 0.3], r"differ in shape: \(2,\) vs \(3,\)"),
        ([], [], "empty holdout"),
        ([0, 2, 1], [0.1, 0.2, 0.3], "labels must all be 0 or 1"),
        ([0, 0.5, 1], [0.1, 0.2, 0.3], "labels must all be 0 or 1"),
        (["0", "1"], [0.1, 0.2], "labels must all be 0 or 1"),
        ([0, 1], ["a", "b"], "scores are not numbers"),
    ],
)
def test_a_holdout_it_cannot_fit_on_is_refused_naming_the_problem(y: list, scores: list, problem: str) -> None:
    for fit in (fit_calibration, fit_isotonic):
        with pytest.raises(CalibrationError, match=problem):
            fit(np.array(y), np.array(scores))


def test_estimate_refuses_scores_that_are_not_finite() -> None:
    calibration = fit_calibration(np.array([0.0, 1.0]), np.array([0.2, 0.8]))
    with pytest.raises(CalibrationError, match="scores hold 1 NaN"):
        estimate(calibration, np.array([0.3, np.nan]), ("roc_auc",))
    with pytest.raises(CalibrationError, match="differ in shape"):
        expected_roc_auc(np.array([0.3, 0.4]), np.array([0.3]))
