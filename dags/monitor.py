"""``monitor_<model>`` for every config in ``configs/``: check_drift >> trigger_retrain.

``check_drift`` compares the most recent window with the champion's reference profile and logs the
report to MLflow. ``trigger_retrain`` emits the model's drift asset event, which schedules
``retrain_<model>``, only when the config's policy confirms drift (consecutive checks, cooldown);
otherwise it is skipped and nothing is emitted.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from _common import announce, as_of, run_moment, source_url, start_date
from airflow.sdk import DAG, Asset, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable
from slack_alerts import SlackAlertNotifier

from pipelines.config.loading import load_all
from pipelines.config.model import ModelConfig
from pipelines.jobs import steps


def build_monitor_dag(cfg: ModelConfig) -> DAG:
    """One drift monitor DAG for one model config."""
    asset = Asset(name=cfg.drift_asset)

    @dag(
        dag_id=f"monitor_{cfg.name}",
        description=f"Drift monitor of {cfg.name}: recent data against the champion's training profile",
        schedule=CronTriggerTimetable(cfg.drift.cron, timezone="UTC"),
        start_date=start_date(cfg),
        catchup=False,
        max_active_runs=1,
        tags=["monitor", cfg.name],
        default_args={
            "start_date": start_date(cfg),  # `airflow dags trigger` then refuses earlier logical dates
            "owner": cfg.owner,
            "retries": 2,
            "retry_delay": timedelta(minutes=2),
            "on_failure_callback": SlackAlertNotifier(top_n=cfg.quality.alert_top_n),
        },
        doc_md=f"""
### Drift monitor of `{cfg.name}`
Runs `{cfg.drift.cron}` (UTC) on the {cfg.drift.window_days} day(s) before the run's date. Drift is confirmed
after {cfg.drift.policy.consecutive_checks} consecutive checks with drift, at most once per
{cfg.drift.policy.cooldown_hours} h; then the asset `{cfg.drift_asset}` gets an event and `retrain_{cfg.name}` runs.
The report (JSON and HTML) is logged to MLflow as a `monitor` run of experiment `{cfg.name}`.
""",
    )
    def monitor() -> None:
        @task
        def check_drift() -> dict[str, Any]:
            context = get_current_context()
            check = steps.check_drift(cfg, as_of(context), source_url(cfg), checked_at=run_moment(context))
            return {**check.to_dict(), "event_extra": check.event_extra()}

        @task(outlets=[asset])
        def trigger_retrain(check: dict[str, Any]) -> None:
            announce(cfg, asset, check, get_current_context())

        trigger_retrain(check_drift())

    return monitor()


for _cfg in load_all():
    globals()[f"monitor_{_cfg.name}"] = build_monitor_dag(_cfg)
