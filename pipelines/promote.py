"""Promote: move the champion alias to the challenger when the decision says so, never on a stale view.

Every decision is appended to the ledger (``pipelines.ledger``) and mirrored as tags on the version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pipelines import ledger, registry
from pipelines.evaluate import Decision
from pipelines.train import Lineage

Status = Literal["promoted", "rejected", "blocked", "refused", "dry_run", "rolled_back"]


class PromotionConflict(RuntimeError):
    """The champion changed between evaluation and promotion: the decision is stale."""


@dataclass(frozen=True)
class PromotionResult:
    model: str
    status: Status
    version: int
    champion_version: int | None
    previous_champion_version: int | None
    reasons: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Approval:
    """A human's answer to a promotion the policy allowed; ``actor`` is who answered, or ``timeout``."""

    approved: bool
    actor: str


def promote(
    decision: Decision,
    dry_run: bool = False,
    lineage: Lineage | None = None,
    approval: Approval | None = None,
) -> PromotionResult:
    """Apply a decision with compare-and-set on the champion alias and record it in the ledger.

    With an ``approval``, a promotion the policy allows happens only when approved; the answer is recorded
    first (``approved`` or ``refused``).
    """
    model, version = decision.model, decision.challenger_version
    lineage = lineage or Lineage()
    with registry.promotion_lock(model):
        current = registry.by_alias(model, registry.CHAMPION)
        current_version = current.version if current else None
        refusing = decision.promote and approval is not None and not approval.approved
        applied = decision.promote and current_version == version != decision.champion_version
        if current_version != decision.champion_version and not (refusing or applied):
            stale = (
                f"{model}: champion is now v{current_version}, but v{version} was evaluated against "
                f"v{decision.champion_version}; re-run evaluate"
            )
            if approval is not None and decision.promote:  # keep the human's answer, though it cannot apply
                answer = [*decision.reasons, f"approved by {approval.actor}, not applied: {stale}"]
                _append(decision, "approved", lineage, answer, approval.actor)
            raise PromotionConflict(stale)
        if applied:
            current_version = decision.champion_version  # a retry of this very promotion: finish recording it
        reasons = list(decision.reasons)
        actor = "policy"
        status: Status
        if dry_run:
            status = "dry_run"
        elif not decision.promote:
            status = "blocked" if decision.blocked else "rejected"
        elif approval is None:
            status = "promoted"
        else:
            actor = approval.actor
            reasons.append(f"{'approved' if approval.approved else 'refused'} by {actor}")
            status = "promoted" if approval.approved else "refused"
        if status == "promoted":
            if current_version is not None:
                registry.set_alias(model, registry.PREVIOUS_CHAMPION, current_version)
            registry.set_alias(model, registry.CHAMPION, version)
        if status != "dry_run" and version != current_version:
            record_decision(model, version, status, reasons, decision.challenger_metrics)
            if approval is not None and decision.promote:
                _append(decision, "approved" if approval.approved else "refused", lineage, reasons, actor)
            if status != "refused":
                _append(decision, status, lineage, reasons, actor)
    champion = version if status == "promoted" else current_version
    previous = current_version if status == "promoted" else _alias_version(model, registry.PREVIOUS_CHAMPION)
    return PromotionResult(model, status, version, champion, previous, reasons)


def rollback(
    model: str,
    to_version: int | None = None,
    reason: str = "manual rollback",
    actor: str = "manual",
    lineage: Lineage | None = None,
) -> PromotionResult:
    """Point ``champion`` back at ``to_version`` (default: the previous champion) in one step."""
    lineage = lineage or Lineage()
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
        info = registry.version(model, target)
        window = (info.tags.get("window_start"), info.window_end)
        _record(
            model,
            "rolled_back",
            target,
            current.version,
            reasons,
            lineage,
            actor,
            window,
            {"holdout": info.holdout_metrics},
        )
    return PromotionResult(model, "rolled_back", target, target, current.version, reasons)


def record_quality_block(
    model: str, window_start: str, window_end: str, failures: list[str], lineage: Lineage | None = None
) -> ledger.Entry:
    """The quality gate stopped a run before training: a ``blocked`` entry without a version."""
    lineage = lineage or Lineage()
    champion = _alias_version(model, registry.CHAMPION)
    reasons = [f"quality gate failed: {failure}" for failure in failures]
    return _record(model, "blocked", None, champion, reasons, lineage, "quality gate", (window_start, window_end))


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


def _append(decision: Decision, kind: ledger.Kind, lineage: Lineage, reasons: list[str], actor: str) -> None:
    info = registry.version(decision.model, decision.challenger_version)
    metrics = {
        "challenger": decision.challenger_metrics,
        "champion": decision.champion_metrics or {},
        "gain_interval": list(decision.gain_interval) if decision.gain_interval else None,
        "holdout_rows": decision.holdout_rows,
        "snapshot_hash": decision.snapshot_hash,
    }
    window = (info.tags.get("window_start"), info.window_end)
    _record(
        decision.model,
        kind,
        decision.challenger_version,
        decision.champion_version,
        reasons,
        lineage,
        actor,
        window,
        metrics,
    )


def _record(
    model: str,
    kind: ledger.Kind,
    version: int | None,
    champion_version: int | None,
    reasons: list[str],
    lineage: Lineage,
    actor: str,
    window: tuple[str | None, str | None],
    metrics: dict[str, Any] | None = None,
) -> ledger.Entry:
    """Append one ledger entry with the run's lineage."""
    return ledger.append(
        ledger.Entry(
            model=model,
            kind=kind,
            version=version,
            champion_version=champion_version,
            reasons=reasons,
            metrics=metrics or {},
            window_start=window[0],
            window_end=window[1],
            trigger=lineage.trigger,
            cause=lineage.cause,
            airflow_run_id=lineage.airflow_run_id,
            actor=actor,
        )
    )


def _alias_version(model: str, alias: str) -> int | None:
    info = registry.by_alias(model, alias)
    return info.version if info else None
