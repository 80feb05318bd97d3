"""Verbs of the feedback loop: score a window with the champion, measure how it performs, how often to retrain."""

from __future__ import annotations

import argparse

from pipelines.commands.output import emit, progress
from pipelines.config.loading import load_model


def score_command(args: argparse.Namespace) -> int:
    """Score the days before ``--as-of`` with the champion into the predictions table."""
    from pipelines.jobs import steps
    from pipelines.performance.batch_score import score_window

    cfg = load_model(args.model)
    source_url = args.source_url or cfg.scored_source.resolve_url()
    target_url = args.target_url or steps.predictions_url(cfg)
    result = score_window(cfg, args.as_of, source_url, target_url, run_id=f"cli__{args.as_of}", progress=progress)
    lines = [
        f"{cfg.name} v{result.version} scored {result.rows} rows of {result.window_start}..{result.window_end} "
        f"in {result.batches} batches into {result.table} ({result.target}), {result.seconds:.1f} s",
        *(f"  unseen: {line}" for line in result.unseen),
        *(
            [f"  {result.outside} rows the source returned outside the window were not scored"]
            if result.outside
            else []
        ),
    ]
    emit(args, result.to_dict(), lines)
    return 0


def performance_command(args: argparse.Namespace) -> int:
    """Measure the predictions before ``--as-of`` (realized and estimated) and check the champion for decay."""
    from pipelines.jobs import steps
    from pipelines.jobs.feedback import measure_performance

    cfg = load_model(args.model)
    source_url = args.source_url or cfg.scored_source.resolve_url()
    target_url = args.target_url or steps.predictions_url(cfg)
    check = measure_performance(cfg, args.as_of, source_url, target_url, record=args.record)
    verdict = "confirmed decay" if check.confirmed else ("decay" if check.decay else "no decay")
    lines = [
        f"{cfg.name} v{check.champion_version} as of {args.as_of}: {verdict} ({check.reason})",
        *(
            f"  {b.kind} {check.metric}: {'n/a' if b.value is None else f'{b.value:.4f}'} "
            f"({b.rows} rows, {b.first_day}..{b.last_day})"
            for b in check.measured
        ),
        *(f"  finding: {line}" for line in check.findings),
        *(f"  note: {line}" for line in check.notes),
    ]
    emit(args, check.to_dict(), lines)
    return 0


def cadence_command(args: argparse.Namespace) -> int:
    """Fit how the primary metric decays with a model's age and recommend the longest safe retrain interval."""
    from pipelines.jobs.cadence import cadence

    cfg = load_model(args.model)
    source_url = args.source_url or cfg.source.resolve_url()
    basis, found = cadence(cfg, args.as_of, source_url, args.weeks, args.models, args.replay, progress)
    payload = {"model": cfg.name, "basis": basis, **found.to_dict()}
    if found.slope_per_day is None or found.slope_interval is None or found.recommended_interval is None:
        lines = [f"{cfg.name}: no cadence from {basis}: {'; '.join(found.notes)}"]
    else:
        low, high = found.slope_interval
        shortest, longest = found.recommended_interval
        longest_text = "no limit seen" if longest is None else f"{longest:.0f}"
        lines = [
            f"{cfg.name}: {found.metric} changes {found.slope_per_day * 7:+.4f} per week of model age "
            f"(90% interval {low * 7:+.4f}..{high * 7:+.4f}), from {found.models} models ({basis})",
            f"retrain at least every {found.recommended_days:.0f} days to stay within {found.tolerance} of a fresh "
            f"model (interval {shortest:.0f}..{longest_text} days; {found.horizon_days:.0f} days of age observed)",
            *(f"  note: {note}" for note in found.notes),
        ]
    emit(args, payload, lines)
    return 0
