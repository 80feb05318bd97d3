"""Slack alerts for every DAG of the project, attached as the tasks' failure callback.

The webhook comes from the Airflow connection ``slack_default`` (or ``PIPELINES_SLACK_CONN_ID``), filled in
either as the Slack provider's "Slack Incoming Webhook" form does (host, schema, token as the password) or as
the README's HTTP recipe (the whole URL as the password); ``pipelines.alerts.webhook_settings.webhook_url``
reads both. The URL is never logged. Links point at Airflow's ``[api] base_url``
(``http://localhost:<[api] port>`` when unset). A task's failure callback runs once, after its last retry,
so a failed run sends one alert.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier
from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from pipelines.alerts.mrkdwn import SlackMessage
    from pipelines.alerts.webhook import Delivery, SlackWebhook
    from pipelines.alerts.webhook_settings import ConnectionFields
    from pipelines.quality.report import QualityReport

log = logging.getLogger(__name__)


class QualityGateStop(AirflowFailException):
    """Fails the validate task at once (no retries: the data will not change) and carries the report."""

    def __init__(self, report: QualityReport) -> None:
        from pipelines.quality.report import QualityGateFailed

        super().__init__(str(QualityGateFailed(report)))
        self.report = report


class BadInputStop(AirflowFailException):
    """Fails a task at once for a problem retries cannot fix (a missing table or column)."""


def connection_fields(conn_id: str) -> ConnectionFields | None:
    """The Airflow connection ``conn_id`` as the fields a webhook can live in; None when it is not defined."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    from pipelines.alerts.webhook_settings import ConnectionFields

    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
    fields = {"conn_type": conn.conn_type, "host": conn.host, "schema": conn.schema, "password": conn.password}
    return ConnectionFields.from_mapping(conn_id, {**fields, "port": conn.port, "extra": conn.extra_dejson})


def slack_webhook(conn_id: str | None = None) -> SlackWebhook | None:
    """The webhook of the connection, or None (alerts off) when it is not defined; ``WebhookError`` when it
    is defined but holds no usable webhook, ``ConnectionUnreadable`` when it cannot be read.
    """
    from pipelines.alerts.webhook_settings import slack_conn_id, webhook_from_connection

    fields = connection_fields(conn_id or slack_conn_id())
    return webhook_from_connection(fields) if fields is not None else None


def post(message: SlackMessage) -> Delivery | None:
    """Send through the Slack connection; a missing or unusable connection is logged, never raised."""
    from pipelines.alerts.webhook import WebhookError
    from pipelines.alerts.webhook_settings import ConnectionUnreadable, slack_conn_id

    conn_id = slack_conn_id()
    try:
        webhook = slack_webhook(conn_id)
    except (WebhookError, ConnectionUnreadable) as exc:
        log.error("Slack alert NOT sent: %s. Check it with: python -m pipelines alerts test", exc)
        return None
    if webhook is None:
        log.warning("no Airflow connection %s: the Slack alert was not sent (see README, Slack)", conn_id)
        return None
    return webhook.send(message)


def airflow_url() -> str:
    """Airflow's UI root for links: ``[api] base_url``, else ``http://localhost:<[api] port>``."""
    from airflow.sdk import conf

    from pipelines.alerts.links import airflow_ui_url

    return airflow_ui_url(conf.get("api", "base_url", fallback=None), conf.get("api", "port", fallback=None))


def log_link(ti: Any) -> str:
    """The task instance's log page under the configured base URL."""
    from pipelines.alerts.links import task_log_url

    try_number = getattr(ti, "try_number", None) or 0
    return task_log_url(airflow_url(), ti.dag_id, ti.run_id, ti.task_id, _map_index(ti), try_number)


def approval_link(ti: Any) -> str:
    """Where the task instance's approval request is answered, under the configured base URL."""
    from pipelines.alerts.links import required_actions_url

    return required_actions_url(airflow_url(), ti.dag_id, ti.run_id, ti.task_id, _map_index(ti))


def _map_index(ti: Any) -> int:
    map_index = getattr(ti, "map_index", None)
    return -1 if map_index is None else int(map_index)


def model_of(dag_id: str) -> str:
    """The model a retrain DAG id is for: what follows the first underscore."""
    return dag_id.split("_", 1)[1] if "_" in dag_id else dag_id


class SlackAlertNotifier(BaseNotifier):
    """One Slack message for a task that failed for good: the failed checks for the quality gate,
    the stage and the error for anything else.
    """

    def __init__(self, top_n: int = 10) -> None:
        super().__init__()
        self.top_n = top_n

    def notify(self, context: Any) -> None:
        """Post the alert of a failed task to Slack."""
        from pipelines.alerts.alert_choice import retrain_alert
        from pipelines.quality.report import QualityReport

        ti = context["ti"]
        day = context["logical_date"].date().isoformat() if context.get("logical_date") else "-"
        error = context.get("exception")
        report = getattr(error, "report", None)
        text = f"{type(error).__name__}: {error}" if error else "no exception: killed, timed out or marked failed"
        message = retrain_alert(
            model_of(ti.dag_id),
            day,
            ti.run_id,
            report if isinstance(report, QualityReport) else None,
            failed_stage=ti.task_id,
            error=text,
            top_n=self.top_n,
            run_url=log_link(ti),
        )
        if message is not None:
            post(message)


class ApprovalRequestNotifier(BaseNotifier):
    """Tells Slack that a promotion waits for approval: the request as Airflow shows it and a link to answer."""

    def notify(self, context: Any) -> None:
        """Post the approval request to Slack."""
        from pipelines.alerts.event_messages import approval_alert
        from pipelines.decision.verdict import Decision

        ti = context["ti"]
        decision = Decision.from_dict(ti.xcom_pull(task_ids="evaluate"))
        post(approval_alert(decision, approval_link(ti), getattr(context.get("task"), "body", None)))
