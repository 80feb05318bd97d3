"""Slack alerts for every DAG of the project, attached as the tasks' failure callback.

The webhook URL comes from the Airflow connection ``slack_default`` (the URL as its password, or host +
password as the Slack provider's webhook connection stores it, or ``extra.webhook_url``); it is never
logged. A task's failure callback runs once, after its last retry, so a failed run sends one alert.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier
from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from pipelines.alerts import SlackMessage, SlackWebhook
    from pipelines.quality import QualityReport

SLACK_CONN_ID = "slack_default"
log = logging.getLogger(__name__)


class QualityGateStop(AirflowFailException):
    """Fails the validate task at once (no retries: the data will not change) and carries the report."""

    def __init__(self, report: QualityReport) -> None:
        from pipelines.quality import QualityGateFailed

        super().__init__(str(QualityGateFailed(report)))
        self.report = report


class BadInputStop(AirflowFailException):
    """Fails a task at once for a problem retries cannot fix (a missing table or column)."""


def slack_webhook(conn_id: str = SLACK_CONN_ID) -> SlackWebhook | None:
    """The webhook of the connection, or None (alerts off) when it is not defined."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    from pipelines.alerts import SlackWebhook

    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
    password, host = (conn.password or "").strip(), (conn.host or "").strip()
    url = (conn.extra_dejson or {}).get("webhook_url") or (
        password if password.startswith("http") else f"{host.rstrip('/')}/{password.lstrip('/')}" if host else ""
    )
    return SlackWebhook(url) if url else None


def post(message: SlackMessage) -> None:
    """Send to ``slack_default``; a missing or unusable connection is logged, never raised."""
    try:
        webhook = slack_webhook()
    except ValueError as exc:
        log.error("the %s connection has no usable webhook URL: %s", SLACK_CONN_ID, exc)
        return
    if webhook is None:
        log.warning("no %s connection: the Slack alert was not sent", SLACK_CONN_ID)
        return
    webhook.send(message)


def model_of(dag_id: str) -> str:
    return dag_id.split("_", 1)[1] if "_" in dag_id else dag_id


class SlackAlertNotifier(BaseNotifier):
    """One Slack message for a task that failed for good: the failed checks for the quality gate,
    the stage and the error for anything else."""

    def __init__(self, top_n: int = 10) -> None:
        super().__init__()
        self.top_n = top_n

    def notify(self, context: Any) -> None:
        from pipelines.alerts import docs_link, failure_alert, quality_alert
        from pipelines.quality import QualityReport

        ti = context["ti"]
        model = model_of(ti.dag_id)
        day = context["logical_date"].date().isoformat() if context.get("logical_date") else "-"
        error = context.get("exception")
        report = getattr(error, "report", None)
        if isinstance(report, QualityReport):
            message = quality_alert(model, day, ti.run_id, report, self.top_n, ti.log_url, docs_link(report.docs_path))
        else:
            text = f"{type(error).__name__}: {error}" if error else "no exception: killed, timed out or marked failed"
            message = failure_alert(model, day, ti.run_id, ti.task_id, text, ti.log_url)
        post(message)


class ApprovalRequestNotifier(BaseNotifier):
    """Tells Slack that a promotion waits for approval, with the comparison and a link to answer it."""

    def notify(self, context: Any) -> None:
        from airflow.providers.standard.operators.hitl import HITLOperator

        from pipelines.alerts import approval_alert
        from pipelines.evaluate import Decision

        decision = Decision.from_dict(context["ti"].xcom_pull(task_ids="evaluate"))
        try:
            link: str | None = HITLOperator.generate_link_to_ui_from_context(context=context)
        except ValueError:
            link = None
        post(approval_alert(decision, link))
