"""``python -m pipelines VERB``: the library without Airflow, for ops and debugging."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from pipelines.config.loading import load_model
from pipelines.config.model import ModelConfig
from pipelines.data.windows import parse_day
from pipelines.errors import InputError, PipelinesError


def _day(text: str) -> Any:
    try:
        return parse_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be a whole number of at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    seed = verbs.add_parser("seed", help="write the synthetic demo dataset into the source database")
    seed.add_argument("--source-url", help="SQLAlchemy URL (default: the demo model's source)")
    seed.add_argument("--start", type=_day, default=None, help="first day, YYYY-MM-DD (default 2026-01-01)")
    seed.add_argument("--days", type=_positive, default=120)
    seed.add_argument("--rows-per-day", type=_positive, default=400)
    seed.add_argument("--seed", type=int, default=7)
    seed.add_argument(
        "--scenario",
        help="break the data on purpose in the most recent days, e.g. null-spike or drift "
        "(see README, 'The bad-input catalogue'; an unknown name lists them all)",
    )
    seed.add_argument("--scenario-days", type=_positive, help="how many recent days the scenario touches")

    for name, text in (
        ("ingest", "snapshot one window (debugging)"),
        ("validate", "snapshot and run the quality gate (debugging)"),
        ("retrain", "run the whole chain in this process"),
    ):
        verb = verbs.add_parser(name, help=text)
        verb.add_argument("--model", default="demo")
        verb.add_argument("--as-of", type=_day, required=True, help="the run's date, YYYY-MM-DD")
        verb.add_argument("--source-url", help="override the model's source URL")
        verb.add_argument("--training-days", type=_positive)
        verb.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        if name == "retrain":
            verb.add_argument("--dry-run", action="store_true", help="evaluate but never promote")
            verb.add_argument(
                "--approve", action="store_true", help="approve the promotion, when the config requires approval"
            )

    drift = verbs.add_parser("drift", help="compare recent data with the champion's reference profile")
    drift.add_argument("--model", default="demo")
    drift.add_argument("--as-of", type=_day, required=True, help="check the window_days before this date")
    drift.add_argument("--source-url", help="override the model's source URL")
    drift.add_argument("--record", action="store_true", help="remember the check (consecutive/cooldown) and log it")
    drift.add_argument("--json", action="store_true")

    backfill = verbs.add_parser("backfill", help="backfill the retrain DAG through the Airflow REST API and wait")
    backfill.add_argument("--model", default="demo")
    backfill.add_argument("--from", dest="first", type=_day, required=True, help="first date, YYYY-MM-DD")
    backfill.add_argument("--to", dest="last", type=_day, required=True, help="last date (inclusive), YYYY-MM-DD")
    backfill.add_argument("--timeout", type=_positive, default=3600, help="seconds to wait (default 3600)")
    backfill.add_argument("--unpause", action="store_true", help="unpause the DAG first if it is paused")
    backfill.add_argument("--json", action="store_true")

    status = verbs.add_parser("status", help="champion, challenger, previous champion, the promotion ledger")
    status.add_argument("--model", default="demo")
    status.add_argument("--json", action="store_true")

    rollback = verbs.add_parser("rollback", help="point the champion back at an earlier version")
    rollback.add_argument("--model", default="demo")
    rollback.add_argument("--to-version", type=_positive)
    rollback.add_argument("--reason", default="manual rollback")
    rollback.add_argument("--json", action="store_true")

    alerts = verbs.add_parser("alerts", help="check Slack alerts: send a test message and say what was used")
    alerts.add_argument("action", choices=["test"], help="test: one message through each configured webhook")
    alerts.add_argument("--model", default="demo")
    alerts.add_argument("--conn-id", help="the Airflow connection (default: $PIPELINES_SLACK_CONN_ID or slack_default)")
    alerts.add_argument("--json", action="store_true")

    promote = verbs.add_parser(
        "promote", help="make a version champion by hand, re-admitting it if a rollback holds it out"
    )
    promote.add_argument("--model", default="demo")
    promote.add_argument("--version", type=_positive, required=True)
    promote.add_argument("--reason", required=True, help="why, for the ledger")
    promote.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb; a ``PipelinesError`` or a store that did not answer is one line on stderr and exit 1."""
    args = build_parser().parse_args(argv)
    try:
        return int(_VERBS[args.verb](args))
    except PipelinesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        unreachable = _environment_failure(exc)
        if unreachable is None:
            raise
        print(f"error: {unreachable}", file=sys.stderr)
        return 1


def _environment_failure(exc: Exception) -> str | None:
    """One line for a store or server that failed to answer (MLflow, a database, HTTP); None for anything else."""
    import requests
    import sqlalchemy as sa
    from mlflow.exceptions import MlflowException

    if isinstance(exc, sa.exc.DBAPIError):
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        return f"a database did not answer: {detail}"
    if isinstance(exc, MlflowException):
        first = str(exc).strip().splitlines()[0]
        return f"MLflow failed: {first[:400]}"
    if isinstance(exc, requests.RequestException | OSError):
        return f"{type(exc).__name__}: {str(exc)[:400]}"
    return None


