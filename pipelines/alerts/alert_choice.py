"""Which Slack alert a retrain run calls for, decided in one place for the CLI and the DAGs."""

from __future__ import annotations

from pipelines.alerts.event_messages import failure_alert, quality_alert, warnings_alert
from pipelines.alerts.links import docs_link
from pipelines.alerts.mrkdwn import SlackMessage
from pipelines.quality.report import QualityReport


def retrain_alert(
    model: str,
    logical_date: str,
    run_id: str | None,
    report: QualityReport | None,
    failed_stage: str | None = None,
    error: str = "",
    alert_on_warnings: bool = False,
    top_n: int = 10,
    run_url: str | None = None,
) -> SlackMessage | None:
    """The alert for a retrain run (or one of its tasks), or None when nothing calls for one.

    ``failed_stage`` names the stage that failed with ``error`` (None when nothing failed); ``report`` is the
    quality report when the gate ran. A failure with a failed report: the quality gate alert, linking its Data
    Docs; any other failure: the failure alert; no failure but warnings and ``alert_on_warnings``: the warnings
    note.
    """
    if failed_stage is not None and report is not None and not report.success:
        return quality_alert(model, logical_date, run_id, report, top_n, run_url, docs_link(report.docs_path))
    if failed_stage is not None:
        return failure_alert(model, logical_date, run_id, failed_stage, error, run_url)
    if report is not None and report.warnings and alert_on_warnings:
        return warnings_alert(model, logical_date, run_id, report, top_n)
    return None
