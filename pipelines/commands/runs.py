"""Verbs that run the pipeline: seed the demo source, ingest or validate one window, retrain, check drift, backfill."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipelines.commands.output import emit, operator, progress
from pipelines.config.loading import load_model
from pipelines.config.model import ModelConfig
from pipelines.errors import InputError


def seed_command(args: argparse.Namespace) -> int:
    """Write the synthetic demo table into the source database, a scenario on top when asked."""
    from pipelines.demo.scenarios import SCENARIOS
    from pipelines.demo.seed import DEFAULT_START, seed

    url = args.source_url or load_model("demo").source.resolve_url()
    result = seed(
        url, args.start or DEFAULT_START, args.days, args.rows_per_day, args.seed, args.scenario, args.scenario_days
    )
    broken = f", scenario {args.scenario}: {SCENARIOS[args.scenario].description}" if args.scenario else ""
    print(f"seeded {result.rows} rows into {result.table}: {result.first_day} .. {result.last_day}{broken}")
    return 0


def stage_command(args: argparse.Namespace) -> int:
    """Snapshot one window, and with ``validate`` run the quality gate on it; exit 1 when the gate fails."""
    from pipelines.data.ingest import ingest

    cfg = load_model(args.model)
    snapshot = ingest(cfg, args.as_of, args.source_url or cfg.source.resolve_url(), args.training_days)
    payload: dict[str, Any] = {"snapshot": snapshot.to_dict()}
    lines = [f"snapshot {snapshot.path}: {snapshot.rows} rows, hash {snapshot.content_hash}"]
    if args.verb == "validate":
        from pipelines.quality.gate import validate

        report = validate(cfg, snapshot)
        payload["quality"] = report.to_dict()
        lines.append(
            f"suite {report.suite}: {'passed' if report.success else 'FAILED'} ({report.evaluated} expectations)"
        )
        lines += [f"  critical: {c}" for c in report.critical] + [f"  warning: {w}" for w in report.warnings]
        emit(args, payload, lines)
        return 0 if report.success else 1
    emit(args, payload, lines)
    return 0


def retrain_command(args: argparse.Namespace) -> int:
    """Run the whole chain for one date in this process; exit 1 when a stage failed."""
    from pipelines.decision.promote import Approval
    from pipelines.jobs.retrain import retrain

    cfg = load_model(args.model)
    outcome = retrain(
        cfg,
        args.as_of,
        args.source_url or cfg.source.resolve_url(),
        training_days=args.training_days,
        dry_run=args.dry_run,
        progress=progress,
        approval=Approval(True, operator()) if args.approve else None,
    )
    head = f"{cfg.name} as of {outcome.as_of}: {outcome.status}" + (f" v{outcome.version}" if outcome.version else "")
    emit(args, outcome.to_dict(), [head, *(f"  {r}" for r in outcome.reasons)])
    if outcome.status == "failed" and not args.json:
        print(f"error: {outcome.reasons[0]}", file=sys.stderr)
    _alert(cfg, outcome)
    return 1 if outcome.status == "failed" else 0


def _alert(cfg: ModelConfig, outcome: Any) -> None:
    """Slack, when ``SLACK_WEBHOOK_URL`` is set: a failed run, or warnings when the config asks for them."""
    from pipelines.alerts.alert_choice import retrain_alert
    from pipelines.alerts.webhook_settings import webhook_from_env
    from pipelines.quality.report import QualityReport

    webhook = webhook_from_env()
    if webhook is None:
        return
    report = QualityReport.from_dict(outcome.quality) if outcome.quality else None
    failed = outcome.status == "failed"
    message = retrain_alert(
        cfg.name,
        outcome.as_of,
        None,
        report,
        failed_stage=(outcome.stage or "retrain") if failed else None,
        error=outcome.reasons[0] if failed else "",
        alert_on_warnings=cfg.quality.alert_on_warnings,
        top_n=cfg.quality.alert_top_n,
    )
    if message is None:
        return
    delivery = webhook.send(message)
    if not delivery.delivered:
        print(f"warning: the Slack alert was not delivered ({delivery.status or delivery.error})", file=sys.stderr)


def drift_command(args: argparse.Namespace) -> int:
    """Compare the window before ``--as-of`` with the champion's reference profile; print the per-feature PSI."""
    from pipelines.jobs.monitor import check_drift

    cfg = load_model(args.model)
    check = check_drift(cfg, args.as_of, args.source_url or cfg.source.resolve_url(), record=args.record)
    report = check.report
    payload = {**report, "confirmed": check.confirmed, "confirmation": check.reason, "check": check.to_dict()}
    payload["check"].pop("report")
    lines = [
        f"{cfg.name} v{check.champion_version}, {check.window_start}..{check.window_end}: "
        + ("DRIFT" if check.drift else "no drift")
        + f" ({check.reason})",
        *(f"  {reason}" for reason in report["reasons"]),
        *(
            f"  {name:<24} {stats['status']:<4} psi {stats['psi']:.3f}"
            for name, stats in sorted(report["features"].items(), key=lambda kv: -(kv[1]["psi"] or 0.0))
            if stats.get("psi") is not None
        ),
    ]
    emit(args, payload, lines)
    return 0


def backfill_command(args: argparse.Namespace) -> int:
    """Backfill a date range through the Airflow API, wait for it, and report each run's decision."""
    from dataclasses import asdict

    from pipelines.jobs.backfill import (
        AirflowAPI,
        RunResult,
        ensure_unpaused,
        planned_dates,
        start_backfill,
        wait_for_backfill,
    )
    from pipelines.registry import ledger

    cfg = load_model(args.model)
    dag_id = f"retrain_{cfg.name}"
    api = AirflowAPI.from_env()
    if note := ensure_unpaused(api, dag_id, args.unpause):
        progress(f"{dag_id} unpaused: {note}")
    dates = planned_dates(api, dag_id, args.first, args.last)
    if not dates:
        raise InputError(f"no scheduled runs of {dag_id} between {args.first} and {args.last}")
    backfill_id = start_backfill(api, dag_id, args.first, args.last)
    progress(f"backfill {backfill_id} of {dag_id}: {len(dates)} run(s), {dates[0]} .. {dates[-1]}")
    seen: dict[str, str] = {}

    def show(runs: list[RunResult]) -> None:
        for run in runs:
            if seen.get(run.run_id) != run.state:
                seen[run.run_id] = run.state
                done = sum(1 for r in runs if r.state in ("success", "failed"))
                progress(f"[{done}/{len(dates)}] {run.day} {run.state}")

    runs = wait_for_backfill(api, dag_id, backfill_id, timeout=args.timeout, progress=show)
    verdicts = ("promoted", "rejected", "blocked", "refused")
    decisions = {e.window_end: asdict(e) for e in reversed(ledger.entries(cfg.name)) if e.kind in verdicts}
    rows = []
    for run in runs:
        decision = decisions.get(run.day, {})
        rows.append({**run.__dict__, "version": decision.get("version"), "decision": decision.get("kind")})
    lines = [
        f"{r['day']}  {r['state']:<8} " + (f"v{r['version']} {r['decision']}" if r["version"] else "no new version")
        for r in rows
    ]
    emit(args, {"model": cfg.name, "backfill_id": backfill_id, "runs": rows}, lines)
    return 0 if all(r.state == "success" for r in runs) else 1
