"""What the DAG files share: the start date from the config and how a run finds its date and its source.

It lives in ``plugins/``, which Airflow puts on ``sys.path`` for every component, so DAGs import it by name.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from pipelines.config.schema import ModelConfig

if TYPE_CHECKING:
    from pipelines.model.train import Lineage


def start_date(cfg: ModelConfig) -> datetime:
    """The model's ``schedule.start_date`` as midnight UTC: no run of its DAGs has an earlier logical date.

    Airflow creates no task instance of a run dated before its DAG's start date (that run would succeed
    having done nothing), so every DAG of a model starts here, early enough for all its data.
    """
    day = cfg.schedule.start_date
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def as_of(context: Any) -> date:
    """The run's date: its logical date, or when it was due to run for asset-triggered runs."""
    stamp = context.get("logical_date") or context["dag_run"].run_after
    return stamp.date()


def source_url(cfg: ModelConfig) -> str:
    """Env var first; then the Airflow connection named in the config; then the config's default."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    connection_url = None
    if cfg.source.conn_id and not os.environ.get(cfg.source.url_env):
        try:
            conn = Connection.get(cfg.source.conn_id)
        except AirflowNotFoundException:
            conn = None
        if conn is not None:
            connection_url = (conn.extra_dejson or {}).get("sqlalchemy_url") or conn.get_uri().replace(
                "postgres://", "postgresql+psycopg2://", 1
            )
    return cfg.source.resolve_url(connection_url)


def trigger_of(context: Any) -> tuple[str, str]:
    """Why this run exists, for the lineage tags: ``(trigger, cause)``.

    Runs created by the drift asset are ``drift``, with the monitor's event extras (what moved) as the cause;
    other runs keep Airflow's run type (``scheduled``, ``manual``, ``backfill``).
    """
    import json

    run_type = context["dag_run"].run_type
    trigger = getattr(run_type, "value", str(run_type))
    if trigger != "asset_triggered":
        return trigger, ""
    events = context.get("triggering_asset_events") or {}
    extras = [dict(event.extra or {}) for asset_events in events.values() for event in asset_events]
    return "drift", json.dumps(extras, default=str)


def lineage_of(context: Any) -> Lineage:
    """The run's trigger, cause and id, as recorded on versions and in the ledger."""
    from pipelines.model.train import Lineage

    trigger, cause = trigger_of(context)
    return Lineage(trigger=trigger, airflow_run_id=context["run_id"], cause=cause)


def actor_of(context: Any) -> str:
    """Who triggered the run, for the ledger: the user's name, else the run type."""
    run = context["dag_run"]
    return str(getattr(run, "triggering_user_name", None) or getattr(run.run_type, "value", run.run_type))
