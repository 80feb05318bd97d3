"""Slack delivery against real HTTP servers on 127.0.0.1: limits, retries, a total deadline, escaping, the
connection shapes Airflow offers, links under the configured base URL, and a secret URL."""

from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace

import pytest

from pipelines.alerts.slack import (
    HEADER_LIMIT,
    TEXT_LIMIT,
    ConnectionFields,
    SlackMessage,
    SlackWebhook,
    airflow_ui_url,
    approval_alert,
    check_alerts,
    drift_alert,
    failure_alert,
    quality_alert,
    required_actions_url,
    retry_after_seconds,
    rollback_alert,
    task_log_url,
    warnings_alert,
    webhook_url,
)
from pipelines.cli import main
from pipelines.decision.evaluate import Check, Decision
from pipelines.decision.promote import PromotionResult
from pipelines.quality.gate import CheckResult, QualityReport
from tests.conftest import ROOT
from tests.webhook_server import SECRET_PATH, DripServer, WebhookServer

MESSAGE = SlackMessage("hello", [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}])


def failed_report(n: int, observed: str = "12 unexpected (3.00%)") -> QualityReport:
    checks = [CheckResult("expect_column_values_to_be_between", f"col_{i}", "critical", observed) for i in range(n)]
    return QualityReport("demo", False, 80, checks, [])


