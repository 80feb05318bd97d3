"""The model card: logged under ``model_card/`` of each evaluated version's training run, and what it shows."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest

from pipelines.config.model import ModelConfig
from pipelines.config.training_sections import METRICS_BY_TASK
from pipelines.data.ingest import ingest, load
from pipelines.decision.evaluate import evaluate
from pipelines.decision.promote import promote
from pipelines.decision.verdict import Check, Decision
from pipelines.jobs.steps import model_card
from pipelines.model.estimators import estimator, predict
from pipelines.model.features import Splits, labels, model_frame, split
from pipelines.model.metrics import compute
from pipelines.model.ordered_split import RecentSplit, recent_split
from pipelines.model.scoring import score
from pipelines.model.train import fit, train
from pipelines.registry import versions as registry
from pipelines.registry.versions import VersionInfo
from pipelines.reports import card_analysis
from pipelines.reports.card_analysis import MAX_REFIT_ROWS, REFIT_FRACTIONS, curve_verdict, learning_curve
from pipelines.reports.model_card import CARD_PAGE, MODEL_CARD_ARTIFACT, PLOTS, card_folder, write_model_card

AS_OF = date(2026, 3, 1)


def test_model_card_files_exist_for_a_promoted_version(
    register_trained: Callable[..., int], seeded_source: str, demo_cfg: ModelConfig, tmp_path: Path
) -> None:
    # given champion v1 and challenger v2 trained by the pipeline on the seeded snapshot
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    registry.set_alias("demo", registry.CHAMPION, register_trained())
    trained = train(demo_cfg, snapshot)
    # when v2 is evaluated and promoted
    decision = evaluate(demo_cfg, snapshot, trained.version)
    assert promote(decision).status == "promoted", decision.reasons
    assert model_card(demo_cfg, snapshot, decision) == card_folder(decision.decision_id)
    # then v2's own training run holds the card of this decision: the page and every plot
    run_id = registry.version("demo", trained.version).run_id
    assert run_id == trained.run_id
    cards = registry.client().list_artifacts(run_id, MODEL_CARD_ARTIFACT)
    assert [Path(a.path).name for a in cards] == [decision.decision_id]
    card = card_folder(decision.decision_id)
    listed = {Path(a.path).name for a in registry.client().list_artifacts(run_id, card)}
    assert listed == {CARD_PAGE, *PLOTS}
    folder = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=card, dst_path=str(tmp_path)))
    for plot in PLOTS:
        assert (folder / plot).read_bytes().startswith(b"\x89PNG"), plot
    # and the page names the version, its data window and snapshot, the champion, every slice and the decision
    page = (folder / CARD_PAGE).read_text()
    assert f"Model card: demo v{trained.version}" in page
    assert f"{snapshot.window_start} .. {snapshot.window_end}" in page
    assert snapshot.content_hash in page
    assert "champion v1" in page
    for plan in ("basic", "standard", "premium", "family"):
        assert f"<td>plan</td><td>{plan}</td>" in page
    for region in ("north", "south", "east", "west", "central"):
        assert f"<td>region</td><td>{region}</td>" in page
    assert "not judged" in page  # plan=family has fewer than min_rows holdout rows
    assert "Suite <b>demo</b>" in page
    assert "learning_curve.png" in page and "data:image/png;base64," in page
    assert all(html.escape(c.detail) in page for c in decision.checks)
    # and each plot is embedded, so the page reads the same in MLflow's artifact viewer
    assert page.count('src="data:image/png;base64,') == len(PLOTS)
    # and before any cadence was measured the card says how to measure it
    assert "Decay with model age</h2><p>Not measured yet" in page


def test_the_card_draws_the_latest_cadence_once_one_was_measured(home: Path, demo_cfg: ModelConfig) -> None:
    import base64

    from pipelines.performance import store
    from pipelines.performance.cadence import AgePoint, fit_cadence
    from pipelines.reports.model_card import _decay_curve

    home.mkdir(parents=True, exist_ok=True)
    assert _decay_curve(demo_cfg) is None
    points = [AgePoint(f"m{m}", 3.5 + 7 * w, 0.8 - 0.007 * w + 0.01 * m, 400) for m in range(3) for w in range(5)]
    found = fit_cadence(points, "roc_auc", 0.03)
    store.save_cadence("demo", "replay", found.recommended_days, found.to_dict())
    drawn = _decay_curve(demo_cfg)
    assert drawn is not None and base64.b64decode(drawn).startswith(b"\x89PNG")


def test_version_without_training_run_gets_no_card(
    register_trained: Callable[..., int], seeded_source: str, demo_cfg: ModelConfig
) -> None:
    # given a version registered from a model folder, outside any run
    version = register_trained()
    # when evaluated / then the decision is made and there is no run to hold a card
    decision = evaluate(demo_cfg, ingest(demo_cfg, AS_OF, seeded_source), version)
    assert decision.promote
    assert registry.version("demo", version).run_id is None


def test_learning_curve_keeps_the_newest_rows(seeded_source: str, demo_cfg: ModelConfig) -> None:
    # given the seeded snapshot's time-ordered training rows
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    splits = split(load(snapshot), demo_cfg, snapshot.window)
    model = fit(demo_cfg, splits)
    # when the curve is drawn with the model's number of rounds, from the rows the card reads
    rows = recent_split(snapshot, demo_cfg, MAX_REFIT_ROWS)
    assert rows.train_rows == len(splits.train)
    curve = learning_curve(demo_cfg, rows, model, rounds=model.best_iteration + 1)
    # then it has one point per refitted share and one for the model, each a finite holdout roc_auc
    assert len(curve.rows) == len(REFIT_FRACTIONS) + 1
    assert curve.rows == sorted(curve.rows) and curve.rows[-1] == len(splits.train)
    assert curve.rows[-2] == round(len(splits.train) / 2)
    holdout_auc = compute(("roc_auc",), labels(splits.holdout, demo_cfg), score(model, splits.holdout, demo_cfg).scores)
    assert curve.values[-1] == holdout_auc["roc_auc"]
    assert curve.metric == "roc_auc"
    assert all(0.5 < v <= 1 for v in curve.values)
    assert (curve.more_data_helps, curve.verdict) == curve_verdict("roc_auc", curve.rows, curve.values)


@pytest.mark.parametrize(
    ("metric", "values", "helps"),
    [
        ("roc_auc", [0.70, 0.74, 0.78], True),  # +0.04 on the last doubling: still rising
        ("roc_auc", [0.70, 0.779, 0.78], False),  # +0.001: flat
        ("rmse", [12.0, 10.0, 9.0], True),  # lower is better: -1.0 is a gain of 11%
        ("rmse", [12.0, 9.0, 9.01], False),  # slightly worse: flat
    ],
)
def test_curve_verdict_says_whether_more_data_would_help(metric: str, values: list[float], helps: bool) -> None:
    verdict = curve_verdict(metric, [1000, 2000, 4000], values)
    assert verdict[0] is helps
    assert "from 2000 to 4000 training rows" in verdict[1]
    assert ("more data would likely help" in verdict[1]) is helps


def test_a_capped_curve_judges_its_last_step_per_doubling() -> None:
    # 1000 -> 4000 rows is two doublings: +0.006 relative in all is +0.3% per doubling, flat
    helps, text = curve_verdict("roc_auc", [500, 1000, 4000], [0.70, 0.78, 0.7847])
    assert not helps and "per doubling" in text


@pytest.fixture
def fitted(seeded_source: str, demo_cfg: ModelConfig) -> tuple[Splits, Any]:
    """The seeded window's splits and the demo model fitted on them."""
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    splits = split(load(snapshot), demo_cfg, snapshot.window)
    return splits, fit(demo_cfg, splits)


