"""What a model's registry looks like now: aliases, their lineage and metrics, and recent decisions."""

from __future__ import annotations

import json
from typing import Any

from pipelines import registry


def status(model: str, limit: int = 20) -> dict[str, Any]:
    """The stable ``status --json`` shape."""
    aliases = {
        key: registry.by_alias(model, alias)
        for key, alias in (
            ("champion", registry.CHAMPION),
            ("challenger", registry.CHALLENGER),
            ("previous_champion", registry.PREVIOUS_CHAMPION),
        )
    }
    decisions = [
        {
            "version": info.version,
            "decision": info.tags["decision"],
            "decided_at": info.tags.get("decided_at"),
            "window_end": info.window_end,
            "trigger": info.tags.get("trigger"),
            "reasons": json.loads(info.tags.get("decision_reasons", "[]")),
        }
        for info in registry.all_versions(model)
        if "decision" in info.tags
    ]
    decisions.sort(key=lambda d: (d["decided_at"] or "", d["version"]), reverse=True)
    return {
        "model": model,
        **{key: info.summary() if info else None for key, info in aliases.items()},
        "decisions": decisions[:limit],
    }


def history_lines(report: dict[str, Any]) -> list[str]:
    """Human-readable champion history, oldest first."""
    lines = []
    for d in reversed(report["decisions"]):
        headline = {
            "promoted": "became champion",
            "rolled_back": "champion again (rollback)",
            "rejected": "rejected",
        }.get(d["decision"], d["decision"])
        lines.append(
            f"v{d['version']} {headline} at {d['decided_at']} (data before {d['window_end']}, {d['trigger'] or 'manual'})"
        )
        lines.extend(f"    {reason}" for reason in d["reasons"])
    champion = report["champion"]
    lines.append(
        f"champion now: v{champion['version']} (data before {champion['window_end']})"
        if champion
        else "no champion yet"
    )
    return lines
