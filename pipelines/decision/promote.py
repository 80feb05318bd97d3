"""Promote: move the champion alias when the decision says so, as a move the ledger can always explain.

A champion move is a small transaction across MLflow and the ledger: an intent is written first, then the
aliases move, then the ledger entry is inserted and the intent closed in one database transaction
(``decision.transaction``). Every ``promote``, ``decision.manual.move_champion`` (rollback, roll-forward,
re-admission) and ``status`` first reconciles what a crash left half done (``transaction.reconcile``): a move
that happened gets its entry, one that did not is abandoned, and a champion that no entry explains is recorded
as ``found``. All of it runs under the model's promotion lock in the pipeline's database. Dry runs move nothing
and record nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pipelines.decision.transaction import move_aliases, promotion_lock, reconcile_held
from pipelines.decision.verdict import Decision, rollback_reason
from pipelines.errors import PipelinesError
from pipelines.faults import stop_point
from pipelines.registry import ledger
from pipelines.registry import versions as registry
from pipelines.registry.lineage import Lineage

Status = Literal["promoted", "rejected", "blocked", "refused", "dry_run", "rolled_back", "rolled_forward", "readmitted"]


class PromotionConflict(PipelinesError, RuntimeError):
    """The champion changed between evaluation and promotion: the decision is stale."""


@dataclass(frozen=True)
class PromotionResult:
    """What a promotion (or a manual move) did: the status, the version, and the champion before and after."""

    model: str
    status: Status
    version: int
    champion_version: int | None
    previous_champion_version: int | None
    reasons: list[str]

    def to_dict(self) -> dict[str, Any]:
        """The result's fields as a plain dict."""
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
    first (``approved`` or ``refused``). A version a rollback holds out is blocked, whatever its metrics.
    """
    model, version = decision.model, decision.challenger_version
    lineage = lineage or Lineage()
    if dry_run:
        current = registry.alias_version(model, registry.CHAMPION)
        previous = registry.alias_version(model, registry.PREVIOUS_CHAMPION)
        return PromotionResult(model, "dry_run", version, current, previous, list(decision.reasons))
    with promotion_lock(model):
        reconcile_held(model)
        current = registry.alias_version(model, registry.CHAMPION)
        if current == version:
            return _already_champion(decision, lineage)
        refusing = decision.promote and approval is not None and not approval.approved
        if current != decision.champion_version and not refusing:
            stale = (
                f"{model}: champion is now v{current}, but v{version} was evaluated against "
                f"v{decision.champion_version}; re-run evaluate"
            )
            if approval is not None and decision.promote:  # keep the human's answer, though it cannot apply
                answer = [*decision.reasons, f"approved by {approval.actor}, not applied: {stale}"]
                ledger.append(_entry(decision, "approved", lineage, answer, approval.actor))
            raise PromotionConflict(stale)
        status, actor, reasons = _verdict(decision, approval)
        if approval is not None and status in ("promoted", "refused"):
            said: ledger.Kind = "approved" if approval.approved else "refused"
            ledger.append(_entry(decision, said, lineage, reasons, approval.actor))
        if status == "promoted":
            move_aliases(_entry(decision, "promoted", lineage, reasons, actor), current)
        elif status != "refused":
            ledger.append(_entry(decision, status, lineage, reasons, actor))
            stop_point("ledger_written")
        registry.set_alias(model, registry.CHALLENGER, version)
        stop_point("challenger_moved")
        _mirror_decision(model, version, status, reasons, decision)
    champion = version if status == "promoted" else current
    previous = current if status == "promoted" else registry.alias_version(model, registry.PREVIOUS_CHAMPION)
    return PromotionResult(model, status, version, champion, previous, reasons)


def _verdict(
    decision: Decision, approval: Approval | None
) -> tuple[Literal["promoted", "rejected", "blocked", "refused"], str, list[str]]:
    """What applying the decision means now: its status, who decided, and every reason."""
    reasons = list(decision.reasons)
    hold = ledger.rollback_hold(decision.model, decision.challenger_version) if decision.promote else None
    if hold is not None:
        reasons.append(f"FAIL rollback: {rollback_reason(decision.model, decision.challenger_version, hold)}")
        return "blocked", "policy", reasons
    if not decision.promote:
        return ("blocked" if decision.blocked else "rejected"), "policy", reasons
    if approval is None:
        return "promoted", "policy", reasons
    reasons.append(f"{'approved' if approval.approved else 'refused'} by {approval.actor}")
    return ("promoted" if approval.approved else "refused"), approval.actor, reasons


def _already_champion(decision: Decision, lineage: Lineage) -> PromotionResult:
    """The version is champion already: a retry of this run, another run, or an earlier run promoted it.

    Nothing is recorded again; the status is ``promoted`` only for a retry of the run that promoted it.
    """
    model, version = decision.model, decision.challenger_version
    entry = ledger.champion_entry(model)
    ours = entry is not None and lineage.airflow_run_id is not None and entry.airflow_run_id == lineage.airflow_run_id
    by_whom = f"ledger entry {entry.id}, {entry.kind} by {entry.actor}" if entry is not None else "no ledger entry"
    reasons = [*decision.reasons, f"v{version} is the champion already ({by_whom})"]
    previous = registry.alias_version(model, registry.PREVIOUS_CHAMPION)
    return PromotionResult(model, "promoted" if ours else "rejected", version, version, previous, reasons)


def record_quality_block(
    model: str, window_start: str, window_end: str, failures: list[str], lineage: Lineage | None = None
) -> ledger.Entry:
    """The quality gate stopped a run before training: a ``blocked`` entry without a version."""
    lineage = lineage or Lineage()
    champion = registry.alias_version(model, registry.CHAMPION)
    reasons = [f"quality gate failed: {failure}" for failure in failures]
    return ledger.append(
        ledger.Entry(
            model=model,
            kind="blocked",
            version=None,
            champion_version=champion,
            reasons=reasons,
            window_start=window_start,
            window_end=window_end,
            trigger=lineage.trigger,
            cause=lineage.cause,
            airflow_run_id=lineage.airflow_run_id,
            actor="quality gate",
        )
    )


def _mirror_decision(model: str, version: int, status: str, reasons: list[str], decision: Decision) -> None:
    """Mirror a decision as version tags for MLflow's UI: the version's first judgement, or its promotion.

    Later decisions live in the ledger only, so a version's tags never lose the decision that promoted it.
    """
    tags = registry.version(model, version).tags
    if "decision" in tags and status != "promoted":
        return
    mirror: dict[str, Any] = {
        "decision": status,
        "decision_reasons": reasons,
        "decided_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "decision_id": decision.decision_id,
        registry.CARD_TAG: decision.decision_id,
    }
    mirror.update({f"holdout.{k}": repr(v) for k, v in decision.challenger_metrics.items()})
    registry.set_tags(model, version, mirror)


def _entry(decision: Decision, kind: ledger.Kind, lineage: Lineage, reasons: list[str], actor: str) -> ledger.Entry:
    """The ledger entry of a decision about its challenger, with the run's lineage."""
    info = registry.version(decision.model, decision.challenger_version)
    metrics = {
        "challenger": decision.challenger_metrics,
        "champion": decision.champion_metrics or {},
        "gain_interval": list(decision.gain_interval) if decision.gain_interval else None,
        "holdout_rows": decision.holdout_rows,
        "snapshot_hash": decision.snapshot_hash,
    }
    return ledger.Entry(
        model=decision.model,
        kind=kind,
        version=decision.challenger_version,
        champion_version=decision.champion_version,
        reasons=reasons,
        metrics=metrics,
        window_start=info.tags.get("window_start"),
        window_end=info.window_end,
        trigger=lineage.trigger,
        cause=lineage.cause,
        airflow_run_id=lineage.airflow_run_id,
        actor=actor,
        decision_id=decision.decision_id or None,
    )
