"""Slices: per-slice holdout metrics, the checks ``judge`` makes of them, and a slice regression through evaluate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.model import ModelConfig
from pipelines.data.ingest import ingest, load
from pipelines.decision.evaluate import evaluate
from pipelines.decision.judge import judge
from pipelines.decision.promote import promote
from pipelines.decision.verdict import Check, Decision
from pipelines.model.estimators import estimator
from pipelines.model.features import labels, model_frame, split
from pipelines.model.slices import MISSING, SliceMetric, slice_metrics
from pipelines.registry import versions as registry
from tests.unit.decision.test_evaluate_promote import failed, metrics, with_policy

AS_OF = date(2026, 3, 1)


def with_slices(cfg: ModelConfig, **slices: Any) -> ModelConfig:
    return with_policy(cfg, slices={**cfg.policy.slices.model_dump(), **slices})


def piece(value: str, challenger: float, champion: float | None, rows: int = 200, judged: bool = True) -> SliceMetric:
    return SliceMetric("region", value, rows, challenger, champion, judged)


# --- judge: slice checks from given slice metrics -----------------------------------------------------
# demo policy: roc_auc, slices [plan, region] with tolerance 0.05 and min_rows 100


def test_slice_worse_beyond_tolerance_blocks_an_otherwise_better_challenger(demo_cfg: ModelConfig) -> None:
    # given a challenger better overall (0.82 vs 0.80) but 0.07 worse on region=north
    slices = [piece("north", 0.74, 0.81), piece("south", 0.85, 0.80)]
    # when judged
    checks = judge(demo_cfg, metrics(0.82), metrics(0.80), None, slices=slices)
    # then exactly that slice fails, as a blocking check that gives the numbers and the tolerance,
    # and the summary above it fails too instead of claiming all is well
    assert failed(checks) == ["slices", "slice:region=north"]
    north = next(c for c in checks if c.name == "slice:region=north")
    assert north.blocking
    assert str(north) == (
        "FAIL slice:region=north: region=north roc_auc 0.8100 -> 0.7400 (worse by 0.0700, tolerance 0.0500, 200 rows)"
    )
    # and the decision built from these checks neither promotes nor hides why
    decision = Decision("demo", all(c.passed for c in checks), 2, 1, checks, metrics(0.82), metrics(0.80))
    assert not decision.promote and decision.blocked
    assert any(r.startswith("FAIL slice:region=north") for r in decision.reasons)


def test_passing_slices_are_one_summary_check(demo_cfg: ModelConfig) -> None:
    # given five slices, none more than the tolerance (0.05) worse
    slices = [piece(v, 0.80 - d, 0.80) for v, d in zip("abcde", (0.0, 0.01, 0.03, 0.049, -0.02), strict=True)]
    # when judged
    checks = judge(demo_cfg, metrics(0.82), metrics(0.80), None, slices=slices)
    # then one passing "slices" check sums them up, and nothing blocks
    assert [c.name for c in checks] == ["floor", "improvement", "guard:log_loss", "slices"]
    assert str(checks[-1]) == "ok slices: 5 of 5 judged slices within 0.0500 of the champion's roc_auc"
    assert failed(checks) == []


def test_small_slices_are_reported_not_judged(demo_cfg: ModelConfig) -> None:
    # given a slice far worse but too small to judge, and a judged slice that is fine
    slices = [piece("tiny", 0.40, 0.90, rows=30, judged=False), piece("north", 0.80, 0.80)]
    # when judged
    checks = judge(demo_cfg, metrics(0.82), metrics(0.80), None, slices=slices)
    # then nothing fails, and the summary names the slice that was not judged
    assert failed(checks) == []
    assert checks[-1].detail == (
        "1 of 1 judged slices within 0.0500 of the champion's roc_auc; "
        "not judged (under 100 rows or under 20 positive or negative rows, or a metric undefined): "
        "region=tiny (30 rows)"
    )


def test_slices_with_few_positives_are_not_judged(demo_cfg: ModelConfig) -> None:
    # given a slice of 374 rows with only 33 positives, and one of 300 rows with 150; min_positives 40
    cfg = with_slices(demo_cfg, columns=["region"], min_rows=100, min_positives=40)
    y = [1] * 33 + [0] * 341 + [1] * 150 + [0] * 150
    features, labels_ = holdout(["east"] * 374 + ["west"] * 300, y)
    scores = np.linspace(0.0, 1.0, len(labels_))
    # when per-slice metrics are computed
    found = slice_metrics(cfg, features, labels_, scores, scores[::-1].copy())
    # then rows alone do not make a slice judged: the rare class must have enough rows too
    assert [(s.name, s.rows, s.positives, s.judged) for s in found] == [
        ("region=east", 374, 33, False),
        ("region=west", 300, 150, True),
    ]
    # and the summary says why the small one was left out
    summary = next(c for c in judge(cfg, metrics(0.82), metrics(0.80), None, slices=found) if c.name == "slices")
    assert "region=east (374 rows, 33 positive)" in summary.detail


def test_no_champion_means_no_slice_checks(demo_cfg: ModelConfig) -> None:
    # given the first model, with per-slice metrics of its own (one of them poor)
    slices = [piece("north", 0.55, None), piece("south", 0.85, None)]
    # when judged / then only the floor applies
    checks = judge(demo_cfg, metrics(0.75), None, None, slices=slices)
    assert [c.name for c in checks] == ["floor", "champion"]
    assert failed(checks) == []


def test_slice_direction_follows_the_metric(demo_cfg: ModelConfig) -> None:
    # given a lower-is-better primary metric and a slice whose log_loss rose by 0.08
    cfg = with_slices(with_policy(demo_cfg, primary_metric="log_loss", floor=0.6, guards={}), tolerance=0.05)
    slices = [piece("north", 0.48, 0.40), piece("south", 0.30, 0.40)]
    # when judged / then the rise fails and the fall passes
    checks = judge(cfg, metrics(0.8, log_loss=0.39), metrics(0.8, log_loss=0.40), None, slices=slices)
    assert failed(checks) == ["slices", "slice:region=north"]
    assert "worse by 0.0800" in next(str(c) for c in checks if c.name == "slice:region=north")


def test_blocked_decision_survives_a_json_round_trip() -> None:
    checks = [Check("floor", True, "x"), Check("slice:region=north", False, "worse", blocking=True)]
    decision = Decision("demo", False, 2, 1, checks, metrics(0.82), metrics(0.80))
    assert Decision.from_dict(decision.to_dict()) == decision
    assert Decision.from_dict(decision.to_dict()).blocked


# --- slice_metrics: which slices are judged ----------------------------------------------------------


def holdout(regions: list[str | None], y: list[int]) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.DataFrame({"region": pd.Series(regions, dtype="string").astype("category"), "plan": "basic"})
    return frame, np.asarray(y, dtype="float64")


def test_slice_metrics_per_value_with_small_and_single_class_slices_not_judged(demo_cfg: ModelConfig) -> None:
    # given 4 north rows (both classes), 4 south rows (one class), 2 rows without a region; min_rows 3
    cfg = with_slices(demo_cfg, columns=["region"], min_rows=3, min_positives=1)
    features, y = holdout(["north"] * 4 + ["south"] * 4 + [None] * 2, [0, 1, 0, 1, 0, 0, 0, 0, 0, 1])
    challenger = np.array([0.1, 0.9, 0.2, 0.8, 0.3, 0.3, 0.3, 0.3, 0.2, 0.7])
    champion = np.array([0.9, 0.1, 0.8, 0.2, 0.3, 0.3, 0.3, 0.3, 0.2, 0.7])
    # when per-slice metrics are computed
    found = slice_metrics(cfg, features, y, challenger, champion)
    # then each value (missing ones too) is a slice, judged only with enough rows and both classes
    assert [(s.name, s.rows, s.judged) for s in found] == [
        (f"region={MISSING}", 2, False),
        ("region=north", 4, True),
        ("region=south", 4, False),
    ]
    north = found[1]
    assert (north.challenger, north.champion) == (1.0, 0.0)
    # and without a champion, the challenger's slice metrics are still there
    alone = slice_metrics(cfg, features, y, challenger, None)
    assert [(s.name, s.champion, s.judged) for s in alone][1] == ("region=north", None, True)


def test_no_slice_columns_means_no_slices(demo_cfg: ModelConfig) -> None:
    cfg = with_slices(demo_cfg, columns=[])
    features, y = holdout(["north", "south"], [0, 1])
    assert slice_metrics(cfg, features, y, np.array([0.2, 0.8]), np.array([0.2, 0.8])) == []


# --- through evaluate and promote, with real models ---------------------------------------------------


def fit_and_register(cfg: ModelConfig, frame: pd.DataFrame, folder: Path) -> int:
    """Fit the config's XGBoost on ``frame`` and register it as a new ``demo`` version (no training run)."""
    import mlflow

    model = estimator(cfg, n_estimators=60, early_stopping_rounds=None, n_jobs=1, nthread=1)
    model.fit(model_frame(frame, cfg), labels(frame, cfg), verbose=False)
    mlflow.xgboost.save_model(model, str(folder))
    client = registry.client()
    if not client.search_registered_models(filter_string="name = 'demo'"):
        client.create_registered_model("demo")
    window = {"window_start": "2026-01-11", "holdout_start": "2026-02-22", "window_end": "2026-03-01"}
    lineage = {key: "" for key in registry.LINEAGE_KEYS} | window
    return int(client.create_model_version("demo", folder.as_uri(), tags=lineage).version)


