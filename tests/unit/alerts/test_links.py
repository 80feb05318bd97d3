"""Links in alerts under Airflow's configured base URL, and the README's default otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from pipelines.alerts.links import airflow_ui_url, required_actions_url, task_log_url
from pipelines.decision.verdict import Check, Decision


def test_links_use_the_configured_base_url_and_the_readme_default_otherwise():
    assert airflow_ui_url(None, None) == "http://localhost:8080"
    assert airflow_ui_url("", "9090") == "http://localhost:9090"
    assert airflow_ui_url("https://airflow.example.com/af/", "9090") == "https://airflow.example.com/af"
    root = "https://airflow.example.com/af"
    run = "manual__2026-04-01T00:00:00+00:00"
    assert task_log_url(root, "retrain_demo", run, "validate", -1, 2) == (
        f"{root}/dags/retrain_demo/runs/manual__2026-04-01T00%3A00%3A00%2B00%3A00/tasks/validate?try_number=2"
    )
    assert required_actions_url(root, "retrain_demo", "r1", "approve") == (
        f"{root}/dags/retrain_demo/runs/r1/tasks/approve/required_actions?map_index=-1"
    )


def test_the_failure_and_approval_notifiers_link_under_airflows_base_url(slack_connection, slack_alerts, monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/af/")
    ti = SimpleNamespace(dag_id="retrain_demo", run_id="r1", task_id="ingest", map_index=-1, try_number=3)
    context = {"ti": ti, "logical_date": datetime(2026, 4, 1, tzinfo=UTC), "exception": RuntimeError("boom")}
    slack_alerts.SlackAlertNotifier().notify(context)
    decision = Decision("demo", True, 2, None, [Check("floor", True, "roc_auc 0.8 >= 0.7")], {"roc_auc": 0.8})
    approver = SimpleNamespace(dag_id="retrain_demo", run_id="r1", task_id="approve", map_index=-1)
    approver.xcom_pull = lambda task_ids: decision.to_dict()
    slack_alerts.ApprovalRequestNotifier().notify({"ti": approver})
    failure, approval = slack_connection.texts()
    assert "<https://airflow.example.com/af/dags/retrain_demo/runs/r1/tasks/ingest?try_number=3|Airflow run>" in failure
    assert (
        "https://airflow.example.com/af/dags/retrain_demo/runs/r1/tasks/approve/required_actions?map_index=-1|"
        in approval
    )
    assert "localhost" not in failure + approval
