"""A champion move as a transaction: the model's promotion lock, then an intent, the aliases and the ledger entry;
and reconcile, which finishes or abandons what a crash left half done and records a champion no entry explains.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from pipelines.faults import stop_point
from pipelines.registry import ledger, locks
from pipelines.registry import versions as registry


@contextmanager
def promotion_lock(model: str) -> Iterator[None]:
    """Serialise champion moves of one model across processes and machines.

    Waits at most ``PIPELINES_PROMOTION_LOCK_TIMEOUT`` seconds (default 60), then raises ``LockTimeout``.
    """
    timeout = float(os.environ.get("PIPELINES_PROMOTION_LOCK_TIMEOUT") or 60)
    with locks.held(f"promotion:{model}", timeout):
        yield


def move_aliases(entry: ledger.Entry, current: int | None) -> ledger.Entry:
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