def noise_outside(frame: pd.DataFrame, keep: Callable[[pd.DataFrame], pd.Series]) -> pd.DataFrame:
    """Labels shuffled in every row where ``keep`` is False: the model learns nothing there."""
    shuffled = frame["churned"].sample(frac=1.0, random_state=0).to_numpy()
    return frame.assign(churned=frame["churned"].where(keep(frame), shuffled))


def test_slice_regression_blocks_promotion_through_evaluate(
    registry_home: Path, seeded_source: str, demo_cfg: ModelConfig
) -> None:
    # given a policy without floor or guards in the way, judging slices by region, on the seeded snapshot
    cfg = with_slices(with_policy(demo_cfg, floor=0.5, guards={}), columns=["region"])
    snapshot = ingest(cfg, AS_OF, seeded_source)
    train_rows = split(load(snapshot), cfg, snapshot.window).train
    # and a champion that learned only from region=north, and a challenger that learned from every other region
    north = noise_outside(train_rows, lambda f: f["region"] == "north")
    others = noise_outside(train_rows, lambda f: f["region"] != "north")
    champion = fit_and_register(cfg, north, registry_home / "champion")
    registry.set_alias("demo", registry.CHAMPION, champion)
    challenger = fit_and_register(cfg, others, registry_home / "challenger")
    # when the challenger is evaluated
    decision = evaluate(cfg, snapshot, challenger)
    # then it is better overall, yet blocked by the north slice alone, and the reason says so
    assert decision.challenger_metrics["roc_auc"] > decision.champion_metrics["roc_auc"]
    assert failed(decision.checks) == ["slices", "slice:region=north"]
    assert not decision.promote and decision.blocked
    reason = next(r for r in decision.reasons if "region=north" in r and r.startswith("FAIL"))
    assert "tolerance 0.0500" in reason
    summary = next(c for c in decision.checks if c.name == "slices")
    assert not summary.passed
    assert summary.detail == (
        "1 of 5 judged slices worse than the champion's roc_auc by more than 0.0500 (listed below); 4 within"
    )
    # when the decision is applied / then the champion stays and the version records why
    result = promote(decision)
    assert (result.status, result.champion_version) == ("blocked", champion)
    assert registry.by_alias("demo", registry.CHAMPION).version == champion
    assert "slice:region=north" in registry.version("demo", challenger).tags["decision_reasons"]


def test_promotable_challenger_is_not_blocked_by_slices(
    register_trained: Callable[..., int], seeded_source: str, demo_cfg: ModelConfig
) -> None:
    # given the seeded holdout and two identical models, champion v1 and challenger v2
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    v1 = register_trained()
    registry.set_alias("demo", registry.CHAMPION, v1)
    decision = evaluate(demo_cfg, snapshot, register_trained())
    # then every judged slice is within the tolerance and the challenger may be promoted
    assert decision.promote, decision.reasons
    summary = next(c for c in decision.checks if c.name == "slices")
    assert summary.detail.startswith("8 of 8 judged slices")
    assert (
        "not judged (under 100 rows or under 20 positive or negative rows, or a metric undefined): plan=family ("
        in (summary.detail)
    )
