"""Promote: move the champion alias to the challenger when the decision says so, never on a stale view."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pipelines import registry
from pipelines.evaluate import Decision


class PromotionConflict(RuntimeError):
    """The champion changed between evaluation and promotion: the decision is stale."""


@dataclass(frozen=True)
class PromotionResult:
    model: str
    status: Literal["promoted", "rejected", "dry_run", "rolled_back"]
    version: int
    champion_version: int | None
    previous_champion_version: int | None
    reasons: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def promote(decision: Decision, dry_run: bool = False) -> PromotionResult:
    """Apply a decision with compare-and-set on the champion alias, recording it on the version."""
    model, version = decision.model, decision.challenger_version
    with registry.promotion_lock(model):
        current = registry.by_alias(model, registry.CHAMPION)
        current_version = current.version if current else None
        if current_version != decision.champion_version:
            raise PromotionConflict(
                f"{model}: champion is now v{current_version}, but v{version} was evaluated against "
                f"v{decision.champion_version}; re-run evaluate"
            )
        status: Literal["promoted", "rejected", "dry_run"]
        if dry_run:
            status = "dry_run"
        elif decision.promote:
            status = "promoted"
            if current_version is not None:
                registry.set_alias(model, registry.PREVIOUS_CHAMPION, current_version)
            registry.set_alias(model, registry.CHAMPION, version)
        else:
            status = "rejected"
        if status != "dry_run" and version != current_version:
            record_decision(model, version, status, decision.reasons, decision.challenger_metrics)
    champion = version if status == "promoted" else current_version
    previous = current_version if status == "promoted" else _alias_version(model, registry.PREVIOUS_CHAMPION)
    return PromotionResult(model, status, version, champion, previous, decision.reasons)


def rollback(model: str, to_version: int | None = None, reason: str = "manual rollback") -> PromotionResult:
    """Point ``champion`` back at ``to_version`` (default: the previous champion) in one step."""
    with registry.promotion_lock(model):
        current = registry.by_alias(model, registry.CHAMPION)
        target = to_version if to_version is not None else _alias_version(model, registry.PREVIOUS_CHAMPION)
        if current is None:
            raise ValueError(f"{model}: there is no champion to roll back")
        if target is None:
            raise ValueError(f"{model}: no previous champion; name a version with --to-version")
        if target == current.version:
            raise ValueError(f"{model}: v{target} is the champion already")
        if target not in {v.version for v in registry.all_versions(model)}:
            raise ValueError(f"{model}: there is no version {target}")
        registry.set_alias(model, registry.PREVIOUS_CHAMPION, current.version)
        registry.set_alias(model, registry.CHAMPION, target)
        reasons = [f"rolled back from v{current.version} to v{target}: {reason}"]
        record_decision(model, target, "rolled_back", reasons, None)
    return PromotionResult(model, "rolled_back", target, target, current.version, reasons)


def record_decision(
    model: str, version: int, decision: str, reasons: list[str], holdout: dict[str, float] | None
) -> None:
    tags: dict[str, Any] = {
        "decision": decision,
        "decision_reasons": reasons,
        "decided_at": datetime.now(UTC).isoformat(timespec="microseconds"),
    }
    tags.update({f"holdout.{k}": repr(v) for k, v in (holdout or {}).items()})
    registry.set_tags(model, version, tags)


def _alias_version(model: str, alias: str) -> int | None:
    info = registry.by_alias(model, alias)
    return info.version if info else None