def test_the_largest_refit_is_capped(
    fitted: tuple[Splits, Any], demo_cfg: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    splits, model = fitted
    monkeypatch.setattr(card_analysis, "MAX_REFIT_ROWS", 800)

    curve = learning_curve(demo_cfg, _whole(splits), model, rounds=model.best_iteration + 1)

    assert curve.rows == [200, 400, 800, len(splits.train)]


def test_the_curve_scores_every_point_on_one_sample_of_the_holdout(
    fitted: tuple[Splits, Any], demo_cfg: ModelConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    splits, model = fitted
    monkeypatch.setattr(card_analysis, "CURVE_HOLDOUT_ROWS", 400)
    assert len(splits.holdout) > 400

    curve = learning_curve(demo_cfg, _whole(splits), model, rounds=model.best_iteration + 1)

    picked = np.sort(np.random.default_rng(demo_cfg.xgboost.seed).choice(len(splits.holdout), 400, replace=False))
    sample = splits.holdout.iloc[picked]
    on_sample = compute(("roc_auc",), labels(sample, demo_cfg), score(model, sample, demo_cfg).scores)["roc_auc"]
    on_all = compute(("roc_auc",), labels(splits.holdout, demo_cfg), score(model, splits.holdout, demo_cfg).scores)[
        "roc_auc"
    ]
    assert curve.values[-1] == on_sample != on_all


def test_a_curve_given_too_few_of_the_newest_rows_says_so(fitted: tuple[Splits, Any], demo_cfg: ModelConfig) -> None:
    splits, model = fitted
    short = RecentSplit(len(splits.train), splits.train.iloc[-10:], splits.holdout)

    with pytest.raises(ValueError, match=f"needs the newest {round(len(splits.train) / 2)} training rows, got 10"):
        learning_curve(demo_cfg, short, model, rounds=model.best_iteration + 1)


def _whole(splits: Splits) -> RecentSplit:
    return RecentSplit(len(splits.train), splits.train, splits.holdout)


def test_curve_verdict_needs_two_points() -> None:
    assert curve_verdict("roc_auc", [500], [0.7]) == (False, "too few training rows to draw a learning curve")


def test_card_of_a_regression_model_without_slices(seeded_source: str, demo_cfg: ModelConfig, tmp_path: Path) -> None:
    # given a regression config on the demo table (total charges from the other columns), without slices
    data = demo_cfg.model_dump(by_alias=True)
    data["task"] = "regression"
    data["columns"] = {**data["columns"], "label": "total_charges"}
    data["columns"]["numeric"] = [c for c in data["columns"]["numeric"] if c != "total_charges"]
    data["policy"] = {"primary_metric": "rmse", "floor": 1e6, "guards": {"mae": 5.0}}
    cfg = ModelConfig.model_validate(data)
    snapshot = ingest(cfg, AS_OF, seeded_source)
    splits = split(load(snapshot), cfg, snapshot.window)
    model = estimator(cfg, n_estimators=30, early_stopping_rounds=None)
    model.fit(model_frame(splits.train, cfg), labels(splits.train, cfg), verbose=False)
    holdout = compute(
        METRICS_BY_TASK["regression"],
        labels(splits.holdout, cfg),
        predict(model, model_frame(splits.holdout, cfg), "regression"),
    )
    decision = Decision("demo", True, 1, None, [Check("floor", True, "rmse below the floor")], holdout)
    # when its card is written (no run needed)
    folder = tmp_path / "card"
    folder.mkdir()
    page = write_model_card(folder, cfg, snapshot, _whole(splits), model, decision, [], VersionInfo(1, None, {}), {})
    # then the page and every plot exist, and the page reads the regression metrics and the lack of slices
    assert {p.name for p in folder.iterdir()} == {CARD_PAGE, *PLOTS}
    text = page.read_text()
    assert "rmse (primary)" in text and "holdout rmse" in text
    assert "No slice columns in policy.slices." in text
    assert f"{snapshot.window_start} .. {snapshot.window_end}" in text and snapshot.content_hash in text
