"""Verbs about the champion and its alerts: status, rollback, promote by hand, and the Slack test."""

from __future__ import annotations

import argparse
import sys

from pipelines.commands.output import emit, operator
from pipelines.config.loading import load_model


def status_command(args: argparse.Namespace) -> int:
    """Print the champion, challenger and previous champion, the promotion ledger and measured performance."""
    from pipelines.reports.status import history_lines, performance_lines, status

    cfg = load_model(args.model)
    report = status(args.model, cfg=cfg)
    emit(args, report.to_dict(), [*history_lines(report), *performance_lines(report)])
    return 0


def rollback_command(args: argparse.Namespace) -> int:
    """Move the champion back to the previous (or a given) version, recorded in the ledger."""
    from pipelines.decision.manual import rollback

    load_model(args.model)
    result = rollback(args.model, args.to_version, args.reason, actor=operator())
    emit(args, result.to_dict(), result.reasons)
    return 0


def alerts_command(args: argparse.Namespace) -> int:
    """Exit 1 when no webhook is configured, or a configured one is unusable or not delivered."""
    from pipelines.alerts.probe import check_alerts

    cfg = load_model(args.model)
    checks = check_alerts(cfg.name, args.conn_id)
    emit(args, {"model": cfg.name, "sources": [c.to_dict() for c in checks]}, [c.line() for c in checks])
    if not any(c.configured for c in checks):
        print("error: no Slack webhook configured (see README, 'Quality gates and Slack alerts')", file=sys.stderr)
    return 1 if any(c.failed for c in checks) or not any(c.configured for c in checks) else 0


def promote_command(args: argparse.Namespace) -> int:
    """Make a given version champion by hand, re-admitting it if it was rolled back."""
    from pipelines.decision.manual import move_champion

    load_model(args.model)
    result = move_champion(args.model, args.version, args.reason, actor=operator(), readmit=True)
    emit(args, result.to_dict(), result.reasons)
    return 0
