"""Champion moves made by a person: rollback, roll-forward and re-admission of a rolled-back version, each
recorded in the ledger with who and why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pipelines.decision.promote import PromotionResult
from pipelines.decision.transaction import move_aliases, promotion_lock, reconcile_held
from pipelines.decision.verdict import rollback_reason
from pipelines.errors import InputError
from pipelines.registry import ledger
from pipelines.registry import versions as registry
from pipelines.registry.lineage import Lineage


def move_champion(
    model: str,
    target: int | None = None,
    reason: str = "manual rollback",
    actor: str = "manual",
    lineage: Lineage | None = None,
    readmit: bool = False,
) -> PromotionResult:
    """A human moves the champion to ``target`` (default: the previous champion), recorded in the ledger.

    Moving to an older version is a rollback: the version moved away from is held out of every automatic
    promotion until a human re-admits it. Moving to a newer one is a roll-forward. A held version moves
    back only with ``readmit`` (``python -m pipelines promote``), recorded as ``readmitted``. Raises
    ``InputError`` for a target that does not exist, is champion already, lacks lineage or is held.
    """
    lineage = lineage or Lineage()
    with promotion_lock(model):
        reconcile_held(model)
        current = registry.by_alias(model, registry.CHAMPION)
        chosen = target if target is not None else registry.alias_version(model, registry.PREVIOUS_CHAMPION)
        if chosen is None:
            raise InputError(f"{model}: no previous champion; name a version with --to-version")
        info = _target(model, chosen, current)
        hold = ledger.rollback_hold(model, chosen)
        if hold is not None and not readmit:
            raise InputError(rollback_reason(model, chosen, hold))
        kind, reasons = _manual_move(info, current, reason, actor, hold)
        window = (info.tags.get("window_start"), info.window_end)
        entry = ledger.Entry(
            model=model,
            kind=kind,
            version=chosen,
            champion_version=current.version if current else None,
            reasons=reasons,
            metrics={"holdout": info.holdout_metrics},
            window_start=window[0],
            window_end=window[1],
            trigger=lineage.trigger,
            cause=lineage.cause,
            airflow_run_id=lineage.airflow_run_id,
            actor=actor,
        )
        move_aliases(entry, current.version if current else None)
        if kind == "rolled_back" and current is not None:
            stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC by {actor}: {reason}"
            registry.set_tags(model, current.version, {registry.ROLLED_BACK_TAG: stamp})
        if kind == "readmitted":
            registry.delete_tag(model, chosen, registry.ROLLED_BACK_TAG)
    previous = current.version if current else None
    return PromotionResult(model, kind, chosen, chosen, previous, reasons)


def rollback(
    model: str,
    to_version: int | None = None,
    reason: str = "manual rollback",
    actor: str = "manual",
    lineage: Lineage | None = None,
) -> PromotionResult:
    """Point ``champion`` back at ``to_version`` (default: the previous champion) in one step."""
    if registry.alias_version(model, registry.CHAMPION) is None:
        raise InputError(f"{model}: there is no champion to roll back")
    return move_champion(model, to_version, reason, actor, lineage)


def _target(model: str, number: int, current: registry.VersionInfo | None) -> registry.VersionInfo:
    if current is not None and number == current.version:
        raise InputError(f"{model}: v{number} is the champion already")
    if number not in {v.version for v in registry.all_versions(model)}:
        raise InputError(f"{model}: there is no version {number}")
    info = registry.version(model, number)
    if info.missing_lineage:
        missing = ", ".join(info.missing_lineage)
        raise InputError(f"{model}: v{number} lacks lineage ({missing}); a version without it is never champion")
    return info


def _manual_move(
    info: registry.VersionInfo,
    current: registry.VersionInfo | None,
    reason: str,
    actor: str,
    hold: ledger.Entry | None,
) -> tuple[Literal["rolled_back", "rolled_forward", "readmitted"], list[str]]:
    """The kind of a human's champion move and its reasons: back, forward, or a re-admission."""
    source = f"v{current.version}" if current else "no champion"
    if hold is not None:
        held = f"rolled back on {hold.decided_at:%Y-%m-%d %H:%M} UTC by {hold.actor}"
        return "readmitted", [f"v{info.version} re-admitted by {actor} ({held}); champion was {source}: {reason}"]
    if current is None or (info.window_end or "", info.version) > (current.window_end or "", current.version):
        return "rolled_forward", [f"rolled forward from {source} to v{info.version}: {reason}"]
    return "rolled_back", [f"rolled back from {source} to v{info.version}: {reason}"]
