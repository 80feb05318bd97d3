"""``rollback_demo`` through ``dag.test()``: the champion moves back in one step, the ledger and Slack say so."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.config.loading import load_model
from pipelines.decision.manual import move_champion
from pipelines.jobs.retrain import retrain
from pipelines.registry import ledger
from pipelines.registry import versions as registry
from tests.e2e.helpers import run_dag

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.usefixtures("registry_home")]


def test_rollback_dag_moves_the_champion_records_it_and_tells_slack(dagbag, seeded_source, slack_connection):
    # given two versions of demo, the newer one champion
    cfg = load_model("demo")
    for day in (date(2026, 3, 20), date(2026, 3, 27)):
        assert retrain(cfg, day, seeded_source).status in {"promoted", "rejected", "blocked"}
    if registry.by_alias("demo", registry.CHAMPION).version == 1:
        move_champion("demo", 2, "set-up: the newer version as champion", actor="test")
    dag = dagbag.get_dag("rollback_demo")

    # when an operator triggers the rollback DAG with a version and a reason
    state, tasks = run_dag(dag, date(2026, 3, 28), conf={"version": 1, "reason": "bad predictions in EU"})

    # then the champion is the chosen version, the old one is previous champion, and the ledger says who and why
    assert state == "success", tasks
    assert registry.by_alias("demo", registry.CHAMPION).version == 1
    assert registry.by_alias("demo", registry.PREVIOUS_CHAMPION).version == 2
    latest = ledger.entries("demo")[0]
    assert (latest.kind, latest.version, latest.champion_version) == ("rolled_back", 1, 2)
    assert latest.reasons == ["rolled back from v2 to v1: bad predictions in EU"]
    assert (latest.trigger, latest.actor) == ("manual", "dag_test")  # the triggering user dag.test() reports
    assert latest.airflow_run_id and latest.airflow_run_id.startswith("manual__")
    # and one Slack message names both versions
    assert len(slack_connection.texts()) == 1
    assert "Rollback: demo champion is v1 now" in slack_connection.texts()[0]
    assert "v2 -> v1" in slack_connection.texts()[0]

    # when the DAG is asked to move back to v2 without re-admitting it, then it refuses and says how
    state, tasks = run_dag(dag, date(2026, 3, 28), conf={"version": 2, "reason": "try again"})
    assert (state, tasks["move_champion"]) == ("failed", "failed")
    assert registry.by_alias("demo", registry.CHAMPION).version == 1
    assert "v2 was rolled back on" in slack_connection.texts()[-1]
    # and with readmit set, v2 is champion again, recorded as a re-admission by the operator
    state, tasks = run_dag(dag, date(2026, 3, 28), conf={"version": 2, "reason": "fixed upstream", "readmit": True})
    assert state == "success", tasks
    readmitted = ledger.entries("demo")[0]
    assert (readmitted.kind, readmitted.version, readmitted.actor) == ("readmitted", 2, "dag_test")
    assert "Re-admitted: demo champion is v2 now" in slack_connection.texts()[-1]


def test_rollback_to_an_unknown_version_fails_at_once_and_changes_nothing(dagbag, seeded_source, slack_connection):
    # given a single champion
    assert retrain(load_model("demo"), date(2026, 3, 20), seeded_source).status == "promoted"
    before = ledger.entries("demo")
    # when the rollback DAG is asked for a version that does not exist
    state, tasks = run_dag(dagbag.get_dag("rollback_demo"), date(2026, 3, 28), conf={"version": 99})
    # then the run fails without retries, one alert names the problem, and nothing moved or was recorded
    assert (state, tasks["move_champion"]) == ("failed", "failed")
    assert registry.by_alias("demo", registry.CHAMPION).version == 1
    assert ledger.entries("demo") == before
    texts = slack_connection.texts()
    assert len(texts) == 1 and "demo: there is no version 99" in texts[0]
