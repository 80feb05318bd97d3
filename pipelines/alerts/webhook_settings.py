"""Where a Slack webhook is configured: ``SLACK_WEBHOOK_URL`` for the CLI, an Airflow connection for the DAGs
(its fields read as the Slack provider reads them; read here through Airflow's CLI in a subprocess, so the
library never imports Airflow).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.alerts.mrkdwn import clip
from pipelines.alerts.webhook import DEFAULT_DEADLINE, SlackWebhook, WebhookError
from pipelines.config import settings
from pipelines.errors import PipelinesError


class ConnectionUnreadable(PipelinesError, LookupError):
    """Airflow failed to answer when asked for a connection."""


class AirflowUnavailable(PipelinesError, LookupError):
    """Airflow is not installed here, so its connections cannot be read."""


log = logging.getLogger(__name__)

DEADLINE_ENV = "PIPELINES_SLACK_DEADLINE_SECONDS"
WEBHOOK_ENV = "SLACK_WEBHOOK_URL"
CONN_ID_ENV = "PIPELINES_SLACK_CONN_ID"
DEFAULT_CONN_ID = "slack_default"
DEFAULT_ENDPOINT = "hooks.slack.com/services"  # the Slack provider's default host for a bare token


def deadline_from_env() -> float:
    """The delivery deadline: ``PIPELINES_SLACK_DEADLINE_SECONDS``, else 30 s."""
    return _seconds(os.environ.get(DEADLINE_ENV), DEADLINE_ENV)


def _seconds(value: object, what: str) -> float:
    if value in (None, ""):
        return DEFAULT_DEADLINE
    try:
        seconds = float(str(value))
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        log.warning("%s=%r is not a positive number of seconds; using %g s", what, value, DEFAULT_DEADLINE)
        return DEFAULT_DEADLINE
    return seconds


def webhook_from_env() -> SlackWebhook | None:
    """The CLI's webhook: ``SLACK_WEBHOOK_URL``, or None when alerts are off."""
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    return SlackWebhook(url, deadline=deadline_from_env()) if url else None


def slack_conn_id() -> str:
    """The Airflow connection the DAGs post through: ``PIPELINES_SLACK_CONN_ID``, else ``slack_default``."""
    return os.environ.get(CONN_ID_ENV, "").strip() or DEFAULT_CONN_ID


@dataclass(frozen=True)
class ConnectionFields:
    """The parts of an Airflow connection that can hold a Slack webhook (read without importing Airflow)."""

    conn_id: str
    conn_type: str = ""
    host: str = ""
    schema: str = ""
    password: str = ""
    port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, conn_id: str, data: dict[str, Any]) -> ConnectionFields:
        """From a connection's attributes, or a row of ``airflow connections get -o json``; a connection whose
        extra is not JSON or whose port is not a number is ``ConnectionUnreadable``.
        """
        extra = data.get("extra_dejson", data.get("extra")) or {}
        port = data.get("port")
        try:
            if isinstance(extra, str):
                extra = json.loads(extra) if extra.strip() else {}
            port = int(port) if port not in (None, "") else None
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise ConnectionUnreadable(f"connection {conn_id}: {exc}") from None
        if not isinstance(extra, dict):
            raise ConnectionUnreadable(f"connection {conn_id}: its extra is not a JSON object")

        def text(key: str) -> str:
            return str(data.get(key) or "").strip()

        return cls(
            conn_id,
            text("conn_type"),
            text("host"),
            text("schema"),
            text("password"),
            port,
            extra,
        )

    @property
    def label(self) -> str:
        """The connection's id and type, for messages (never its secret)."""
        return f"connection {self.conn_id} (type {self.conn_type or 'unset'})"


def webhook_url(conn: ConnectionFields) -> str:
    """The webhook URL a connection holds, read as the Slack provider's ``SlackWebhookHook`` reads its
    "Slack Incoming Webhook" connection, and as the README's HTTP recipe.

    - ``extra.webhook_url``, or a password that is a whole URL: that URL;
    - otherwise the password is the token or path (``T.../B.../...``) under the host: ``host`` with its
      scheme, or ``schema`` (default ``https``, ``http`` for an ``http`` connection) + ``host`` (default
      ``hooks.slack.com/services``) + ``port``;
    - a connection written as a URI (``https://hooks.slack.com/services/T/B/X``) has its path in ``schema``.

    Raises ``WebhookError``, saying which field to fill, when there is no webhook in it.
    """
    explicit = str(conn.extra.get("webhook_url") or "").strip()
    if explicit:
        return explicit
    token, schema, host = conn.password, conn.schema, conn.host
    if "://" in token:
        return token
    if not token and "/" in schema:
        token, schema = schema, ""
    if not token:
        raise WebhookError(
            f"{conn.label} holds no webhook: put the webhook URL, or its token T.../B.../... "
            f"under the host, in the password field (Webhook Token)"
        )
    if "://" not in host:
        scheme = schema or (conn.conn_type if conn.conn_type in ("http", "https") else "https")
        name, slash, path = (host or DEFAULT_ENDPOINT).partition("/")
        if conn.port and ":" not in name:
            name = f"{name}:{conn.port}"
        host = f"{scheme}://{name}{slash}{path}"
    return f"{host.rstrip('/')}/{token.lstrip('/')}".rstrip("/")


def webhook_from_connection(conn: ConnectionFields) -> SlackWebhook:
    """The webhook of a connection, with its ``timeout`` extra (the form's "Timeout") as the delivery deadline
    and its ``proxy`` extra; raises ``WebhookError`` when the connection holds no usable webhook.
    """
    url = webhook_url(conn)
    try:
        deadline = _seconds(conn.extra.get("timeout") or os.environ.get(DEADLINE_ENV), f"{conn.conn_id} timeout")
        return SlackWebhook(url, deadline=deadline, proxy=str(conn.extra.get("proxy") or "") or None)
    except ValueError as exc:
        raise WebhookError(f"{conn.label}: {exc}") from None


def read_airflow_connection(conn_id: str, timeout: float = 60.0) -> ConnectionFields | None:
    """The connection as Airflow's own CLI reads it (env var, secrets backend or metadata DB), or None when it
    does not exist. A subprocess, so the library never imports Airflow; ``AIRFLOW_HOME`` defaults to the state
    folder's ``airflow/`` as in the Makefile. Raises AirflowUnavailable without Airflow, ConnectionUnreadable when
    Airflow fails to answer.
    """
    beside = Path(sys.executable).with_name("airflow")
    command = str(beside) if beside.exists() else shutil.which("airflow")
    if command is None:
        raise AirflowUnavailable("Airflow is not installed here")
    env = {**os.environ, "AIRFLOW_HOME": os.environ.get("AIRFLOW_HOME") or str(settings.home() / "airflow")}
    try:
        done = subprocess.run(
            [command, "connections", "get", conn_id, "-o", "json"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConnectionUnreadable(f"`airflow connections get` failed: {type(exc).__name__}") from None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines() or [f"exit code {done.returncode}"]
        if said[-1].strip() == "Connection not found.":
            return None
        raise ConnectionUnreadable(f"`airflow connections get` failed: {clip(said[-1].strip(), 200)}")
    rows = next((line for line in reversed(done.stdout.splitlines()) if line.startswith("[")), "[]")
    try:
        found = json.loads(rows)
    except json.JSONDecodeError:
        raise ConnectionUnreadable(f"`airflow connections get` printed no connection: {clip(rows, 200)}") from None
    return ConnectionFields.from_mapping(conn_id, found[0]) if found else None
