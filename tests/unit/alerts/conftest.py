"""Fixtures shared by the alert tests."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.webhook_server import SECRET_PATH, WebhookServer


@pytest.fixture
def slack_alerts() -> ModuleType:
    """The plugin module, imported as Airflow imports it (the plugins folder on sys.path, see tests/conftest.py)."""
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
