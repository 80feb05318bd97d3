"""The one choice of alert for a retrain run, shared by the CLI and the DAGs: each case it tells apart."""

from __future__ import annotations

import pytest

from pipelines.alerts.alert_choice import retrain_alert
from pipelines.alerts.event_messages import failure_alert, quality_alert, warnings_alert
from pipelines.quality.report import CheckResult, QualityReport

CRITICAL = CheckResult("expect_column_values_to_be_between", "age", "critical", "12 unexpected (3.00%)")
WARNING = CheckResult("expect_column_values_to_not_be_null", "nps", "warning", "15%")
DOCS = "file:///state/gx/docs/index.html"


@pytest.fixture(autouse=True)
def docs_as_local_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Data Docs links stay the ``file://`` path: no Airflow base URL, no served state folder."""
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    monkeypatch.delenv("PIPELINES_DOCS_BASE_URL", raising=False)


def report(success: bool, critical: list[CheckResult], warnings: list[CheckResult]) -> QualityReport:
    return QualityReport("demo", success, 80, critical, warnings, docs_path=DOCS)


def test_a_run_stopped_at_the_quality_gate_gets_the_gate_alert_with_its_data_docs():
    # given a failure whose quality report failed
    stopped = report(False, [CRITICAL], [WARNING])
    # when the alert is chosen
    message = retrain_alert(
        "demo", "2026-04-01", "r1", stopped, failed_stage="validate", error="x", top_n=5, run_url="https://a/b"
    )
    # then it is the quality gate alert, linking the run and the Data Docs
    assert message == quality_alert("demo", "2026-04-01", "r1", stopped, 5, "https://a/b", DOCS)
    assert message is not None and "Quality gate failed: demo 2026-04-01" in message.text


@pytest.mark.parametrize("quality", [None, report(True, [], [WARNING])], ids=["no-report", "passed-report"])
def test_any_other_failure_gets_the_failure_alert_with_stage_and_error(quality):
    message = retrain_alert(
        "demo", "2026-04-01", None, quality, failed_stage="train", error="boom", alert_on_warnings=True
    )
    assert message == failure_alert("demo", "2026-04-01", None, "train", "boom")
    assert message is not None and "Retraining failed: demo 2026-04-01 at train" in message.text


def test_a_run_that_went_on_with_warnings_gets_the_warnings_note_when_the_config_asks():
    passed = report(True, [], [WARNING])
    message = retrain_alert("demo", "2026-04-01", "r1", passed, alert_on_warnings=True, top_n=3)
    assert message == warnings_alert("demo", "2026-04-01", "r1", passed, 3)


@pytest.mark.parametrize(
    ("quality", "alert_on_warnings"),
    [
        (report(True, [], [WARNING]), False),
        (report(True, [], []), True),
        (None, True),
    ],
    ids=["warnings-not-asked-for", "no-warnings", "no-report"],
)
def test_a_run_without_failure_or_wanted_warnings_sends_nothing(quality, alert_on_warnings):
    assert retrain_alert("demo", "2026-04-01", "r1", quality, alert_on_warnings=alert_on_warnings) is None
