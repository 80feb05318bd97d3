"""``retrain_<model>`` for every config in ``configs/``: ingest >> validate >> train >> evaluate >> promote.

When the config requires approval, a promotion the policy allows waits for a human in between:
``needs_approval`` (no question when the policy already said no) >> ``approve`` (the standard provider's
ApprovalOperator, answer kept in XCom) >> ``promote``; a rejection skips ``promote``, and ``record_refusal``
writes it to the ledger. ``any_stage_failed`` comes last: it fails when a stage failed, so such a run is failed
whatever the trigger rules of the tasks after the failure.

Each task is a thin call into ``pipelines``; XCom carries references (paths, hashes, versions,
small metric dicts), never data. Nothing here touches a connection, variable or database at parse time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from _common import as_of, dry_run, lineage_of, post_warnings, source_url, start_date, stops
from airflow.sdk import DAG, Asset, Param, dag, get_current_context, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable
from approval_gate import RecordedApprovalOperator, approval_of
from slack_alerts import ApprovalRequestNotifier, SlackAlertNotifier

from pipelines.config.loading import load_all
from pipelines.config.model import ModelConfig
from pipelines.data.snapshot import Snapshot
from pipelines.decision.verdict import Decision
from pipelines.jobs import steps


def build_retrain_dag(cfg: ModelConfig) -> DAG:
    """One retrain DAG for one model config."""

    @dag(
        dag_id=f"retrain_{cfg.name}",
        description=f"Retrain {cfg.name}: {cfg.description}",
        schedule=_schedule(cfg),
        start_date=start_date(cfg),
        catchup=False,
        max_active_runs=1,
        tags=["retrain", cfg.name, cfg.task],
        default_args={
            "start_date": start_date(cfg),  # `airflow dags trigger` then refuses earlier logical dates
            "owner": cfg.owner,
            "retries": 2,
            "retry_delay": timedelta(minutes=2),
            "on_failure_callback": SlackAlertNotifier(top_n=cfg.quality.alert_top_n),
        },
        params={
            "training_days": Param(
                None,
                type=["null", "integer"],
                minimum=1,
                description=f"Training days before the {cfg.windows.holdout_days} holdout days; empty: the "
                f"config's {cfg.windows.training_days}. The Logical date above picks the data: every day used is "
                "before it. Its default, now, finds no rows when the data ends earlier: set it to the day after "
                "the newest day to use.",
            ),
            "dry_run": Param(False, type="boolean", description="Evaluate but never move the champion alias."),
        },
        doc_md=_doc(cfg),
        user_defined_macros={"approval_body": _approval_body},
    )
    def retrain() -> None:
        @task
        def ingest() -> dict[str, Any]:
            context = get_current_context()
            with stops():
                days = context["params"].get("training_days")
                return steps.ingest(cfg, as_of(context), source_url(cfg), days).to_dict()

        @task
        def validate(snapshot: dict[str, Any]) -> dict[str, Any]:
            context = get_current_context()
            with stops():
                report = steps.validate(cfg, Snapshot(**snapshot), lineage_of(context), dry_run(context))
            post_warnings(cfg, context, report)
            return report.to_dict()

        @task
        def train(snapshot: dict[str, Any]) -> dict[str, Any]:
            return steps.train(cfg, Snapshot(**snapshot), lineage_of(get_current_context())).to_dict()

        @task
        def evaluate(snapshot: dict[str, Any], trained: dict[str, Any]) -> dict[str, Any]:
            return steps.evaluate(cfg, Snapshot(**snapshot), trained["version"]).to_dict()

        @task
        def model_card(snapshot: dict[str, Any], decision: dict[str, Any]) -> str | None:
            context = get_current_context()
            return steps.model_card(cfg, Snapshot(**snapshot), Decision.from_dict(decision), dry_run(context))

        @task(trigger_rule="none_failed")
        def promote(decision: dict[str, Any]) -> dict[str, Any]:
            context, verdict = get_current_context(), Decision.from_dict(decision)
            with stops():
                return steps.promote(
                    cfg, verdict, lineage_of(context), dry_run(context), approval_of(context)
                ).to_dict()

        snapshot = ingest()
        checked = validate(snapshot)
        trained = train(snapshot)
        checked >> trained
        decision = evaluate(snapshot, trained)
        card = model_card(snapshot, decision)
        promoted = promote(decision)
        refused = _approval_gate(cfg, decision, promoted) if cfg.policy.approval.required else None
        [card, promoted, *([refused] if refused is not None else [])] >> any_stage_failed()

    return retrain()


def _schedule(cfg: ModelConfig) -> Any:
    """Nightly by ``schedule.cron``, or on confirmed drift or decay (either asset); only on those without a cron."""
    assets = Asset(name=cfg.drift_asset) | Asset(name=cfg.performance_asset)
    if cfg.schedule.cron is None:
        return assets
    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(cfg.schedule.cron, timezone="UTC"), assets=assets)


@task(trigger_rule="one_failed", retries=0, on_failure_callback=None)
def any_stage_failed() -> None:
    """Runs only when a stage upstream failed, and fails, so Airflow marks the run failed (no second alert)."""
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException("a stage of this run failed (the red task before this one): the run is failed")


def _approval_gate(cfg: ModelConfig, decision: Any, promoted: Any) -> Any:
    """needs_approval >> approve >> promote, and record_refusal after a rejected (skipped) promote; returns
    record_refusal.
    """

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def needs_approval(decision: dict[str, Any]) -> bool:
        return bool(decision["promote"]) and not get_current_context()["params"].get("dry_run")

    @task(trigger_rule="all_skipped")
    def record_refusal() -> dict[str, Any] | None:
        context = get_current_context()
        if (approval := approval_of(context)) is None:
            return None
        decision = Decision.from_dict(context["ti"].xcom_pull(task_ids="evaluate"))
        return steps.promote(cfg, decision, lineage_of(context), approval=approval).to_dict()

    policy = cfg.policy.approval
    approve = RecordedApprovalOperator(
        task_id="approve",
        subject=f"Promote {cfg.name} v{{{{ ti.xcom_pull(task_ids='evaluate')['challenger_version'] }}}} to champion?",
        body="{{ approval_body(ti.xcom_pull(task_ids='evaluate')) }}",
        defaults="Approve" if policy.default == "approve" else "Reject",
        response_timeout=timedelta(hours=policy.timeout_hours),
        assigned_users=[{"id": user, "name": user} for user in policy.approvers] or None,
        notifiers=[ApprovalRequestNotifier()],
        retries=0,
    )
    refusal = record_refusal()
    needs_approval(decision) >> approve >> promoted >> refusal
    return refusal


def _approval_body(decision: dict[str, Any]) -> str:
    from pipelines.alerts.event_messages import approval_markdown

    return approval_markdown(Decision.from_dict(decision))


def _doc(cfg: ModelConfig) -> str:
    name, windows, cron = cfg.name, cfg.windows, cfg.schedule.cron
    when = f"nightly at `{cron}` UTC and whenever" if cron else "only by hand and whenever"
    unpause = (
        "Unpausing (also *Unpause on trigger*) starts the latest nightly run at once, which fails when the "
        "source has no data for the days before today; for a source without new data set `schedule.cron: null`."
        if cron
        else "Unpausing starts nothing by itself."
    )
    return f"""
