"""What a model looks like now: aliases with their lineage, the promotion ledger, the latest quality and drift."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pipelines.config import settings
from pipelines.registry import ledger
from pipelines.registry import versions as registry


def status(model: str, limit: int = 20) -> dict[str, Any]:
    """The stable ``status --json`` shape, after reconciling any champion move a crash left half done."""
    from pipelines.decision.promote import reconcile

    reconcile(model, actor="status")
    aliases = {
        key: registry.by_alias(model, alias)
        for key, alias in (
            ("champion", registry.CHAMPION),
            ("challenger", registry.CHALLENGER),
            ("previous_champion", registry.PREVIOUS_CHAMPION),
        )
    }
    return {
        "model": model,
        **{key: _summary(info) if info else None for key, info in aliases.items()},
        "ledger": [entry.to_dict() for entry in ledger.entries(model, limit)],
        "quality": latest_quality(model),
        "drift": latest_drift(model),
    }


def latest_quality(model: str) -> dict[str, Any] | None:
    """The most recent validation written next to a snapshot of the model, or None."""
    results = sorted(
        (settings.snapshots_dir() / model).glob("window=*/*.validation.json"), key=lambda p: p.stat().st_mtime
    )
    if not results:
        return None
    from pipelines.quality.gate import QualityReport

    latest = results[-1]
    report = QualityReport.from_dict(json.loads(latest.read_text())["report"])
    return {
        "window_end": latest.parent.name.rsplit("_", 1)[-1],
        "validated_at": datetime.fromtimestamp(latest.stat().st_mtime, UTC).isoformat(timespec="seconds"),
        "suite": report.suite,
        "success": report.success,
        "evaluated": report.evaluated,
        "failed": [str(c) for c in report.critical],
        "warnings": [str(c) for c in report.warnings],
        "docs_path": report.docs_path,
    }


def latest_drift(model: str) -> dict[str, Any] | None:
    """The most recent drift check of the model (its ``monitor`` run in MLflow), or None."""
    client = registry.client()
    experiment = client.get_experiment_by_name(model)
    if experiment is None:
        return None
    runs = client.search_runs(
        [experiment.experiment_id], "tags.stage = 'monitor'", order_by=["attributes.start_time DESC"], max_results=1
    )
    if not runs:
        return None
    run = runs[0]
    tags = run.data.tags
    return {
        "checked_at": datetime.fromtimestamp(run.info.start_time / 1000, UTC).isoformat(timespec="seconds"),
        "window_end": tags.get("window_end"),
        "champion_version": int(tags["champion_version"]) if tags.get("champion_version", "").isdigit() else None,
        "drift": tags.get("drift") == "True",
        "confirmed": tags.get("drift_confirmed") == "True",
        "features": [f for f in tags.get("drifted", "").split(",") if f],
        "run_id": run.info.run_id,
    }


def history_lines(report: dict[str, Any]) -> list[str]:
    """Human-readable ledger, oldest first, then the current champion."""
    lines = []
    for entry in reversed(report["ledger"]):
        headline = {
            "promoted": "became champion",
            "rolled_back": "champion again (rollback)",
            "rolled_forward": "became champion (roll-forward)",
            "readmitted": "re-admitted and champion again",
            "found": "found as champion, unexplained by any decision",
            "blocked": "blocked",
            "rejected": "rejected",
            "approved": "approved",
            "refused": "refused",
        }[entry["kind"]]
        subject = f"v{entry['version']}" if entry["version"] is not None else "run"
        lines.append(
            f"{entry['decided_at']} {subject} {headline} (data before {entry['window_end']}, "
            f"{entry['trigger']}, by {entry['actor']})"
        )
        lines.extend(f"    {reason}" for reason in entry["reasons"])
    champion = report["champion"]
    lines.append(
        f"champion now: v{champion['version']} (data before {champion['window_end']})"
        if champion
        else "no champion yet"
    )
    return lines


def _summary(info: registry.VersionInfo) -> dict[str, Any]:
    return {**info.summary(), "run_id": info.run_id}
