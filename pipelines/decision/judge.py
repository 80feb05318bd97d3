"""The promotion policy as a pure function: holdout metrics, windows and slices in, checks out (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipelines.config.model import ModelConfig
from pipelines.decision.verdict import Check
from pipelines.model.metrics import HIGHER_IS_BETTER, gain
from pipelines.model.slices import SliceMetric


def judge(
    cfg: ModelConfig,
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    interval: tuple[float, float] | None,
    challenger_window_end: str | None = None,
    champion_window_end: str | None = None,
    slices: Sequence[SliceMetric] = (),
) -> list[Check]:
    """Apply the policy to holdout metrics; the first model (no champion) faces only the floor.

    Each judged slice that got worse than the champion's by more than ``policy.slices.tolerance`` is a
    failed blocking check of its own; the rest are summed up in one ``slices`` check.
    """
    policy = cfg.policy
    metric = policy.primary_metric
    value = challenger[metric]
    better = ">=" if HIGHER_IS_BETTER[metric] else "<="
    meets_floor = bool(np.isfinite(value)) and gain(metric, value, policy.floor) >= 0
    checks = [Check("floor", meets_floor, f"{metric} {value:.4f} must be {better} {policy.floor:.4f}")]
    if champion is None:
        checks.append(Check("champion", True, "no champion yet: only the floor applies"))
        return checks
    checks.extend(window_checks(challenger_window_end, champion_window_end))
    delta = gain(metric, value, champion[metric])
    checks.append(
        Check(
            "improvement",
            bool(np.isfinite(delta)) and delta >= policy.min_improvement,
            f"{metric} {champion[metric]:.4f} -> {value:.4f} (gain {delta:+.4f}, needs >= {policy.min_improvement:+.4f})",
        )
    )
    for guard, tolerance in policy.guards.items():
        loss = -gain(guard, challenger[guard], champion[guard])
        change = f"better by {-loss:.4f}" if loss < 0 else f"worse by {loss + 0.0:.4f}"
        checks.append(
            Check(
                f"guard:{guard}",
                bool(np.isfinite(loss)) and loss <= tolerance,
                f"{guard} {champion[guard]:.4f} -> {challenger[guard]:.4f} ({change}, tolerance {tolerance:.4f})",
            )
        )
    if slices:
        checks.extend(_slice_checks(cfg, slices))
    if interval is not None:
        low, high = interval
        level = f"{policy.bootstrap.confidence:.0%}"
        detail = f"{level} paired bootstrap interval of the {metric} gain: [{low:+.4f}, {high:+.4f}]"
        if policy.bootstrap.require_significant:
            checks.append(Check("significance", low > 0, detail + " must lie above 0"))
        else:
            checks.append(Check("significance", True, detail + " (informational)"))
    return checks


def window_checks(challenger_window_end: str | None, champion_window_end: str | None) -> list[Check]:
    """A blocking check when the challenger's data ends before the champion's, else none."""
    if not (challenger_window_end and champion_window_end and challenger_window_end < champion_window_end):
        return []
    detail = (
        f"challenger's data ends {challenger_window_end}, before the champion's {champion_window_end}: "
        "an older window never replaces a newer champion"
    )
    return [Check("data_window", False, detail, blocking=True)]


def _slice_checks(cfg: ModelConfig, slices: Sequence[SliceMetric]) -> list[Check]:
    metric, limits = cfg.policy.primary_metric, cfg.policy.slices
    failed, within = [], 0
    for piece in slices:
        if not piece.judged or piece.champion is None:
            continue
        loss = -gain(metric, piece.challenger, piece.champion)
        if loss <= limits.tolerance:
            within += 1
            continue
        failed.append(
            Check(
                f"slice:{piece.name}",
                False,
                f"{piece.name} {metric} {piece.champion:.4f} -> {piece.challenger:.4f} (worse by {loss:.4f}, "
                f"tolerance {limits.tolerance:.4f}, {_size(piece)})",
                blocking=True,
            )
        )
    judged = within + len(failed)
    if failed:
        summary = (
            f"{len(failed)} of {judged} judged slices worse than the champion's {metric} by more than "
            f"{limits.tolerance:.4f} (listed below); {within} within"
        )
    else:
        summary = f"{within} of {judged} judged slices within {limits.tolerance:.4f} of the champion's {metric}"
    skipped = [f"{p.name} ({_size(p)})" for p in slices if not p.judged]
    if skipped:
        rule = f"under {limits.min_rows} rows" + (
            f" or under {limits.min_positives} positive or negative rows" if cfg.task == "binary" else ""
        )
        summary += f"; not judged ({rule}, or a metric undefined): {', '.join(skipped)}"
    return [Check("slices", not failed, summary), *failed]


def _size(piece: SliceMetric) -> str:
    if piece.positives is None:
        return f"{piece.rows} rows"
    return f"{piece.rows} rows, {piece.positives} positive"