### Retrain `{name}`
{cfg.description}

**The logical date picks the data.** A run with logical date D reads {windows.training_days} training days then
{windows.holdout_days} holdout days, all before D (the newest day read is the day before D). The Trigger form
proposes now as the logical date: with data that ends earlier, set it to the day after the newest day to use
(Airflow cannot propose it). {_start_doc(cfg)}

Runs {when} the asset `{cfg.drift_asset}` reports confirmed drift or `{cfg.performance_asset}` confirmed
decay of the champion's measured performance; one run at a time, later runs wait. {unpause}
A backfill (*Backfill* in this page's Trigger menu, or `python -m pipelines backfill`) gives each date its own run.

A failed quality check stops the run before training, and any failed stage makes the run failed
(`any_stage_failed`). The champion moves only when the policy in `configs/{name}.yaml` says so, and never to a
model trained on an older window. Set `dry_run` to evaluate without promoting.
{_approval_doc(cfg)}
"""


def _start_doc(cfg: ModelConfig) -> str:
    day = cfg.schedule.start_date
    if day is None:
        return "Any logical date runs every task: there is no `schedule.start_date`."
    return (
        f"Keep `schedule.start_date` ({day}) before the data: Airflow runs no task of a run dated earlier "
        "(`airflow dags trigger` refuses such a date; the form and the REST API do not)."
    )


def _approval_doc(cfg: ModelConfig) -> str:
    policy = cfg.policy.approval
    if not policy.required:
        return ""
    who = ", ".join(f"`{user}`" for user in policy.approvers) or "anyone who may change this DAG's runs"
    return f"""
**Approval.** A promotion the policy allows waits in the `approve` task (Browse > Required Actions) for
{policy.timeout_hours:g} h; {who} may answer. Unanswered, it takes the default, **{policy.default}**, recorded as
answered by `timeout` (that is why the form preselects it). The request shows the data window, its deadline and
links to the model card, MLflow and the run.

While it waits, the request holds this model's only run slot: manual runs queue behind it, and nightly and drift
runs are created only after the answer (drift events are kept and one run consumes them). Answer or let it time
out before starting anything else on this model.

After *Reject*, `approve` is green (it was answered), `promote` skipped and `record_refusal` wrote `refused` to the
ledger. To reconsider, clear `approve` of that run together with its downstream tasks: Airflow asks again and the
new answer is recorded after the refusal. When the champion has changed since, clear `evaluate` with its downstream
tasks instead, so the question compares with the new champion (an approval of a stale comparison is recorded, not
applied, and `promote` fails). Triggering the same logical date again is refused by Airflow (HTTP 409: that run
exists); clear it instead.
"""


for _cfg in load_all():
    globals()[f"retrain_{_cfg.name}"] = build_retrain_dag(_cfg)
