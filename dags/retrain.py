"""``retrain_<model>`` for every config in ``configs/``: ingest >> validate >> train >> evaluate >> promote.

When the config requires approval, a promotion the policy allows waits for a human in between:
``needs_approval`` (no question when the policy already said no) >> ``approve`` (the standard provider's
ApprovalOperator, answer kept in XCom) >> ``promote``; a rejection skips ``promote``, and ``record_refusal``
writes it to the ledger.

Each task is a thin call into ``pipelines``; XCom carries references (paths, hashes, versions,
small metric dicts), never data. Nothing here touches a connection, variable or database at parse time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Asset, Param, dag, get_current_context, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable
from approval_gate import RecordedApprovalOperator, approval_of
from dag_support import START_DATE, as_of, lineage_of, source_url
from slack_alerts import ApprovalRequestNotifier, BadInputStop, QualityGateStop, SlackAlertNotifier

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
{_approval_doc(cfg)}
""",
        user_defined_macros={"approval_body": _approval_body},
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
            from pipelines.promote import record_quality_block
            from pipelines.quality import validate as run_validate

            context = get_current_context()
            report = run_validate(cfg, Snapshot(**snapshot))
            if not report.success:
                if not context["params"].get("dry_run"):
                    failures = [str(check) for check in report.critical]
                    window = (snapshot["window_start"], snapshot["window_end"])
                    record_quality_block(cfg.name, *window, failures, lineage_of(context))
                raise QualityGateStop(report)
            if report.warnings and cfg.quality.alert_on_warnings:
                day = as_of(context).isoformat()
                post(warnings_alert(cfg.name, day, context["run_id"], report, cfg.quality.alert_top_n))
            return report.to_dict()

        @task
        def train(snapshot: dict[str, Any]) -> dict[str, Any]:
            from pipelines.ingest import Snapshot
            from pipelines.train import train as run_train

            return run_train(cfg, Snapshot(**snapshot), lineage_of(get_current_context())).to_dict()

        @task
        def evaluate(snapshot: dict[str, Any], trained: dict[str, Any]) -> dict[str, Any]:
            from pipelines.evaluate import evaluate as run_evaluate
            from pipelines.ingest import Snapshot

            return run_evaluate(cfg, Snapshot(**snapshot), trained["version"]).to_dict()

        @task(trigger_rule="none_failed")
        def promote(decision: dict[str, Any]) -> dict[str, Any]:
            from pipelines.evaluate import Decision
            from pipelines.promote import promote as run_promote

            context = get_current_context()
            return run_promote(
                Decision.from_dict(decision),
                dry_run=bool(context["params"].get("dry_run")),
                lineage=lineage_of(context),
                approval=approval_of(context) if cfg.policy.approval.required else None,
            ).to_dict()

        snapshot = ingest()
        checked = validate(snapshot)
        trained = train(snapshot)
        checked >> trained
        decision = evaluate(snapshot, trained)
        promoted = promote(decision)
        if cfg.policy.approval.required:
            _approval_gate(cfg, decision, promoted)

    return retrain()


def _approval_gate(cfg: ModelConfig, decision: Any, promoted: Any) -> None:
    """needs_approval >> approve >> promote, and record_refusal after a rejected (skipped) promote."""

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def needs_approval(decision: dict[str, Any]) -> bool:
        return bool(decision["promote"]) and not get_current_context()["params"].get("dry_run")

    @task(trigger_rule="all_skipped")
    def record_refusal() -> dict[str, Any] | None:
        from pipelines.evaluate import Decision
        from pipelines.promote import promote as run_promote

        context = get_current_context()
        approval = approval_of(context)
        if approval is None:
            return None
        decision = Decision.from_dict(context["ti"].xcom_pull(task_ids="evaluate"))
        return run_promote(decision, lineage=lineage_of(context), approval=approval).to_dict()

    policy = cfg.policy.approval
    approve = RecordedApprovalOperator(
        task_id="approve",
        subject=f"Promote {cfg.name} v{{{{ ti.xcom_pull(task_ids='evaluate')['challenger_version'] }}}} to champion?",
        body="{{ approval_body(ti.xcom_pull(task_ids='evaluate')) }}",
        defaults="Approve" if policy.default == "approve" else "Reject",
        response_timeout=timedelta(hours=policy.timeout_hours),
        notifiers=[ApprovalRequestNotifier()],
        retries=0,
    )
    needs_approval(decision) >> approve >> promoted >> record_refusal()


def _approval_body(decision: dict[str, Any]) -> str:
    from pipelines.alerts import approval_markdown
    from pipelines.evaluate import Decision

    return approval_markdown(Decision.from_dict(decision))


def _approval_doc(cfg: ModelConfig) -> str:
    policy = cfg.policy.approval
    if not policy.required:
        return ""
    return (
        f"\nA promotion waits for a human in the `approve` task (Required Actions), up to {policy.timeout_hours:g} h; "
        f"then the default is taken: **{policy.default}**."
    )


for _cfg in load_all():
    globals()[f"retrain_{_cfg.name}"] = build_retrain_dag(_cfg)
