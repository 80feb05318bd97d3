"""Where a webhook is configured: the connection shapes Airflow offers, read as the Slack provider reads them,
and the DAGs posting through them."""

from __future__ import annotations

import json

import pytest

from pipelines.alerts.mrkdwn import SlackMessage
from pipelines.alerts.webhook_settings import ConnectionFields, ConnectionUnreadable, webhook_url
from tests.unit.alerts.conftest import provider_form

MESSAGE = SlackMessage("hello", [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}])


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
    with pytest.raises(ValueError, match=r"slack_default .type slackwebhook. holds no webhook: .* password field"):
        webhook_url(fields(conn_type="slackwebhook", host="hooks.slack.com/services", schema="https"))


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({"extra": "{timeout: 5"}, "Expecting property name"),
        ({"extra": "[1, 2]"}, "not a JSON object"),
        ({"port": "eighty"}, "invalid literal for int()"),
    ],
    ids=["extra-not-json", "extra-not-an-object", "port-not-a-number"],
)
def test_a_connection_that_cannot_be_read_is_one_named_error(values: dict[str, object], said: str) -> None:
    with pytest.raises(ConnectionUnreadable, match="connection slack_default: ") as info:
        fields(conn_type="http", host="https://hooks.slack.com/services/T/B/X", **values)
    assert said in str(info.value)


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
