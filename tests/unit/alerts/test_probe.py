"""``python -m pipelines alerts test``: one probe per distinct webhook, and what each place holds (masked)."""

from __future__ import annotations

import json

from pipelines.alerts.probe import check_alerts
from pipelines.alerts.webhook_settings import ConnectionFields
from pipelines.cli import main
from tests.unit.alerts.conftest import provider_form
from tests.webhook_server import SECRET_PATH


def test_alerts_test_uses_the_providers_connection_and_says_what_it_used(slack, monkeypatch, capsys):
    # given only the Slack provider's connection, as the Airflow form fills it (read through Airflow's own CLI)
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_DEFAULT", json.dumps(provider_form(slack, False)))
    # when the test verb runs
    code = main(["alerts", "test", "--model", "demo"])
    out, err = capsys.readouterr()
    # then one message went out, and the output names the connection and its type, with the path masked
    assert code == 0, out + err
    assert len(slack.messages) == 1 and "Test alert for demo" in slack.messages[0]["text"]
    port = slack.url.split(":")[2].split("/")[0]
    assert (
        f"connection slack_default (type slackwebhook), used by the DAGs: http://127.0.0.1:{port}/***: delivered (HTTP 200"
        in out
    )
    assert "environment variable SLACK_WEBHOOK_URL, used by the CLI: not set" in out
    assert "s3cr3t" not in out + err and "T0TEST" not in out + err


def test_alerts_test_sends_once_when_env_and_connection_are_the_same_webhook(slack_connection, capsys):
    assert main(["alerts", "test", "--model", "demo", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["source"] for s in report["sources"]] == [
        "environment variable SLACK_WEBHOOK_URL",
        "connection slack_default (type http)",
    ]
    assert all(s["delivery"]["delivered"] for s in report["sources"])
    assert len(slack_connection.messages) == 1
    assert "s3cr3t" not in json.dumps(report)


def test_alerts_test_fails_when_nothing_is_configured_or_nothing_arrives(monkeypatch, capsys):
    monkeypatch.setattr("pipelines.alerts.probe.read_airflow_connection", lambda conn_id: None)
    assert main(["alerts", "test"]) == 1
    out, err = capsys.readouterr()
    assert "connection slack_default, used by the DAGs: not found" in out
    assert "error: no Slack webhook configured" in err

    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"http://127.0.0.1:9{SECRET_PATH}")
    monkeypatch.setenv("PIPELINES_SLACK_DEADLINE_SECONDS", "1")
    assert main(["alerts", "test"]) == 1
    out, err = capsys.readouterr()
    assert "used by the CLI: http://127.0.0.1:9/***: NOT delivered (ConnectionError" in out
    assert "s3cr3t" not in out + err


def test_alerts_test_reports_an_unusable_connection_as_an_error():
    unusable = ConnectionFields("slack_default", "slackwebhook", "hooks.slack.com/services")
    checks = check_alerts("demo", read_connection=lambda conn_id: unusable)
    assert [c.failed for c in checks] == [False, True]
    assert checks[1].line().startswith("connection slack_default (type slackwebhook), used by the DAGs: ERROR: ")
