"""What the DAG files share: the start date from the config, how a run finds its date, source and lineage, and
how a step's failure becomes a red task.

Airflow puts the DAGs folder on ``sys.path`` for every component, so DAG files import it by name;
``.airflowignore`` keeps the DAG processor from parsing it as a DAG file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from pipelines.config.data_sections import SourceConfig
from pipelines.config.model import ModelConfig

if TYPE_CHECKING:
    from pipelines.decision.promote import PromotionResult
    from pipelines.quality.report import QualityReport
    from pipelines.registry.lineage import Lineage


def start_date(cfg: ModelConfig) -> datetime | None:
    """The model's ``schedule.start_date`` as midnight UTC, or None (the default) for no lower bound.

    Airflow creates no task instance of a run dated before its DAG's start date: such a run, triggered from
    the form or the REST API, succeeds having done nothing. Without a start date (allowed with
    ``catchup=False``) every run has all its tasks, whatever its date, so a date years back runs for real.
    """
    day = cfg.schedule.start_date
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day is not None else None


def as_of(context: Any) -> date:
    """The run's date: its logical date, or when it was due to run for asset-triggered runs."""
    return run_moment(context).date()


def source_url(cfg: ModelConfig, source: SourceConfig | None = None) -> str:
    """The URL of ``source`` (default the model's): env var first; then the Airflow connection named in the
    config; then the config's default.
    """
    source = source or cfg.source
    connection = None if os.environ.get(source.url_env) else connection_url(source.conn_id)
    return source.resolve_url(connection)


def predictions_url(cfg: ModelConfig) -> str:
    """Where ``score_<model>`` writes: the target's env var, connection or default, else the pipeline's database."""
    from pipelines.jobs import steps

    target = cfg.scoring.target if cfg.scoring else None
    connection = None if target is None or os.environ.get(target.url_env) else connection_url(target.conn_id)
    return steps.predictions_url(cfg, connection)


def connection_url(conn_id: str | None) -> str | None:
    """The SQLAlchemy URL of an Airflow connection (its ``sqlalchemy_url`` extra, else its URI), or None."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    if not conn_id:
        return None
    try:
        conn = Connection.get(conn_id)
    except AirflowNotFoundException:
        return None
    extra = conn.extra_dejson or {}
    return extra.get("sqlalchemy_url") or conn.get_uri().replace("postgres://", "postgresql+psycopg2://", 1)


def trigger_of(context: Any) -> tuple[str, str]:
    """Why this run exists, for the lineage tags: ``(trigger, cause)``.

    Runs created by an asset are ``drift`` or ``performance`` (``drift+performance`` when both had events), with
    the events' extras (what moved, what fell) as the cause; other runs keep Airflow's run type (``scheduled``,
    ``manual``, ``backfill``).
    """
    import json

    run_type = context["dag_run"].run_type
    trigger = getattr(run_type, "value", str(run_type))
    if trigger != "asset_triggered":
        return trigger, ""
    events = context.get("triggering_asset_events") or {}
    extras = [dict(event.extra or {}) for asset_events in events.values() for event in asset_events]
    names = {getattr(getattr(event, "asset", None), "name", "") for found in events.values() for event in found}
    kinds = sorted({name.split("_", 1)[0] for name in names if name.startswith(("drift_", "performance_"))})
    return "+".join(kinds) or "drift", json.dumps(extras, default=str)


def lineage_of(context: Any) -> Lineage:
    """The run's trigger, cause and id, as recorded on versions and in the ledger."""
    from pipelines.registry.lineage import Lineage

    trigger, cause = trigger_of(context)
    return Lineage(trigger=trigger, airflow_run_id=context["run_id"], cause=cause)


def actor_of(context: Any) -> str:
    """Who triggered the run, for the ledger: the user's name, else the run type."""
    run = context["dag_run"]
    return str(getattr(run, "triggering_user_name", None) or getattr(run.run_type, "value", run.run_type))


def dry_run(context: Any) -> bool:
    """The run's ``dry_run`` Param."""
    return bool(context["params"].get("dry_run"))


@contextmanager
def stops() -> Iterator[None]:
    """Turn the failures retries cannot fix into tasks that fail at once: a failed quality gate (its report
    kept for the alert), a source without the configured table or column, a stale decision, a version a person
    named that cannot be made champion.
    """
    from slack_alerts import BadInputStop, QualityGateStop

    from pipelines.data.source_errors import SourceSchemaError
    from pipelines.decision.promote import PromotionConflict
    from pipelines.errors import InputError
    from pipelines.quality.report import QualityGateFailed

    try:
        yield
    except QualityGateFailed as exc:
        raise QualityGateStop(exc.report) from exc
    except (SourceSchemaError, PromotionConflict, InputError) as exc:
        raise BadInputStop(str(exc)) from exc


def post_warnings(cfg: ModelConfig, context: Any, report: QualityReport) -> None:
    """Slack, when the gate passed with warnings and the config asks to hear about them (``retrain_alert``)."""
    from slack_alerts import post

    from pipelines.alerts.alert_choice import retrain_alert

    quality = cfg.quality
    day = as_of(context).isoformat()
    message = retrain_alert(
        cfg.name, day, context["run_id"], report, alert_on_warnings=quality.alert_on_warnings, top_n=quality.alert_top_n
    )
    if message is not None:
        post(message)


def run_moment(context: Any) -> datetime:
    """When the run is for: its logical date, or when it was due for asset-triggered runs."""
    return context.get("logical_date") or context["dag_run"].run_after


def announce(cfg: ModelConfig, asset: Any, check: dict[str, Any], context: Any) -> None:
    """Skip unless the check (drift or decay) is confirmed; else give the asset event the check's extras and tell
    Slack.
    """
    from airflow.sdk.exceptions import AirflowSkipException
    from slack_alerts import post

    from pipelines.alerts.event_messages import decay_alert, drift_alert

    if not check["confirmed"]:
        raise AirflowSkipException(f"no retrain: {check['reason']}")
    extra, day, log_url = check["event_extra"], as_of(context).isoformat(), context["ti"].log_url
    context["outlet_events"][asset].extra = extra
    if asset.name == cfg.performance_asset:
        post(decay_alert(cfg.name, day, extra, log_url, extra.get("plot")))
    else:
        post(drift_alert(cfg.name, day, extra, log_url))


def manual_move(context: Any) -> tuple[int | None, str, str, bool]:
    """What the rollback DAG's Params ask for: version, reason, who asked, and whether to re-admit."""
    params = context["params"]
    return params.get("version"), params["reason"], actor_of(context), bool(params["readmit"])


def post_rollback(cfg: ModelConfig, result: PromotionResult, context: Any) -> None:
    """Tell Slack who moved the champion, where to and why."""
    from slack_alerts import post

    from pipelines.alerts.event_messages import rollback_alert

    post(rollback_alert(cfg.name, result, actor_of(context), context["ti"].log_url))
