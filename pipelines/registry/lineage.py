"""Why a model version exists: what triggered its run and which orchestrator run it was (recorded on the version
and in the ledger).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lineage:
    """Why this version exists: what triggered it and which orchestrator run."""

    trigger: str = "manual"
    airflow_run_id: str | None = None
    cause: str = ""  # e.g. the drift report summary that triggered the run
