"""The retrain DAGs parse cleanly, purely, with the expected graph, schedule and defaults."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from pipelines.config.base import ConfigError
from pipelines.config.loading import load_all, load_config
from tests.conftest import ROOT

pytestmark = pytest.mark.airflow


def test_dag_folder_has_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_every_config_gets_a_retrain_dag(dagbag):
    assert {f"retrain_{cfg.name}" for cfg in load_all()} <= set(dagbag.dag_ids)


def test_task_graph_is_ingest_validate_train_evaluate_promote(dagbag):
    dag = dagbag.get_dag("retrain_demo")
    chain = ["ingest", "validate", "train", "evaluate", "promote", "any_stage_failed"]
    assert sorted(dag.task_ids) == sorted([*chain, "model_card"])
    for upstream, downstream in pairwise(chain):
        assert downstream in dag.get_task(upstream).downstream_task_ids
    assert dag.get_task("any_stage_failed").downstream_task_ids == set()
    # the model card is drawn beside the promotion, after the decision: it never holds it up or alters it
    card = dag.get_task("model_card")
    assert card.upstream_task_ids == {"ingest", "evaluate"} and card.downstream_task_ids == {"any_stage_failed"}


@pytest.mark.parametrize("dag_id", ["retrain_demo", "monitor_demo", "rollback_demo", "score_demo"])
def test_every_task_body_is_at_most_five_lines(dagbag, dag_id):
    import inspect

    dag = dagbag.get_dag(dag_id)
    for task in dag.tasks:
        if not hasattr(task, "python_callable"):
            continue
        lines = inspect.getsource(task.python_callable).splitlines()
        body = [line for line in lines[1:] if line.strip() and not line.lstrip().startswith(("@", '"""', "def "))]
        assert len(body) <= 5, (task.task_id, body)


def test_a_failed_stage_fails_the_run_through_the_last_task(dagbag):
    # the only leaf runs when a stage upstream failed, and fails; it sends no second Slack alert
    last = dagbag.get_dag("retrain_demo").get_task("any_stage_failed")
    assert (last.trigger_rule, last.retries, last.on_failure_callback) == ("one_failed", 0, [])


def test_schedule_is_nightly_cron_or_drift_or_decay(dagbag):
    dag = dagbag.get_dag("retrain_demo")
    timetable = dag.timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert timetable.timetable._expression == "0 2 * * *"
    assert "drift_demo" in repr(timetable.asset_condition)
    assert "performance_demo" in repr(timetable.asset_condition)


def test_defaults_follow_the_house_rules(dagbag):
    dag = dagbag.get_dag("retrain_demo")
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    # no start date: a run of any logical date (the REST API's, the form's) has all its tasks
    assert dag.start_date is None and dag.default_args["start_date"] is None
    assert "Any logical date runs every task" in dag.doc_md
    assert {"retrain", "demo"} <= set(dag.tags)
    assert dag.default_args["retries"] >= 1
    assert "demo" in dag.doc_md
    assert set(dag.params.keys()) == {"training_days", "dry_run"}
    assert dag.params["dry_run"] is False


def test_the_trigger_form_says_the_logical_date_picks_the_data(dagbag):
    dag = dagbag.get_dag("retrain_demo")
    assert "The logical date picks the data" in dag.doc_md and "42 training days then\n7 holdout days" in dag.doc_md
    assert "schedule.cron: null" in dag.doc_md  # what unpausing starts, and how not to
    assert "Logical date above picks the data" in dag.params.get_param("training_days").description


def dags_of_demo_with(tmp_path: Path, monkeypatch, **sections: object):
    """The DAGs parsed from the demo config with ``sections`` replaced (None: removed), as a user would edit it."""
    from airflow.dag_processing.dagbag import DagBag

    raw = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    for name, value in sections.items():
        if value is None:
            raw.pop(name, None)
        else:
            raw[name] = value
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "demo.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("PIPELINES_CONFIGS_DIR", str(configs))
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag


def test_start_date_and_schedule_come_from_the_config(airflow_db, tmp_path: Path, monkeypatch):
    # given a model whose data ended in 2014, with no nightly schedule
    bag = dags_of_demo_with(tmp_path, monkeypatch, schedule={"cron": None, "start_date": "2014-01-01"})
    # then every DAG of the model starts then, and retrain runs only on drift (unpausing starts nothing)
    for dag_id in ("retrain_demo", "monitor_demo", "rollback_demo", "score_demo"):
        assert bag.get_dag(dag_id).start_date == datetime(2014, 1, 1, tzinfo=UTC), dag_id
    retrain = bag.get_dag("retrain_demo")
    assert "Keep `schedule.start_date` (2014-01-01) before the data" in retrain.doc_md
    assert type(retrain.timetable).__name__ == "AssetTriggeredTimetable"
    assert "drift_demo" in repr(retrain.timetable.asset_condition)
    assert "Unpausing starts nothing by itself" in retrain.doc_md


@pytest.mark.parametrize(
    ("start_date", "error"),
    [
        ((date.today() + timedelta(days=2)).isoformat(), "is in the future"),
        ("2014-13-01", "schedule.start_date"),
        ("yesterday", "schedule.start_date"),
    ],
)
def test_a_start_date_in_the_future_or_not_a_date_is_a_config_error(tmp_path: Path, start_date: str, error: str):
    raw = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    raw["schedule"]["start_date"] = start_date
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=error):
        load_config(tmp_path / "demo.yaml")


