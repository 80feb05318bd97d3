"""Promote: move the champion alias when the decision says so, as a move the ledger can always explain.

A champion move is a small transaction across MLflow and the ledger: an intent is written first, then the
aliases move, then the ledger entry is inserted and the intent closed in one database transaction. Every
``promote``, ``move_champion`` (rollback, roll-forward, re-admission) and ``status`` first reconciles what a
crash left half done (``reconcile``): a move that happened gets its entry, one that did not is abandoned, and
a champion that no entry explains is recorded as ``found``. All of it runs under the model's promotion lock
in the pipeline's database. Dry runs move nothing and record nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pipelines.decision.evaluate import Decision, rollback_reason
from pipelines.errors import InputError, PipelinesError
from pipelines.faults import stop_point
from pipelines.model.train import Lineage
from pipelines.registry import ledger, locks
from pipelines.registry import versions as registry
from pipelines.reports.model_card import CARD_TAG

Status = Literal["promoted", "rejected", "blocked", "refused", "dry_run", "rolled_back", "rolled_forward", "readmitted"]


class PromotionConflict(PipelinesError, RuntimeError):
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


@contextmanager
def promotion_lock(model: str) -> Iterator[None]:
    """Serialise champion moves of one model across processes and machines.

    Waits at most ``PIPELINES_PROMOTION_LOCK_TIMEOUT`` seconds (default 60), then raises ``LockTimeout``.
    """
    timeout = float(os.environ.get("PIPELINES_PROMOTION_LOCK_TIMEOUT") or 60)
    with locks.held(f"promotion:{model}", timeout):
        yield


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
            _move(_entry(decision, "promoted", lineage, reasons, actor), current)
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
    ``ValueError`` for a target that does not exist, is champion already, lacks lineage or is held.
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
        _move(entry, current.version if current else None)
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


def _move(entry: ledger.Entry, current: int | None) -> ledger.Entry:
    """Intent, aliases, then entry and intent closed together: a crash anywhere leaves a reconcilable state."""
    model = entry.model
    assert entry.version is not None
    intent = ledger.open_intent(entry, current, registry.alias_version(model, registry.PREVIOUS_CHAMPION))
    stop_point("intent_written")
    if current is not None:
        registry.set_alias(model, registry.PREVIOUS_CHAMPION, current)
        stop_point("previous_champion_moved")
    registry.set_alias(model, registry.CHAMPION, entry.version)
    stop_point("champion_moved")
    recorded = ledger.commit_intent(intent)
    stop_point("ledger_written")
    return recorded


def reconcile(model: str, actor: str = "reconcile") -> list[str]:
    """Finish or abandon what a crash left half done, under the promotion lock; returns what was fixed."""
    with promotion_lock(model):
        return reconcile_held(model, actor)


def reconcile_held(model: str, actor: str = "reconcile") -> list[str]:
    """``reconcile`` for a caller that holds the promotion lock already."""
    fixed = []
    now = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
    for intent in ledger.pending_intents(model):
        champion = registry.alias_version(model, registry.CHAMPION)
        if champion == intent.target_version:
            if intent.from_version is not None:
                _point(model, registry.PREVIOUS_CHAMPION, intent.from_version)
            note = f"recorded by {actor} at {now}: the process stopped after the champion alias moved"
            ledger.commit_intent(intent, note)
            fixed.append(f"v{intent.target_version}: {note}")
        else:
            _point(model, registry.PREVIOUS_CHAMPION, intent.previous_before)
            note = f"abandoned by {actor} at {now}: the champion alias never moved to v{intent.target_version}"
            ledger.abandon_intent(intent, note)
            fixed.append(note)
    found = _unexplained_champion(model, actor, now)
    if found is not None:
        fixed.append(found)
    return fixed


def _point(model: str, alias: str, number: int | None) -> None:
    """Move ``alias`` to ``number`` (None: remove it) unless it is there already."""
    if registry.alias_version(model, alias) != number:
        registry.set_alias(model, alias, number)


def _unexplained_champion(model: str, actor: str, now: str) -> str | None:
    """Record a champion alias that no ledger entry explains (moved outside the pipeline) as ``found``."""
    champion = registry.by_alias(model, registry.CHAMPION)
    last = ledger.champion_entry(model)
    recorded = last.version if last is not None else None
    if (champion.version if champion else None) == recorded:
        return None
    said = f"v{recorded}" if recorded is not None else "none"
    if champion is None:
        reason = f"the champion alias is gone, though the ledger's last champion is {said}; found by {actor} at {now}"
        window: tuple[str | None, str | None] = (None, None)
    else:
        reason = (
            f"the champion alias is on v{champion.version}, which no ledger entry explains (last recorded: {said}); "
            f"found by {actor} at {now}"
        )
        window = (champion.tags.get("window_start"), champion.window_end)
    ledger.append(
        ledger.Entry(
            model=model,
            kind="found",
            version=champion.version if champion else None,
            champion_version=recorded,
            reasons=[reason],
            window_start=window[0],
            window_end=window[1],
            actor=actor,
        )
    )
    return reason


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
        CARD_TAG: decision.decision_id,
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