class Sleeps(list):
    """A fake ``sleep`` that records each wait, and a ``clock`` that moves on by what was slept."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    def clock(self) -> float:
        return time.monotonic() + sum(self)


def test_quality_alert_lists_top_n_with_observed_values_and_counts_the_rest():
    message = quality_alert("demo", "2026-04-01", "manual__1", failed_report(14), top_n=10, docs_url="file:///d.html")
    payload = message.payload()
    text = json.dumps(payload)
    assert "`expect_column_values_to_be_between` on `col_0`: 12 unexpected (3.00%)" in payload["text"]
    assert "col_9" in text and "col_10" not in text
    assert "…and 4 more" in payload["text"]
    assert "<file:///d.html|Data Docs>" in text and "manual__1" in text and "2026-04-01" in text


def test_every_block_honours_slacks_length_limits():
    report = failed_report(40, observed="x" * 5000)
    payload = quality_alert("m" * 300, "2026-04-01", "r", report, top_n=40).payload()
    assert len(payload["blocks"]) <= 50
    for block in payload["blocks"]:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= HEADER_LIMIT
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= TEXT_LIMIT
    assert len(payload["text"]) <= 4000
    failure = failure_alert("demo", "2026-04-01", "r", "train", "boom\n" * 5000).payload()
    assert all(len(b["text"]["text"]) <= TEXT_LIMIT for b in failure["blocks"] if b["type"] == "section")


def test_warnings_alert_is_a_single_quiet_section():
    report = QualityReport(
        "demo", True, 80, [], [CheckResult("expect_column_values_to_not_be_null", "nps", "warning", "15%")]
    )
    payload = warnings_alert("demo", "2026-04-01", "r", report).payload()
    assert [b["type"] for b in payload["blocks"]] == ["section", "context"]
    assert "1 quality warning(s), run continues" in payload["text"]


def test_delivers_once_on_success(slack):
    delivery = SlackWebhook(slack.url).send(MESSAGE)
    assert delivery.delivered and delivery.attempts == 1
    assert slack.messages == [MESSAGE.payload()]


def test_429_waits_for_retry_after_then_delivers(slack):
    slack.replies.append((429, {"Retry-After": "7"}, "rate_limited", 0.0))
    sleeps = Sleeps()
    delivery = SlackWebhook(slack.url, sleep=sleeps).send(MESSAGE)
    assert delivery.delivered and delivery.attempts == 2
    assert sleeps == [7.0]
    assert len(slack.messages) == 1


def test_5xx_backs_off_exponentially_then_gives_up_without_raising(slack):
    for _ in range(4):
        slack.replies.append((503, {}, "unavailable", 0.0))
    sleeps = Sleeps()
    delivery = SlackWebhook(slack.url, max_attempts=4, backoff=0.5, sleep=sleeps).send(MESSAGE)
    assert not delivery.delivered and delivery.attempts == 4 and delivery.status == 503
    assert sleeps == [0.5, 1.0, 2.0]
    assert slack.messages == []


def test_a_4xx_answer_is_not_retried(slack):
    slack.replies.append((400, {}, "invalid_blocks", 0.0))
    sleeps = Sleeps()
    delivery = SlackWebhook(slack.url, sleep=sleeps).send(MESSAGE)
    assert not delivery.delivered and delivery.attempts == 1 and delivery.error == "invalid_blocks"
    assert sleeps == []


def test_a_timeout_is_reported_not_raised_and_hides_the_url(slack):
    slack.replies.append((200, {}, "ok", 2.0))
    delivery = SlackWebhook(slack.url, timeout=0.3, max_attempts=1).send(MESSAGE)
    assert not delivery.delivered
    assert delivery.error is not None and "Timeout" in delivery.error
    assert SECRET_PATH not in (delivery.error or "")


def test_an_unreachable_server_is_reported_not_raised():
    delivery = SlackWebhook(f"http://127.0.0.1:9{SECRET_PATH}", max_attempts=2, sleep=Sleeps()).send(MESSAGE)
    assert not delivery.delivered and delivery.attempts == 2 and delivery.error == "ConnectionError"


def test_the_webhook_url_never_reaches_logs_or_repr(slack, caplog):
    caplog.set_level(logging.DEBUG)
    slack.replies.append((500, {}, "oops", 0.0))
    webhook = SlackWebhook(slack.url, sleep=Sleeps())
    webhook.send(MESSAGE)
    SlackWebhook(f"http://127.0.0.1:9{SECRET_PATH}", max_attempts=1).send(MESSAGE)
    assert "s3cr3t" not in caplog.text and "s3cr3t" not in repr(webhook)
    assert "Slack alert delivered" in caplog.text


def test_a_webhook_url_that_is_not_http_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="must start with https://"):
        SlackWebhook("hooks.slack.com/services/x")


# A total deadline per delivery


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_server_that_drips_bytes_is_cut_off_at_the_delivery_deadline(phase):
    # given a server that sends one byte a second (each read well within the 10 s per-read timeout)
    with DripServer(phase=phase, interval=0.5) as server:
        webhook = SlackWebhook(server.url, timeout=10.0, deadline=3.0)
        started = time.monotonic()
        # when an alert is sent with a 3 s deadline
        delivery = webhook.send(MESSAGE)
        took = time.monotonic() - started
    # then it ends, undelivered, within the deadline, without raising or showing the URL
    assert not delivery.delivered and server.requests == 1
    assert 2.9 <= took < 3.8, took
    assert delivery.error is not None and "deadline of 3 s exceeded" in delivery.error
    assert "s3cr3t" not in delivery.error


def test_retries_stop_when_the_next_wait_would_pass_the_deadline(slack):
    for _ in range(4):
        slack.replies.append((503, {}, "unavailable", 0.0))
    sleeps = Sleeps()
    delivery = SlackWebhook(slack.url, backoff=1.0, deadline=2.5, sleep=sleeps, clock=sleeps.clock).send(MESSAGE)
    assert not delivery.delivered and delivery.attempts == 2 and delivery.status == 503
    assert sleeps == [1.0]
    assert "no time left to retry within the 2.5 s deadline" in (delivery.error or "")


# Any Retry-After value


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


@pytest.mark.parametrize(
    ("header", "waits"),
    [
        ("7", [7.0]),
        ("nan", [0.5]),
        ("NaN", [0.5]),
        ("soon, please", [0.5]),
        ("", [0.5]),
        ("-5", [0.0]),
        ("-inf", [0.0]),
        pytest.param(http_date(-3600), [0.0], id="http-date-past"),
    ],
)
def test_a_readable_or_unreadable_retry_after_leads_to_a_wait_within_the_deadline(slack, header, waits):
    slack.replies.append((429, {"Retry-After": header}, "rate_limited", 0.0))
    sleeps = Sleeps()
    delivery = SlackWebhook(slack.url, backoff=0.5, sleep=sleeps, clock=sleeps.clock).send(MESSAGE)
    assert delivery.delivered and delivery.attempts == 2
    assert sleeps == waits


@pytest.mark.parametrize(
    "header",
    [
        "inf",
        "Infinity",
        "1e308",
        pytest.param("9" * 400, id="400-digits"),
        "31",
        pytest.param(http_date(3600), id="http-date-in-an-hour"),
    ],
)
def test_a_retry_after_beyond_the_deadline_gives_up_at_once_without_raising(slack, header):
    slack.replies.append((429, {"Retry-After": header}, "rate_limited", 0.0))
    sleeps = Sleeps()
    delivery = SlackWebhook(slack.url, deadline=30.0, sleep=sleeps, clock=sleeps.clock).send(MESSAGE)
    assert not delivery.delivered and delivery.attempts == 1 and delivery.status == 429
    assert sleeps == []
    assert "no time left to retry" in (delivery.error or "")


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 4, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Wed, 01 Apr 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Wed, 01 Apr 2026 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds(" 2.5 ", now) == 2.5
    assert retry_after_seconds("inf", now) == float("inf")
    for unreadable in (None, "nan", "", "Wed, 99 Foo 2026", "\x00", "1.2.3"):
        assert retry_after_seconds(unreadable, now) is None


# Data is never code

HOSTILE = ["<!channel>", "<http://x|click>", "<script>alert(1)</script>", "a & b > c"]


def links_in(text: str) -> list[str]:
    """Everything Slack would parse as a link, mention or command: each ``<...>``."""
    return re.findall(r"<([^<>]*)>", text)


def test_hostile_values_reach_slack_escaped_and_our_links_still_work(slack):
    # given a quality report whose observed values and column names are hostile
    checks = [CheckResult("expect_column_values_to_be_in_set", f"col{value}", "critical", value) for value in HOSTILE]
    report = QualityReport("demo", False, 80, checks, [])
    run_url = task_log_url("https://airflow.example.com/af", "retrain_demo", "manual__1", "validate", -1, 1)
    message = quality_alert("demo", "2026-04-01", "run<!here>", report, run_url=run_url, docs_url="file:///d&x.html")
    # when it is delivered to the webhook server
    assert SlackWebhook(slack.url).send(message).delivered
    received = slack.texts()[0]
    # then nothing from the data is a link or mention, every value shows escaped, and our two links work
    assert "<!channel>" not in received and "<!here>" not in received and "<script>" not in received
    assert "&lt;!channel&gt;" in received and "&lt;http://x|click&gt;" in received
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in received and "a &amp; b &gt; c" in received
    parsed = [found for text in _texts(slack.messages[0]) for found in links_in(text)]
    assert set(parsed) == {f"{run_url}|Airflow run", "file:///d&amp;x.html|Data Docs"}


def _texts(payload: dict) -> list[str]:
    """Every text field Slack renders in a payload."""
    texts = [payload["text"]]
    for block in payload["blocks"]:
        texts += [block["text"]["text"]] if "text" in block else [e["text"] for e in block.get("elements", [])]
    return texts


def test_every_message_escapes_values_from_data_config_and_exceptions():
    bad = "<!channel> & <http://x|click>"
    report = QualityReport(bad, False, 1, [], [CheckResult(bad, bad, "warning", bad)])
    decision = Decision(bad, True, 2, 1, [Check(bad, True, bad)], {bad: 0.9}, {bad: 0.8}, holdout_rows=3)
    result = PromotionResult(bad, "rolled_back", 1, 1, 2, [bad])
    drift = {"statistics": {bad: {"psi": 0.3}}, "window_start": bad, "confirmation": bad, "prediction_psi": 0.2}
    messages = [
        quality_alert(bad, bad, bad, QualityReport(bad, False, 1, report.warnings, []), run_url="https://a/b"),
        warnings_alert(bad, bad, bad, report),
        failure_alert(bad, bad, bad, bad, f"ValueError: {bad}\n{bad}", run_url="https://a/b"),
        drift_alert(bad, bad, drift, run_url="https://a/b"),
        rollback_alert(bad, result, bad, run_url="https://a/b"),
        approval_alert(decision, "https://a/b?x=1&y=<2>"),
        approval_alert(decision, "https://a/b", f"Answer by 2026-12-01 02:00 UTC; then {bad}"),
    ]
    for message in messages:
        payload = message.payload()
        assert "<!channel>" not in json.dumps(payload)
        for text in _texts(payload):
            assert all(found.startswith("https://a/b") for found in links_in(text)), text
    assert "<https://a/b?x=1&amp;y=&lt;2&gt;|Approve or reject in Airflow>" in json.dumps(messages[-2].payload())
    # the request as Airflow shows it (deadline, default, links) reaches Slack whole, escaped
    assert "Answer by 2026-12-01 02:00 UTC; then &lt;!channel&gt;" in json.dumps(messages[-1].payload())


# The connection shapes Airflow offers


def fields(**values: object) -> ConnectionFields:
    return ConnectionFields.from_mapping("slack_default", values)


@pytest.mark.parametrize(
    ("values", "url"),
    [
        # the provider's "Slack Incoming Webhook" form: host without scheme, schema, the token as the password
        (
            {"conn_type": "slackwebhook", "host": "hooks.slack.com/services", "password": "T0/B0/xyz"},
            "https://hooks.slack.com/services/T0/B0/xyz",
        ),
        ({"conn_type": "slackwebhook", "password": "T0/B0/xyz"}, "https://hooks.slack.com/services/T0/B0/xyz"),
        (
            {"conn_type": "slackwebhook", "host": "127.0.0.1:8", "schema": "http", "password": "/services/x/"},
            "http://127.0.0.1:8/services/x",
        ),
        (
            {"conn_type": "slackwebhook", "host": "https://h.example/services/", "schema": "http", "password": "x"},
            "https://h.example/services/x",
        ),
        ({"conn_type": "slackwebhook", "host": "ignored", "password": "https://h/services/x"}, "https://h/services/x"),
        # the README's HTTP recipe, and its form variant
        (
            {"conn_type": "http", "password": "https://hooks.slack.com/services/T/B/X"},
            "https://hooks.slack.com/services/T/B/X",
        ),
        (
            {"conn_type": "http", "host": "127.0.0.1", "port": 8, "password": "services/x"},
            "http://127.0.0.1:8/services/x",
        ),
        # a connection written as a URI puts the path in schema
        (
            {"conn_type": "https", "host": "hooks.slack.com", "schema": "services/T/B/X"},
            "https://hooks.slack.com/services/T/B/X",
        ),
        # our own extra
        ({"conn_type": "generic", "extra": '{"webhook_url": "https://h/x"}'}, "https://h/x"),
    ],
)
def test_a_connection_is_read_as_the_slack_provider_reads_it(values, url):
    assert webhook_url(fields(**values)) == url


def test_a_connection_without_a_webhook_says_which_field_to_fill():
    with pytest.raises(ValueError, match="slack_default .type slackwebhook. holds no webhook: .* password field"):
        webhook_url(fields(conn_type="slackwebhook", host="hooks.slack.com/services", schema="https"))


@pytest.fixture
def slack_alerts(monkeypatch):  # noqa: ANN201
    """The plugin module, imported as Airflow imports it (the plugins folder on sys.path)."""
    monkeypatch.syspath_prepend(str(ROOT / "plugins"))
    import slack_alerts

    return slack_alerts


def provider_form(server: WebhookServer, with_scheme: bool) -> dict[str, object]:
    """What the "Slack Incoming Webhook" form stores, pointed at the test server."""
    host = server.url.removesuffix(SECRET_PATH).removeprefix("http://")
    if with_scheme:
        return {
            "conn_type": "slackwebhook",
            "host": f"http://{host}/services",
            "password": SECRET_PATH.removeprefix("/services/"),
            "extra": {"timeout": 5},
        }
    return {"conn_type": "slackwebhook", "host": host, "schema": "http", "password": SECRET_PATH}


@pytest.mark.parametrize("with_scheme", [False, True])
def test_dags_post_through_the_providers_slack_webhook_connection(slack, slack_alerts, monkeypatch, with_scheme):
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_DEFAULT", json.dumps(provider_form(slack, with_scheme)))
    delivery = slack_alerts.post(MESSAGE)
    assert delivery is not None and delivery.delivered
    assert slack.messages == [MESSAGE.payload()]


def test_dags_post_through_the_readme_http_connection_or_a_configured_id(slack_connection, slack_alerts, monkeypatch):
    assert slack_alerts.post(MESSAGE).delivered
    monkeypatch.setenv("PIPELINES_SLACK_CONN_ID", "team_slack")
    monkeypatch.setenv("AIRFLOW_CONN_TEAM_SLACK", json.dumps(provider_form(slack_connection, False)))
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_DEFAULT")
    assert slack_alerts.post(MESSAGE).delivered
    assert len(slack_connection.messages) == 2


def test_an_unusable_connection_is_logged_loudly_without_the_secret(slack_alerts, monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_DEFAULT", json.dumps({"conn_type": "slackwebhook", "host": "h/s3cr3t"}))
    assert slack_alerts.post(MESSAGE) is None
    assert "Slack alert NOT sent" in caplog.text and "python -m pipelines alerts test" in caplog.text
    assert "s3cr3t" not in caplog.text


# python -m pipelines alerts test


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
    monkeypatch.setattr("pipelines.alerts.slack.read_airflow_connection", lambda conn_id: None)
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


# Links under the configured base URL


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
