"""``retrain_<model>`` for every config in ``configs/``: ingest >> validate >> train >> evaluate >> promote.

Each task is a thin call into ``pipelines``; XCom carries references (paths, hashes, versions,
small metric dicts), never data. Nothing here touches a connection, variable or database at parse time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Asset, Param, dag, get_current_context, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable
from dag_support import START_DATE, as_of, source_url, trigger_of
from slack_alerts import BadInputStop, QualityGateStop, SlackAlertNotifier

from pipelines.config import ModelConfig, load_all


def build_retrain_dag(cfg: ModelConfig) -> DAG:
    """One retrain DAG for one model config."""

    @dag(
        dag_id=f"retrain_{cfg.name}",
        description=f"Retrain {cfg.name}: {cfg.description}",
        schedule=AssetOrTimeSchedule(
            timetable=CronTriggerTimetable(cfg.schedule.cron, timezone="UTC"),
            assets=[Asset(name=cfg.drift_asset)],
        ),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["retrain", cfg.name, cfg.task],
        default_args={
            "owner": cfg.owner,
            "retries": 2,
            "retry_delay": timedelta(minutes=2),
            "on_failure_callback": SlackAlertNotifier(top_n=cfg.quality.alert_top_n),
        },
        params={
            "training_days": Param(
                None, type=["null", "integer"], minimum=1, description="Override the config's training days."
            ),
            "dry_run": Param(False, type="boolean", description="Evaluate but never move the champion alias."),
        },
        doc_md=f"""
### Retrain `{cfg.name}`
{cfg.description}

Runs nightly (`{cfg.schedule.cron}` UTC) and whenever the asset `{cfg.drift_asset}` reports
confirmed drift. The run's logical date D selects the data: {cfg.windows.training_days} training days then
{cfg.windows.holdout_days} holdout days, all before D. A failed quality check stops the run before training.
The champion moves only when the policy in `configs/{cfg.name}.yaml` says so, and never to a model trained
on an older window. Set `dry_run` to evaluate without promoting.
""",
    )
    def retrain() -> None:
        @task
        def ingest() -> dict[str, Any]:
            from pipelines.ingest import ingest as run_ingest
            from pipelines.sources import SourceSchemaError

            context = get_current_context()
            days = context["params"].get("training_days")
            try:
                return run_ingest(cfg, as_of(context), source_url(cfg), days).to_dict()
            except SourceSchemaError as exc:
                raise BadInputStop(str(exc)) from exc

        @task
        def validate(snapshot: dict[str, Any]) -> dict[str, Any]:
            from slack_alerts import post

            from pipelines.alerts import warnings_alert
            from pipelines.ingest import Snapshot
            from pipelines.quality import validate as run_validate

            report = run_validate(cfg, Snapshot(**snapshot))
            if not report.success:
                raise QualityGateStop(report)
            if report.warnings and cfg.quality.alert_on_warnings:
                context = get_current_context()
                day = as_of(context).isoformat()
                post(warnings_alert(cfg.name, day, context["run_id"], report, cfg.quality.alert_top_n))
            return report.to_dict()

        @task
        def train(snapshot: dict[str, Any]) -> dict[str, Any]:
            from pipelines.ingest import Snapshot
            from pipelines.train import Lineage
            from pipelines.train import train as run_train

            context = get_current_context()
            trigger, cause = trigger_of(context)
            lineage = Lineage(trigger=trigger, airflow_run_id=context["run_id"], cause=cause)
            return run_train(cfg, Snapshot(**snapshot), lineage).to_dict()

        @task
        def evaluate(snapshot: dict[str, Any], trained: dict[str, Any]) -> dict[str, Any]:
            from pipelines.evaluate import evaluate as run_evaluate
            from pipelines.ingest import Snapshot

            return run_evaluate(cfg, Snapshot(**snapshot), trained["version"]).to_dict()

        @task
        def promote(decision: dict[str, Any]) -> dict[str, Any]:
            from pipelines.evaluate import Decision
            from pipelines.promote import promote as run_promote

            dry_run = bool(get_current_context()["params"].get("dry_run"))
            return run_promote(Decision.from_dict(decision), dry_run=dry_run).to_dict()

        snapshot = ingest()
        checked = validate(snapshot)
        trained = train(snapshot)
        checked >> trained
        promote(evaluate(snapshot, trained))

    return retrain()


for _cfg in load_all():
    globals()[f"retrain_{_cfg.name}"] = build_retrain_dag(_cfg)
