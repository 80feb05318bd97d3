"""The monitor DAG end to end: a clean window emits nothing; shifted data, confirmed by two consecutive
checks, emits the drift asset event that schedules a retrain run; the cooldown stops a second one; a region
never seen in training is reported, scored as missing, and breaks nothing."""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa

from pipelines.cli import main
from pipelines.config.loading import load_model
from pipelines.demo.seed import seed
from pipelines.jobs.retrain import retrain
from pipelines.reports.status import status
from tests.e2e.helpers import asset_events, retrain_runs_created_by_the_scheduler, run_dag

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.usefixtures("registry_home")]


def test_clean_data_emits_nothing_and_shifted_data_triggers_one_retrain(
    dagbag, home, slack_connection, monkeypatch, capsys, retrain_unpaused
):
    slack = slack_connection
    url = f"sqlite:///{home / 'source.db'}"
    monkeypatch.setenv("PIPELINES_SOURCE_URL", url)
    home.mkdir(parents=True, exist_ok=True)
    seed(url, date(2026, 1, 1), days=120, rows_per_day=150, seed=3)
    assert retrain(load_model("demo"), date(2026, 4, 20), url).status == "promoted"
    monitor = dagbag.get_dag("monitor_demo")
    run_dag(monitor, date(2026, 4, 22))  # writes both DAGs to the metadata DB
    retrain_unpaused()
    before = len(asset_events("drift_demo"))

    capsys.readouterr()
    assert main(["drift", "--as-of", "2026-04-23", "--json"]) == 0
    clean = json.loads(capsys.readouterr().out)
    assert clean["drift"] is False and clean["drifted"] == []

    state, tasks = run_dag(monitor, date(2026, 4, 23))
    assert state == "success" and tasks == {"check_drift": "success", "trigger_retrain": "skipped"}
    assert len(asset_events("drift_demo")) == before, "a clean window emits no drift event"

    seed(url, date(2026, 1, 1), days=120, rows_per_day=150, seed=3, scenario="drift")
    capsys.readouterr()
    assert main(["drift", "--as-of", "2026-05-01", "--json"]) == 0
    shifted = json.loads(capsys.readouterr().out)
    assert shifted["drift"] is True
    assert sorted(shifted["drifted"]) == ["logins_30d", "monthly_charges", "region"]
    assert shifted["features"]["monthly_charges"]["psi"] > 0.25 and shifted["features"]["age"]["psi"] < 0.1
    state, tasks = run_dag(monitor, date(2026, 5, 1))
    assert tasks["trigger_retrain"] == "skipped", "one check with drift is not yet confirmed"
    assert len(asset_events("drift_demo")) == before

    state, tasks = run_dag(monitor, date(2026, 5, 2))
    assert tasks["trigger_retrain"] == "success"
    events = asset_events("drift_demo")
    assert len(events) == before + 1
    extra = events[-1]
    assert sorted(extra["drifted"]) == ["logins_30d", "monthly_charges", "region"]
    assert extra["window_start"] == "2026-04-29" and extra["window_end"] == "2026-05-02"
    assert extra["statistics"]["monthly_charges"]["psi"] > 0.25
    assert "drift in 2 consecutive checks" in extra["confirmation"]
    assert len(slack.messages) == 1 and "Drift confirmed: demo 2026-05-02" in slack.messages[0]["text"]
    assert "`monthly_charges`" in slack.messages[0]["text"]
    assert retrain_runs_created_by_the_scheduler() == ["asset_triggered"]
    latest = status("demo").drift  # what `status` and the Models page show
    assert latest is not None
    assert (latest.window_end, latest.drift, latest.confirmed) == ("2026-05-02", True, True)
    assert sorted(latest.features) == ["logins_30d", "monthly_charges", "region"]

    state, tasks = run_dag(monitor, date(2026, 5, 3))
    assert tasks["trigger_retrain"] == "skipped", "the cooldown stops a second drift-triggered retrain"
    assert len(asset_events("drift_demo")) == before + 1

    engine = sa.create_engine(url)
    with engine.begin() as conn:  # a new region, sorting between "east" and "north", in a quarter of the rows
        update = "UPDATE customer_events SET region = 'newtown' WHERE event_ts >= '2026-04-28' AND rowid % 4 = 0"
        conn.execute(sa.text(update))
    engine.dispose()
    capsys.readouterr()
    assert main(["drift", "--as-of", "2026-05-01", "--json"]) == 0, "the champion scores the new region as missing"
    unseen = json.loads(capsys.readouterr().out)
    region = unseen["features"]["region"]
    assert 0.2 < region["new_share"] < 0.3 and list(region["new_values"]) == ["newtown"]
    note = f"region: {region['new_share']:.1%} of rows have values never seen in the reference (newtown)"
    assert note in unseen["reasons"]
    rows = region["new_values"]["newtown"]
    assert unseen["check"]["unseen"] == [
        f"region: {rows} rows with values never seen in training (newtown), scored as missing"
    ]
