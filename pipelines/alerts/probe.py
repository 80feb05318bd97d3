"""``python -m pipelines alerts test``: a harmless message through each configured webhook, and what was found
in each place a webhook can be configured (endpoints masked, never the URL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from pipelines.alerts.mrkdwn import SlackMessage, context, escape, header, section
from pipelines.alerts.webhook import Delivery, SlackWebhook, WebhookError
from pipelines.alerts.webhook_settings import (
    WEBHOOK_ENV,
    AirflowUnavailable,
    ConnectionFields,
    ConnectionUnreadable,
    read_airflow_connection,
    slack_conn_id,
    webhook_from_connection,
    webhook_from_env,
)


@dataclass(frozen=True)
class SourceCheck:
    """What ``alerts test`` found in one place a webhook can be configured; never holds the URL."""

    source: str
    used_by: str
    configured: bool
    endpoint: str | None = None
    delivery: Delivery | None = None
    problem: str | None = None

    @property
    def failed(self) -> bool:
        """Configured, but unusable or not delivered."""
        return self.configured and not (self.delivery and self.delivery.delivered)

    def line(self) -> str:
        """One line for the terminal: the source, who uses it, and the outcome."""
        head = f"{self.source}, used by {self.used_by}"
        d = self.delivery
        if d is None:
            return f"{head}: " + ("ERROR: " if self.failed else "") + str(self.problem)
        answer = f"HTTP {d.status}" if d.status else ""
        outcome = f"delivered ({answer}" if d.delivered else f"NOT delivered ({answer}{': ' if answer else ''}{d.error}"
        return f"{head}: {self.endpoint}: {outcome}, {d.attempts} attempt(s), {d.seconds:.1f} s)"

    def to_dict(self) -> dict[str, Any]:
        """The check as JSON-ready data, with :attr:`failed`."""
        return {**asdict(self), "failed": self.failed}


def probe_message(model: str, sources: list[str]) -> SlackMessage:
    """A harmless message that proves a webhook reaches its channel."""
    title = f"Test alert for {model}: Slack alerts reach this channel"
    detail = f"Sent by `python -m pipelines alerts test` through {' and '.join(sources)}."
    return SlackMessage(
        escape(f"{title}\n{detail}"),
        [
            header(f":white_check_mark: {escape(title)}"),
            section(escape(detail)),
            context(f"model *{escape(model)}*"),
        ],
    )


def check_alerts(
    model: str,
    conn_id: str | None = None,
    read_connection: Callable[[str], ConnectionFields | None] | None = None,
) -> list[SourceCheck]:
    """Send a test message through each configured webhook, once per distinct one: ``SLACK_WEBHOOK_URL`` (the
    CLI's) and the Airflow connection (the DAGs', read by ``read_airflow_connection`` unless another reader is
    given). Says what each place holds (masked) and the outcome.
    """
    read = read_connection or read_airflow_connection
    found = [_env_source(), _connection_source(conn_id or slack_conn_id(), read)]
    sent: list[tuple[SlackWebhook, Delivery]] = []
    checks = []
    for check, hook in found:
        if hook is None:
            checks.append(check)
            continue
        delivery = next((d for h, d in sent if h.same_url(hook)), None)
        if delivery is None:
            names = [c.source for c, h in found if h is not None and h.same_url(hook)]
            delivery = hook.send(probe_message(model, names))
            sent.append((hook, delivery))
        checks.append(replace(check, delivery=delivery))
    return checks


def _env_source() -> tuple[SourceCheck, SlackWebhook | None]:
    source = f"environment variable {WEBHOOK_ENV}"
    try:
        hook = webhook_from_env()
    except WebhookError as exc:
        return SourceCheck(source, "the CLI", True, problem=str(exc)), None
    if hook is None:
        return SourceCheck(source, "the CLI", False, problem="not set: the CLI sends no alerts"), None
    return SourceCheck(source, "the CLI", True, hook.endpoint), hook


def _connection_source(
    conn_id: str, read_connection: Callable[[str], ConnectionFields | None]
) -> tuple[SourceCheck, SlackWebhook | None]:
    source = f"connection {conn_id}"
    try:
        conn = read_connection(conn_id)
    except AirflowUnavailable as exc:
        return SourceCheck(source, "the DAGs", False, problem=f"not checked: {exc}"), None
    except ConnectionUnreadable as exc:
        return SourceCheck(source, "the DAGs", True, problem=str(exc)), None
    if conn is None:
        return SourceCheck(source, "the DAGs", False, problem="not found: the DAGs send no alerts"), None
    try:
        hook = webhook_from_connection(conn)
    except WebhookError as exc:
        return SourceCheck(conn.label, "the DAGs", True, problem=str(exc)), None
    return SourceCheck(conn.label, "the DAGs", True, hook.endpoint), hook
