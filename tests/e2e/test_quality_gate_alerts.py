"""Bad input stops at the quality gate through the real DAG: one Slack message naming the broken check, no
model version registered, the champion untouched, and the webhook URL nowhere.

Two representative scenarios run through the DAG (a missing column, found by the suite; a unit change on
the last day only, found by the per-day checks); ``tests/unit/quality/test_gate.py`` runs every scenario of the
catalogue through the gate itself.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.config.loading import load_model
from pipelines.demo.seed import seed
from pipelines.jobs.retrain import retrain
from pipelines.registry import versions as registry
from tests.e2e.helpers import run_dag, run_once
from tests.webhook_server import SECRET_PATH

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

RUN_DATE = date(2026, 4, 1)
# scenario -> (check, column) the alert must name
THROUGH_THE_DAG = {
    "renamed-column": ("expect_column_to_exist", "monthly_charges"),
    "unit-change-last-day": ("newest mean", "avg_session_minutes"),
}


@pytest.fixture(scope="module")
def champion_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow store whose champion v1 was trained on clean data before RUN_DATE (built once)."""
    template = tmp_path_factory.mktemp("champion")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIPELINES_HOME", str(template))
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{template / 'mlflow.db'}")
        url = f"sqlite:///{template / 'source.db'}"
        seed(url, date(2026, 1, 1), days=90, rows_per_day=150, seed=3)
        outcome = retrain(load_model("demo"), RUN_DATE - timedelta(days=7), url)
        assert outcome.status == "promoted", outcome
    return template


