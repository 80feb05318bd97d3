"""What the pipeline knows about a registered model version: the lineage it is born with, and the tags on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LINEAGE_KEYS = (
    "window_start",
    "holdout_start",
    "window_end",
    "snapshot_hash",
    "snapshot_path",
    "config_hash",
    "code_version",
    "suite",
    "trigger",
    "trigger_cause",
    "airflow_run_id",
    "training_rows",
)
"""Tags every version is created with, in the call that creates it; a version missing one is never used."""


@dataclass(frozen=True)
class VersionInfo:
    """A registered model version and the lineage and decision tags the pipeline put on it."""

    version: int
    run_id: str | None
    tags: dict[str, str]

    @property
    def window_end(self) -> str | None:
        """The end of the data window the version was trained on, from its tags."""
        return self.tags.get("window_end")

    @property
    def missing_lineage(self) -> list[str]:
        """Lineage tags this version lacks: any at all means it is never reused or promoted."""
        return [key for key in LINEAGE_KEYS if key not in self.tags]

    @property
    def holdout_metrics(self) -> dict[str, float]:
        """The holdout metrics the pipeline tagged the version with, by metric name."""
        return {k.removeprefix("holdout."): float(v) for k, v in self.tags.items() if k.startswith("holdout.")}

    def summary(self) -> dict[str, Any]:
        """The version's window, snapshot, trigger, holdout metrics and decision, for ``status``."""
        return {
            "version": self.version,
            "window_start": self.tags.get("window_start"),
            "window_end": self.window_end,
            "snapshot_hash": self.tags.get("snapshot_hash"),
            "trigger": self.tags.get("trigger"),
            "metrics": self.holdout_metrics,
            "decision": self.tags.get("decision"),
        }
