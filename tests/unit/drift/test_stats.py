"""Drift statistics, reference profiles, the drift policy and its consecutive/cooldown rules."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp

from pipelines.config.drift import DriftConfig, DriftPolicy, DriftThresholds, FeatureThresholds
from pipelines.data.profile import OTHER, Profile, build_profile
from pipelines.drift.confirmation import CheckRecord, confirm
from pipelines.drift.history import CheckHistory
from pipelines.drift.stats import DriftReport, chi2_homogeneity, drift_report, js_distance, psi
from pipelines.registry import db
from pipelines.reports.drift_report import render_html

NUMERIC = ("a", "b", "c")
CATEGORICAL = ("k",)
NOW = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)


def _frame(
    seed: int, n: int = 20_000, shift_b: float = 0.0, k_shares: tuple[float, ...] = (0.5, 0.3, 0.2)
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(0.0, 1.0, n),
            "b": rng.normal(shift_b, 1.0, n),
            "c": rng.poisson(3.0, n).astype("float64"),
            "k": rng.choice(["x", "y", "z"], n, p=k_shares),
        }
    )


def _scores(frame: pd.DataFrame) -> np.ndarray:
    return 1 / (1 + np.exp(-(frame["a"].to_numpy() + frame["b"].to_numpy())))


def _profile(reference: pd.DataFrame) -> Profile:
    return build_profile(reference, NUMERIC, CATEGORICAL, _scores(reference))


def _report(drift: bool) -> DriftReport:
    return DriftReport(drift=drift, features={}, drifted=[], prediction_psi=None, reasons=[], rows=1, reference_rows=1)


def _config(**policy: object) -> DriftConfig:
    return DriftConfig(policy=DriftPolicy.model_validate(policy))


# --- statistics against independently computed values ---


def test_psi_matches_a_hand_computed_value() -> None:
    # given shares (0.5, 0.3, 0.2) -> (0.3, 0.3, 0.4)
    ref, cur = np.array([50, 30, 20]), np.array([30, 30, 40])
    # when / then: sum((q - p) * ln(q / p)) = -0.2 ln 0.6 + 0 + 0.2 ln 2
    assert psi(ref, cur) == pytest.approx(-0.2 * math.log(0.6) + 0.2 * math.log(2.0), rel=1e-12)


def test_psi_floors_empty_bins_at_eps() -> None:
    ref, cur = np.array([10, 0]), np.array([5, 5])
    expected = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert psi(ref, cur) == pytest.approx(expected, rel=1e-12)
    assert psi(ref, ref) == 0.0


def test_js_distance_matches_scipy() -> None:
    ref, cur = np.array([40, 35, 25, 0]), np.array([10, 30, 50, 10])
    assert js_distance(ref, cur) == pytest.approx(jensenshannon(ref / ref.sum(), cur / cur.sum(), base=2), abs=1e-12)
    assert js_distance(ref, ref) == 0.0


def test_chi2_matches_scipy_contingency_test() -> None:
    ref, cur = np.array([400, 350, 250, 0]), np.array([100, 300, 500, 0])
    statistic, p_value = chi2_homogeneity(ref, cur)
    expected = chi2_contingency(np.vstack([ref[:3], cur[:3]]), correction=False)
    assert statistic == pytest.approx(expected.statistic, rel=1e-10)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)


@pytest.mark.parametrize(
    ("loc", "scale", "dist"),
    [(0.0, 1.0, "normal"), (0.3, 1.0, "normal"), (0.1, 1.5, "normal"), (0.2, 1.0, "lognormal")],
)
def test_ks_on_the_quantile_sketch_is_within_002_below_exact_ks(loc: float, scale: float, dist: str) -> None:
    # given 50k reference and current rows
    rng = np.random.default_rng(7)
    draw = rng.normal if dist == "normal" else rng.lognormal
    reference = pd.DataFrame({"v": draw(0.0, 1.0, 50_000)})
    current = pd.DataFrame({"v": draw(loc, scale, 50_000)})
    profile = build_profile(reference, ["v"], [], np.zeros(10))
    # when
    ks = drift_report(profile, current, None, DriftConfig()).features["v"]["ks"]
    # then: a lower bound of the exact two-sample statistic, and close to it
    exact = ks_2samp(reference["v"], current["v"]).statistic
    assert exact - 0.02 <= ks <= exact + 1e-12


# --- the report ---


def test_clean_window_shows_no_drift() -> None:
    # given reference and current data from the same distributions
    reference, current = _frame(seed=1), _frame(seed=2)
    # when
    report = drift_report(_profile(reference), current, _scores(current), _config(key_features=("b",)))
    # then
    assert report.drift is False
    assert report.drifted == []
    assert {f["status"] for f in report.features.values()} == {"ok"}
    assert report.prediction_psi is not None and report.prediction_psi < 0.01
    assert report.reasons[0].startswith("no drift: 0 of 4 features")
    assert report.rows == len(current) and report.reference_rows == len(reference)


def test_one_shifted_feature_is_the_only_one_flagged() -> None:
    # given a current window where only b moved, by one standard deviation
    reference, current = _frame(seed=1), _frame(seed=2, shift_b=1.0)
    # when
    report = drift_report(_profile(reference), current, None, _config(key_features=("b",)))
    # then
    assert report.drifted == ["b"]
    assert report.features["b"]["status"] == "act"
    assert report.features["b"]["psi"] > 0.25 and report.features["b"]["ks"] > 0.3
    assert report.drift is True
    assert report.reasons[0].startswith("key feature b: psi")
    assert report.to_dict()["features"]["b"]["psi"] == report.features["b"]["psi"]


def test_shifted_category_shares_are_flagged_by_jensen_shannon() -> None:
    reference, current = _frame(seed=1), _frame(seed=2, k_shares=(0.2, 0.3, 0.5))
    report = drift_report(_profile(reference), current, None, DriftConfig())
    assert report.drifted == ["k"]
    assert report.features["k"]["js"] > 0.1
    assert report.features["k"]["chi2_p"] < 1e-6
    # one of four features is under the default share of 30%, and k is no key feature
    assert report.drift is False


def test_a_jump_in_missing_values_is_flagged_even_when_the_distribution_holds() -> None:
    reference, current = _frame(seed=1), _frame(seed=2)
    current.loc[current.index[::4], "a"] = np.nan
    current.loc[current.index[::4], "k"] = None
    report = drift_report(_profile(reference), current, None, DriftConfig())
    for name in ("a", "k"):
        stats = report.features[name]
        assert stats["missing_rate_cur"] == pytest.approx(0.25)
        assert stats["missing_delta"] == pytest.approx(0.25)
        assert stats["psi"] < 0.01
        assert stats["status"] == "act"
        assert stats["over"] == ["missing rate +0.250 beyond ±0.1"]


def test_values_never_seen_in_the_reference_are_reported_and_the_check_succeeds() -> None:
    # given 5% of k with values the reference never had: one sorting between known ones, one after them
    # (and markup, which the page must escape)
    reference, current = _frame(seed=1), _frame(seed=2)
    k = current["k"].to_numpy(dtype=object)
    k[:600], k[600:1000] = "xa", "<b>zz</b>"
    current["k"] = k
    profile = _profile(reference)
    # when
    report = drift_report(profile, current, _scores(current), DriftConfig())
    # then
    stats = report.features["k"]
    assert stats["new_share"] == pytest.approx(0.05) and stats["new_distinct"] == 2
    assert stats["new_values"] == {"xa": 600, "<b>zz</b>": 400}
    assert "k: 5.0% of rows have values never seen in the reference (xa, <b>zz</b>)" in report.reasons
    assert "new_share" not in report.features["a"]
    assert json.loads(json.dumps(report.to_dict()))["features"]["k"]["new_values"] == stats["new_values"]
    page = render_html(report, profile)
    assert "5.0% (xa, &lt;b&gt;zz&lt;/b&gt;)" in page and "<b>zz" not in page


def test_reference_values_outside_the_profiled_top_ones_are_not_new() -> None:
    reference, current = _frame(seed=1), _frame(seed=2)
    profile = build_profile(reference, NUMERIC, CATEGORICAL, _scores(reference), max_categories=1)
    report = drift_report(profile, current, None, DriftConfig())
    assert report.features["k"]["new_share"] == 0.0 and report.features["k"]["new_values"] == {}
    assert not any("never seen" in reason for reason in report.reasons)


def test_a_profile_written_before_others_were_kept_tells_new_values_only_when_it_can() -> None:
    reference, current = _frame(seed=1), _frame(seed=2)

    def written_before(profile: Profile) -> Profile:
        data = json.loads(profile.to_json())
        del data["categorical"]["k"]["others"]
        return Profile.from_json(json.dumps(data))

    with_other_rows = written_before(build_profile(reference, NUMERIC, CATEGORICAL, np.zeros(1), max_categories=1))
    complete = written_before(_profile(reference))
    assert with_other_rows.categorical["k"].others is None and complete.categorical["k"].others == ()
    assert drift_report(with_other_rows, current, None, DriftConfig()).features["k"]["new_share"] is None
    assert drift_report(complete, current, None, DriftConfig()).features["k"]["new_share"] == 0.0


def test_a_feature_missing_entirely_in_the_window_has_no_distribution_statistics() -> None:
    reference, current = _frame(seed=1), _frame(seed=2)
    current["a"] = np.nan
    stats = drift_report(_profile(reference), current, None, DriftConfig()).features["a"]
    assert stats["psi"] is None and stats["ks"] is None
    assert stats["status"] == "act"


def test_prediction_drift_alone_is_drift_when_the_policy_says_so() -> None:
    reference, current = _frame(seed=1), _frame(seed=2)
    profile = _profile(reference)
    shifted = np.clip(_scores(current) + 0.3, 0, 1)
    report = drift_report(profile, current, shifted, DriftConfig())
    assert report.drifted == []
    assert report.prediction_psi is not None and report.prediction_psi > 0.25
    assert report.drift is True
    assert report.reasons == [f"prediction PSI {report.prediction_psi:.3f} > 0.25"]
    assert drift_report(profile, current, shifted, _config(prediction_drift=False)).drift is False


def test_a_large_share_of_drifted_features_is_drift() -> None:
    reference = _frame(seed=1)
    current = _frame(seed=2, shift_b=1.0, k_shares=(0.2, 0.3, 0.5))
    report = drift_report(_profile(reference), current, None, DriftConfig())
    assert report.drifted == ["b", "k"]
    assert report.drift is True
    assert report.reasons == ["2 of 4 features (50%) over an act threshold, more than 30%: b, k"]


def test_per_feature_thresholds_override_the_defaults() -> None:
    # given b shifted by a quarter standard deviation: KS ~0.1 and PSI ~0.06
    reference, current = _frame(seed=1), _frame(seed=2, shift_b=0.25)
    loose = DriftConfig(thresholds=DriftThresholds(features={"b": FeatureThresholds(ks_act=0.5, psi_warn=0.05)}))
    strict = DriftConfig(thresholds=DriftThresholds(features={"b": FeatureThresholds(ks_act=0.05)}))
    # when / then
    assert drift_report(_profile(reference), current, None, loose).features["b"]["status"] == "warn"
    assert drift_report(_profile(reference), current, None, strict).features["b"]["status"] == "act"


def test_config_rejects_unknown_keys_and_warn_above_act() -> None:
    with pytest.raises(ValidationError, match="extra"):
        DriftConfig.model_validate({"policy": {"consecutive": 3}})
    with pytest.raises(ValidationError, match=r"psi_warn 0.3 exceeds psi_act 0.25 for feature 'b'"):
        DriftThresholds(features={"b": FeatureThresholds(psi_warn=0.3)})
    assert DriftConfig().cron == "30 1 * * *" and DriftConfig().thresholds.psi_act == 0.25


# --- bad input ---


def test_a_current_frame_without_a_profiled_column_names_it() -> None:
    reference, current = _frame(seed=1), _frame(seed=2)
    with pytest.raises(ValueError, match="current data lacks profiled columns: c, k"):
        drift_report(_profile(reference), current.drop(columns=["c", "k"]), None, DriftConfig())


def test_an_empty_current_frame_is_a_clear_error() -> None:
    reference = _frame(seed=1)
    with pytest.raises(ValueError, match="the current window has no rows"):
        drift_report(_profile(reference), reference.iloc[:0], None, DriftConfig())


def test_a_non_numeric_numeric_feature_and_unknown_config_features_are_errors() -> None:
    reference, current = _frame(seed=1), _frame(seed=2)
    profile = _profile(reference)
    with pytest.raises(ValueError, match="numeric feature 'a' has non-numeric dtype"):
        drift_report(profile, current.assign(a=current["a"].astype(str)), None, DriftConfig())
    with pytest.raises(ValueError, match="drift config names features the profile lacks: nope"):
        drift_report(profile, current, None, _config(key_features=("nope",)))


# --- the profile ---


def test_profile_bins_count_present_values_and_missing_apart() -> None:
    # given a column with ties (Poisson) and a few missing values, and a categorical with a long tail
    frame = _frame(seed=1)
    frame.loc[frame.index[:100], "c"] = np.nan
    frame["k"] = np.where(np.arange(len(frame)) % 2, "x", [f"v{i % 5}" for i in range(len(frame) // 2)] * 2)
    # when
    profile = build_profile(frame, NUMERIC, CATEGORICAL, _scores(frame), bins=10, max_categories=3)
    # then
    c = profile.numeric["c"]
    assert list(c.cuts) == sorted(set(c.cuts)) and c.edges[0] == -np.inf and c.edges[-1] == np.inf
    assert sum(c.counts) == sum(c.sketch_counts) == len(frame) - 100 and c.missing == 100
    assert len(profile.numeric["a"].counts) == 10 and len(profile.numeric["a"].sketch_counts) == 100
    k = profile.categorical["k"]
    # half x, then v0..v4 with 2,000 each: ties rank by name, the other three are "__other__"
    assert k.labels == ("x", "v0", "v1", OTHER) and k.counts == (10_000, 2_000, 2_000, 6_000)
    assert k.others == ("v2", "v3", "v4")


def test_profile_rejects_empty_data_missing_columns_and_features_listed_twice() -> None:
    frame = _frame(seed=1)
    with pytest.raises(ValueError, match="the reference data has no rows"):
        build_profile(frame.iloc[:0], NUMERIC, CATEGORICAL, np.zeros(1))
    with pytest.raises(ValueError, match="reference data lacks profiled columns: zz"):
        build_profile(frame, ("a", "zz"), CATEGORICAL, np.zeros(1))
    with pytest.raises(ValueError, match="each once"):
        build_profile(frame, ("a", "k"), CATEGORICAL, np.zeros(1))


def test_profile_json_round_trips_exactly() -> None:
    frame = _frame(seed=1)
    frame.loc[frame.index[:10], ["a", "k"]] = [np.nan, None]
    profile = _profile(frame)
    text = profile.to_json()
    # then: plain JSON (no NaN or Infinity), equal after a round trip, and the same text again
    json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))
    assert Profile.from_json(text) == profile
    assert Profile.from_json(text).to_json() == text
    with pytest.raises(ValueError, match="not a drift profile"):
        Profile.from_json('{"format": 1}')


# --- consecutive checks and cooldown ---


def test_drift_needs_consecutive_checks() -> None:
    cfg = _config(consecutive_checks=2)
    quiet = [CheckRecord(NOW - timedelta(days=1), drift=False)]
    first = confirm(quiet, _report(True), cfg, NOW)
    assert (first.confirmed, first.reason) == (False, "1 of 2 consecutive checks with drift")
    noisy = [*quiet, CheckRecord(NOW - timedelta(hours=1), drift=True)]
    second = confirm(noisy, _report(True), cfg, NOW)
    assert (second.confirmed, second.reason, second.consecutive) == (True, "drift in 2 consecutive checks", 2)
    assert confirm(noisy, _report(False), cfg, NOW).confirmed is False


def test_records_at_or_after_the_check_time_are_ignored_so_reruns_agree() -> None:
    cfg = _config(consecutive_checks=2)
    history = [CheckRecord(NOW, drift=True), CheckRecord(NOW + timedelta(days=1), drift=True)]
    assert confirm(history, _report(True), cfg, NOW).confirmed is False


def test_cooldown_holds_back_a_second_retrain() -> None:
    cfg = _config(consecutive_checks=1, cooldown_hours=24)
    triggered = NOW - timedelta(hours=10)
    history = [CheckRecord(triggered, drift=True, triggered=True)]
    held = confirm(history, _report(True), cfg, NOW)
    assert held.confirmed is False
    assert held.cooldown_until == triggered + timedelta(hours=24)
    assert "in cooldown until 2026-03-01T15:30:00+00:00" in held.reason
    later = confirm(history, _report(True), cfg, NOW + timedelta(hours=15))
    assert later.confirmed is True


def test_times_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CheckRecord(datetime(2026, 3, 1), drift=True)


def test_history_keeps_one_record_per_model_and_check_time(tmp_path: Path) -> None:
    engine = db.engine(f"sqlite:///{tmp_path / 'pipelines.db'}")
    history, other = CheckHistory("demo", engine), CheckHistory("other", engine)
    assert history.records() == []
    history.append(CheckRecord(NOW, drift=True))
    history.append(CheckRecord(NOW - timedelta(days=1), drift=False))
    other.append(CheckRecord(NOW, drift=False))
    history.append(CheckRecord(NOW, drift=True, triggered=True))  # a re-run of the same check
    assert history.records() == [CheckRecord(NOW - timedelta(days=1), drift=False), CheckRecord(NOW, True, True)]
    assert other.records() == [CheckRecord(NOW, drift=False)]


# --- the page ---


def test_html_report_is_self_contained() -> None:
    reference, current = _frame(seed=1), _frame(seed=2, shift_b=1.0)
    profile = _profile(reference)
    page = render_html(drift_report(profile, current, _scores(current), DriftConfig()), profile, title="demo")
    assert page.startswith("<!doctype html>") and "<title>demo</title>" in page
    assert page.count('src="data:image/png;base64,') == 5  # four features and the scores
    assert "http" not in page and "<link" not in page