def _progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def _emit(args: argparse.Namespace, payload: dict[str, Any], lines: list[str]) -> None:
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
    else:
        print("\n".join(lines))


def _seed(args: argparse.Namespace) -> int:
    from pipelines.demo.scenarios import SCENARIOS
    from pipelines.demo.seed import DEFAULT_START, seed

    url = args.source_url or load_model("demo").source.resolve_url()
    result = seed(
        url, args.start or DEFAULT_START, args.days, args.rows_per_day, args.seed, args.scenario, args.scenario_days
    )
    broken = f", scenario {args.scenario}: {SCENARIOS[args.scenario].description}" if args.scenario else ""
    print(f"seeded {result.rows} rows into {result.table}: {result.first_day} .. {result.last_day}{broken}")
    return 0


def _stage(args: argparse.Namespace) -> int:
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
        _emit(args, payload, lines)
        return 0 if report.success else 1
    _emit(args, payload, lines)
    return 0


def _retrain(args: argparse.Namespace) -> int:
    from pipelines.decision.promote import Approval
    from pipelines.jobs.retrain import retrain

    cfg = load_model(args.model)
    outcome = retrain(
        cfg,
        args.as_of,
        args.source_url or cfg.source.resolve_url(),
        training_days=args.training_days,
        dry_run=args.dry_run,
        progress=_progress,
        approval=Approval(True, _operator()) if args.approve else None,
    )
    head = f"{cfg.name} as of {outcome.as_of}: {outcome.status}" + (f" v{outcome.version}" if outcome.version else "")
    _emit(args, outcome.to_dict(), [head, *(f"  {r}" for r in outcome.reasons)])
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
    report = QualityReport.from_dict(outcome.quality) if outcome.quality else None
    if webhook is None:
        return
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


def _drift(args: argparse.Namespace) -> int:
    from pipelines.drift.monitor import check_drift

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
    _emit(args, payload, lines)
    return 0


def _backfill(args: argparse.Namespace) -> int:
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
        _progress(f"{dag_id} unpaused: {note}")
    dates = planned_dates(api, dag_id, args.first, args.last)
    if not dates:
        raise InputError(f"no scheduled runs of {dag_id} between {args.first} and {args.last}")
    backfill_id = start_backfill(api, dag_id, args.first, args.last)
    _progress(f"backfill {backfill_id} of {dag_id}: {len(dates)} run(s), {dates[0]} .. {dates[-1]}")
    seen: dict[str, str] = {}

    def show(runs: list[RunResult]) -> None:
        for run in runs:
            if seen.get(run.run_id) != run.state:
                seen[run.run_id] = run.state
                done = sum(1 for r in runs if r.state in ("success", "failed"))
                _progress(f"[{done}/{len(dates)}] {run.day} {run.state}")

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
    _emit(args, {"model": cfg.name, "backfill_id": backfill_id, "runs": rows}, lines)
    return 0 if all(r.state == "success" for r in runs) else 1


def _status(args: argparse.Namespace) -> int:
    from pipelines.reports.status import history_lines, status

    load_model(args.model)
    report = status(args.model)
    _emit(args, report.to_dict(), history_lines(report))
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from pipelines.decision.manual import rollback

    load_model(args.model)
    result = rollback(args.model, args.to_version, args.reason, actor=_operator())
    _emit(args, result.to_dict(), result.reasons)
    return 0


def _alerts(args: argparse.Namespace) -> int:
    """Exit 1 when no webhook is configured, or a configured one is unusable or not delivered."""
    from pipelines.alerts.probe import check_alerts

    cfg = load_model(args.model)
    checks = check_alerts(cfg.name, args.conn_id)
    _emit(args, {"model": cfg.name, "sources": [c.to_dict() for c in checks]}, [c.line() for c in checks])
    if not any(c.configured for c in checks):
        print("error: no Slack webhook configured (see README, 'Quality gates and Slack alerts')", file=sys.stderr)
    return 1 if any(c.failed for c in checks) or not any(c.configured for c in checks) else 0


def _promote(args: argparse.Namespace) -> int:
    from pipelines.decision.manual import move_champion

    load_model(args.model)
    result = move_champion(args.model, args.version, args.reason, actor=_operator(), readmit=True)
    _emit(args, result.to_dict(), result.reasons)
    return 0


def _operator() -> str:
    """Who runs the CLI, for the ledger."""
    import getpass

    return f"{getpass.getuser()} (cli)"


_VERBS = {
    "seed": _seed,
    "ingest": _stage,
    "validate": _stage,
    "retrain": _retrain,
    "drift": _drift,
    "backfill": _backfill,
    "status": _status,
    "rollback": _rollback,
    "alerts": _alerts,
    "promote": _promote,
}
