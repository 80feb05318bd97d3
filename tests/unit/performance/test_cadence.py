"""The cadence fit: a known decay gives its slope and the interval that keeps the fall within the tolerance; no
decay, too few models and lower-is-better metrics are handled, never guessed past the ages observed."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.performance.cadence import AgePoint, fit_cadence


def decaying(slope_per_day: float, models: int = 6, weeks: int = 8, noise: float = 0.002) -> list[AgePoint]:
    rng = np.random.default_rng(1)
    levels = 0.80 + rng.normal(0, 0.02, models)  # models start better or worse; one slope for all
    return [
        AgePoint(f"m{m}", 3.5 + 7 * w, levels[m] + slope_per_day * 7 * w + rng.normal(0, noise), 400)
        for m in range(models)
        for w in range(weeks)
    ]


def test_a_known_decay_gives_its_slope_and_the_days_until_the_tolerance_is_used_up():
    found = fit_cadence(decaying(-0.001), "roc_auc", tolerance=0.03)
    assert found.models == 6 and found.horizon_days == pytest.approx(52.5)
    assert found.slope_per_day == pytest.approx(-0.001, abs=1e-4)
    low, high = found.slope_interval
    assert low < found.slope_per_day < high < 0
    assert found.recommended_days == pytest.approx(30, abs=3)
    shortest, longest = found.recommended_interval
    assert shortest < found.recommended_days < longest
    assert found.notes == []


def test_without_decay_the_recommendation_is_the_age_observed_and_says_so():
    found = fit_cadence(decaying(0.0), "roc_auc", tolerance=0.03)
    assert found.recommended_days == pytest.approx(52.5)
    assert found.recommended_interval[1] is None  # the gentlest slope seen is no decay at all
    assert any("stays within the tolerance" in n or "no decay measured" in n for n in found.notes)


def test_an_error_metric_that_grows_is_decay():
    points = [AgePoint(p.model_id, p.age_days, 10 - 100 * (p.value - 0.8), p.rows) for p in decaying(-0.001)]
    found = fit_cadence(points, "rmse", tolerance=3.0)
    assert found.slope_per_day == pytest.approx(-0.1, abs=0.01)  # signed so that worse is negative
    assert found.recommended_days == pytest.approx(30, abs=3)


@pytest.mark.parametrize("points", [[], decaying(-0.001, models=1), decaying(-0.001, weeks=1)])
def test_too_few_models_or_weeks_give_no_cadence_and_say_why(points):
    found = fit_cadence(points, "roc_auc", tolerance=0.03)
    assert found.slope_per_day is None and found.recommended_days is None
    assert "at least 2 are needed" in found.notes[0]


def test_missing_values_are_left_out():
    points = [*decaying(-0.001), AgePoint("m0", 60.0, float("nan"), 0)]
    assert fit_cadence(points, "roc_auc", 0.03).slope_per_day == pytest.approx(-0.001, abs=1e-4)
