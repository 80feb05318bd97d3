"""The scoring DAG end to end after a concept shift: score_demo scores the day with the champion and measures its
predictions; the first check with decay waits, the second emits the performance asset event that schedules a
retrain run and tells Slack with the plot's link, the cooldown stops a third; the event's extras become the
retrain's lineage and ledger entry (trigger ``performance``)."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.config.loading import load_model
from pipelines.demo.seed import seed
from pipelines.jobs.retrain import retrain
from pipelines.jobs.steps import predictions_url
from pipelines.performance.batch_score import score_window
from pipelines.registry.ledger import entries
from pipelines.registry.lineage import Lineage
from tests.e2e.helpers import asset_events, retrain_runs_created_by_the_scheduler, run_dag

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.usefixtures("registry_home")]


def test_decay_after_a_concept_shift_triggers_one_retrain_tagged_performance(
    dagbag,
    home,
    slack_connection,
    monkeypatch,
    retrain_unpaused,
):
    slack = slack_connection
    # given a source whose label rule changes on 2026-03-02, a champion trained before, and its March scores
    url = f"sqlite:///{home / 'source.db'}"
    monkeypatch.setenv("PIPELINES_SOURCE_URL", url)
    home.mkdir(parents=True, exist_ok=True)
    seed(url, date(2026, 1, 1), days=90, rows_per_day=150, seed=3, scenario="concept-shift", scenario_days=30)
    cfg = load_model("demo")
    assert retrain(cfg, date(2026, 3, 1), url).status == "promoted"
    assert cfg.scoring is not None
    march = cfg.model_copy(update={"scoring": cfg.scoring.model_copy(update={"window_days": 10})})
    score_window(march, date(2026, 3, 11), url, predictions_url(cfg), run_id="backfilled")
    score = dagbag.get_dag("score_demo")
    before = len(asset_events("performance_demo"))

    # when score_demo runs for 03-11: it scores 03-10, sees decay once, and waits for a second check
    state, tasks = run_dag(score, date(2026, 3, 11))  # also writes the DAGs to the metadata DB
    assert state == "success"
    assert tasks == {"score_window": "success", "measure_performance": "success", "trigger_retrain": "skipped"}
    assert len(asset_events("performance_demo")) == before
    retrain_unpaused()

    # when it runs for 03-12: decay is confirmed, the event says what fell, Slack hears it once with the plot
    state, tasks = run_dag(score, date(2026, 3, 12))
    assert tasks["trigger_retrain"] == "success"
    events = asset_events("performance_demo")
    assert len(events) == before + 1
    extra = events[-1]
    assert extra["champion_version"] == 1 and extra["metric"] == "roc_auc"
    assert "decay in 2 consecutive checks" in extra["confirmation"]
    assert any("worse than v1's holdout" in line for line in extra["findings"])
    assert len(slack.messages) == 1
    message = slack.messages[0]["text"]
    assert "Performance decay confirmed: demo 2026-03-12, retraining" in message
    assert "worse than v1's holdout" in message
    assert "performance plot" in str(slack.messages[0]) and extra["plot"].endswith("/artifacts/performance.png")
    assert retrain_runs_created_by_the_scheduler() == ["asset_triggered"]

    # and the retrain that event starts records why: trigger performance, the event as the cause
    from _common import trigger_of

    class Run:
        run_type = "asset_triggered"

    class Event:
        def __init__(self, name: str, extra: dict) -> None:
            self.asset, self.extra = type("A", (), {"name": name})(), extra

    trigger, cause = trigger_of(
        {"dag_run": Run(), "triggering_asset_events": {"a": [Event("performance_demo", extra)]}}
    )
    assert trigger == "performance"
    outcome = retrain(
        cfg, date(2026, 3, 13), url, lineage=Lineage(trigger=trigger, airflow_run_id="asset_triggered__x", cause=cause)
    )
    assert outcome.status in {"promoted", "rejected"}
    newest = entries("demo", 1)[0]
    assert newest.trigger == "performance" and "worse than v1's holdout" in newest.cause

    # when it runs for 03-13: still decay, but the cooldown holds it back
    state, tasks = run_dag(score, date(2026, 3, 13))
    assert tasks["trigger_retrain"] == "skipped"
    assert len(asset_events("performance_demo")) == before + 1