def test_parsing_touches_no_connection_variable_or_database(airflow_db, monkeypatch):
    import sqlalchemy
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import Connection, Variable

    def forbidden(*args, **kwargs):
        raise AssertionError("touched at parse time")

    monkeypatch.setattr(Connection, "get", forbidden)
    monkeypatch.setattr(Variable, "get", forbidden)
    monkeypatch.setattr(sqlalchemy, "create_engine", forbidden)
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert "retrain_demo" in bag.dag_ids


def test_a_new_yaml_and_suite_give_a_new_dag_without_code(airflow_db, tmp_path: Path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    configs = tmp_path / "configs"
    configs.mkdir()
    shutil.copy(ROOT / "configs" / "demo.yaml", configs / "demo.yaml")
    text = (ROOT / "configs" / "demo.yaml").read_text().replace("name: demo", "name: churn_eu")
    (configs / "churn_eu.yaml").write_text(text)
    monkeypatch.setenv("PIPELINES_CONFIGS_DIR", str(configs))
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert {"retrain_demo", "retrain_churn_eu"} <= set(bag.dag_ids)


def test_monitor_dag_checks_then_emits_the_drift_asset(dagbag):
    dag = dagbag.get_dag("monitor_demo")
    assert {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks} == {
        "check_drift": ["trigger_retrain"],
        "trigger_retrain": [],
    }
    assert dag.timetable._expression == "30 1 * * *"
    assert [o.name for o in dag.get_task("trigger_retrain").outlets] == ["drift_demo"]
    assert dag.max_active_runs == 1 and dag.catchup is False


def test_score_dag_scores_measures_then_emits_the_performance_asset(dagbag):
    dag = dagbag.get_dag("score_demo")
    assert {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks} == {
        "score_window": ["measure_performance"],
        "measure_performance": ["trigger_retrain"],
        "trigger_retrain": [],
    }
    assert dag.timetable._expression == "0 3 * * *"
    assert [o.name for o in dag.get_task("trigger_retrain").outlets] == ["performance_demo"]
    assert dag.max_active_runs == 1 and dag.catchup is False


def test_a_model_without_a_scoring_section_has_no_score_dag(airflow_db, tmp_path: Path, monkeypatch):
    bag = dags_of_demo_with(tmp_path, monkeypatch, scoring=None)
    assert "retrain_demo" in bag.dag_ids and "score_demo" not in bag.dag_ids


def test_asset_triggered_runs_record_why_and_what_moved_or_fell_in_their_lineage():
    from types import SimpleNamespace

    from _common import trigger_of

    def event(name: str, extra: dict[str, object]) -> SimpleNamespace:
        return SimpleNamespace(asset=SimpleNamespace(name=name), extra=extra)

    def run(*events: SimpleNamespace) -> dict[str, object]:
        return {"dag_run": SimpleNamespace(run_type="asset_triggered"), "triggering_asset_events": {"a": list(events)}}

    drift = event("drift_demo", {"drifted": ["monthly_charges"]})
    decay = event("performance_demo", {"findings": ["realized roc_auc 0.61 is below the floor 0.70"]})
    assert trigger_of(run(drift)) == ("drift", '[{"drifted": ["monthly_charges"]}]')
    assert trigger_of(run(decay)) == (
        "performance",
        '[{"findings": ["realized roc_auc 0.61 is below the floor 0.70"]}]',
    )
    assert trigger_of(run(drift, decay))[0] == "drift+performance"
    assert trigger_of({"dag_run": SimpleNamespace(run_type="backfill")}) == ("backfill", "")


def test_approval_puts_a_human_between_evaluate_and_promote(airflow_db, tmp_path: Path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    configs = tmp_path / "configs"
    configs.mkdir()
    raw = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    raw["policy"]["approval"] = {"required": True, "approvers": ["alice", "bob"]}
    (configs / "demo.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("PIPELINES_CONFIGS_DIR", str(configs))
    dag = DagBag(dag_folder=str(ROOT / "dags" / "retrain.py")).get_dag("retrain_demo")
    chain = ["evaluate", "needs_approval", "approve", "promote", "record_refusal", "any_stage_failed"]
    for upstream, downstream in pairwise(chain):
        assert downstream in dag.get_task(upstream).downstream_task_ids
    approve = dag.get_task("approve")
    assert type(approve).__mro__[1].__name__ == "ApprovalOperator"
    assert (approve.defaults, approve.retries) == (["Reject"], 0)
    assert approve.response_timeout.total_seconds() == 24 * 3600
    assert approve.assigned_users == [{"id": "alice", "name": "alice"}, {"id": "bob", "name": "bob"}]
    assert dag.get_task("record_refusal").trigger_rule == "all_skipped"
    assert dag.get_task("promote").trigger_rule == "none_failed"  # runs when nobody was asked
    assert dag.get_task("needs_approval").ignore_downstream_trigger_rules is False
    # neither approve nor needs_approval (which skip their direct downstream tasks) may skip the last task
    assert dag.get_task("any_stage_failed").upstream_task_ids == {"model_card", "promote", "record_refusal"}
    assert "`alice`, `bob` may answer" in dag.doc_md and "clear `approve`" in dag.doc_md


def test_every_config_gets_a_manual_rollback_dag_with_a_version_param(dagbag):
    dag = dagbag.get_dag("rollback_demo")
    assert type(dag.timetable).__name__ == "NullTimetable"
    assert dag.task_ids == ["move_champion"]
    assert set(dag.params.keys()) == {"version", "reason", "readmit"}
    assert dag.params["version"] is None
    assert dag.default_args["retries"] == 0