@pytest.fixture
def broken_source(home: Path, champion_store: Path, monkeypatch: pytest.MonkeyPatch, slack_connection):
    """This test's own copy of the champion's registry, and a source to write clean or broken by a scenario."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(champion_store / "mlflow.db", home / "mlflow.db")
    url = f"sqlite:///{home / 'source.db'}"
    monkeypatch.setenv("PIPELINES_SOURCE_URL", url)

    def write(scenario: str | None) -> str:
        seed(url, date(2026, 1, 1), days=90, rows_per_day=150, seed=3, scenario=scenario)
        return url

    return write


def assert_url_nowhere(*texts: str) -> None:
    for text in texts:
        assert SECRET_PATH not in text and "s3cr3t" not in text


def assert_registry_untouched() -> None:
    assert [v.version for v in registry.all_versions("demo")] == [1]
    champion = registry.by_alias("demo", registry.CHAMPION)
    assert champion is not None and champion.version == 1


@pytest.mark.parametrize("scenario", sorted(THROUGH_THE_DAG))
def test_each_scenario_stops_at_the_gate_with_one_alert(scenario, dagbag, broken_source, slack, capfd, caplog):
    broken_source(scenario)

    state, tasks = run_dag(dagbag.get_dag("retrain_demo"), RUN_DATE)

    assert state == "failed"
    assert tasks["ingest"] == "success"
    assert tasks["validate"] == "failed"
    assert tasks["train"] == tasks["evaluate"] == tasks["promote"] == "upstream_failed"
    assert len(slack.messages) == 1, slack.messages
    text = slack.messages[0]["text"]
    expectation, column = THROUGH_THE_DAG[scenario]
    assert f"`{expectation}` on `{column}`" in text
    if not expectation.startswith("expect_"):  # a per-day check: the day, the value and the bound it missed
        assert " on 2026-03-31 (allowed " in text
    assert "Quality gate failed: demo 2026-04-01" in text
    assert "Data Docs" in json.dumps(slack.messages[0]["blocks"])
    assert_registry_untouched()
    captured = capfd.readouterr()
    assert_url_nowhere(captured.out, captured.err, caplog.text)


def test_a_missing_table_fails_ingest_at_once_with_one_clear_alert(
    dagbag, broken_source, home, slack, capfd, caplog, monkeypatch
):
    (home / "empty.db").touch()
    monkeypatch.setenv("PIPELINES_SOURCE_URL", f"sqlite:///{home / 'empty.db'}")

    state, tasks = run_dag(dagbag.get_dag("retrain_demo"), RUN_DATE)

    assert state == "failed" and tasks["ingest"] == "failed"
    assert len(slack.messages) == 1
    text = slack.messages[0]["text"]
    assert "Retraining failed: demo 2026-04-01 at ingest" in text
    assert "no such table: customer_events" in text
    assert "Traceback" not in text
    assert_registry_untouched()
    captured = capfd.readouterr()
    assert_url_nowhere(captured.out, captured.err, caplog.text)


def test_a_source_that_stays_down_alerts_once_after_the_last_retry(dagbag, broken_source, slack, monkeypatch):
    monkeypatch.setenv("PIPELINES_SOURCE_URL", "postgresql+psycopg2://postgres@127.0.0.1:9/nowhere")
    dag = dagbag.get_dag("retrain_demo")
    for task in dag.tasks:
        monkeypatch.setattr(task, "retries", 1)
        monkeypatch.setattr(task, "retry_delay", timedelta(seconds=0))

    run = run_once(dag, RUN_DATE)

    ingest = next(ti for ti in run.get_task_instances() if ti.task_id == "ingest")
    assert str(run.state) == "failed" and str(ingest.state) == "failed"
    assert ingest.try_number == 2, "the task was retried once before failing for good"
    assert slack.attempts == 1 and len(slack.messages) == 1
    assert "at ingest" in slack.messages[0]["text"] and "Connection refused" in slack.messages[0]["text"]
    assert_registry_untouched()


def test_cli_retrain_on_corrupted_data_names_each_check_and_alerts_once(broken_source, slack, capsys):
    broken_source("null-spike")

    code = main(["retrain", "--model", "demo", "--as-of", RUN_DATE.isoformat()])

    out, err = capsys.readouterr()
    assert code == 1
    assert "error: validate failed: quality gate failed" in err
    assert "expect_column_values_to_not_be_null on monthly_charges: observed 1050 unexpected" in out + err
    assert len(slack.messages) == 1
    assert "`expect_column_values_to_not_be_null` on `monthly_charges`" in slack.messages[0]["text"]
    assert main(["status", "--model", "demo", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["champion"]["version"] == 1 and status["challenger"]["version"] == 1
    assert_url_nowhere(out, err)


def test_warnings_are_posted_quietly_only_when_the_config_asks(broken_source, slack, tmp_path, monkeypatch, capsys):
    from tests.conftest import ROOT

    configs, suites = tmp_path / "configs", tmp_path / "expectations"
    configs.mkdir()
    suites.mkdir()
    suite = json.loads((ROOT / "expectations" / "demo.json").read_text())
    suite["expectations"].append(
        {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "nps_score", "mostly": 0.99},
            "meta": {"severity": "warning"},
        }
    )
    (suites / "demo.json").write_text(json.dumps(suite))
    config = (ROOT / "configs" / "demo.yaml").read_text()
    monkeypatch.setenv("PIPELINES_CONFIGS_DIR", str(configs))
    monkeypatch.setenv("PIPELINES_EXPECTATIONS_DIR", str(suites))
    broken_source(None)

    (configs / "demo.yaml").write_text(config)
    assert main(["retrain", "--as-of", RUN_DATE.isoformat(), "--dry-run"]) == 0
    assert slack.messages == [], "warnings stay quiet unless the config asks"

    (configs / "demo.yaml").write_text(config.replace("alert_on_warnings: false", "alert_on_warnings: true"))
    assert main(["retrain", "--as-of", RUN_DATE.isoformat(), "--dry-run"]) == 0
    assert len(slack.messages) == 1
    message = slack.messages[0]
    assert "1 quality warning(s), run continues" in message["text"]
    assert "`expect_column_values_to_not_be_null` on `nps_score`" in message["text"]
    assert [b["type"] for b in message["blocks"]] == ["section", "context"]
    capsys.readouterr()
