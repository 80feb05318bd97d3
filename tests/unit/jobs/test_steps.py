"""The step layer both the CLI chain and the DAG tasks call: each step does its stage's whole job, ledger included."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from pipelines.config.model import ModelConfig
from pipelines.decision.promote import Approval
from pipelines.demo.seed import seed
from pipelines.jobs import steps
from pipelines.quality.report import QualityGateFailed
from pipelines.registry import ledger
from pipelines.registry import versions as registry
from pipelines.registry.lineage import Lineage
from tests.unit.decision.test_evaluate_promote import with_policy

RUN_DATE = date(2026, 4, 1)  # window 2026-02-11 .. 2026-03-31


def test_a_failed_gate_is_recorded_then_raised_and_a_dry_run_records_nothing(
    registry_home: Path, demo_cfg: ModelConfig
) -> None:
    # given a source whose newest day changed units, so the per-day checks fail
    url = f"sqlite:///{registry_home / 'broken.db'}"
    seed(url, date(2026, 2, 4), days=56, rows_per_day=150, seed=3, scenario="unit-change-last-day")
    snapshot = steps.ingest(demo_cfg, RUN_DATE, url)
    lineage = Lineage(trigger="scheduled", airflow_run_id="scheduled__2026-04-01")
    # when a dry run validates it, the gate stops it and the ledger stays empty
    with pytest.raises(QualityGateFailed):
        steps.validate(demo_cfg, snapshot, lineage, dry_run=True)
    assert ledger.entries("demo") == []
    # when a real run validates it, the gate stops it and the block is in the ledger, naming the window and check
    with pytest.raises(QualityGateFailed) as info:
        steps.validate(demo_cfg, snapshot, lineage)
    [entry] = ledger.entries("demo")
    assert (entry.kind, entry.version, entry.window_end, entry.airflow_run_id) == (
        "blocked",
        None,
        snapshot.window_end,
        "scheduled__2026-04-01",
    )
    assert entry.reasons == [f"quality gate failed: {check}" for check in info.value.report.critical]


def test_a_promotion_that_needs_approval_is_held_without_an_answer_and_applied_with_one(
    registry_home: Path, seeded_source: str, demo_cfg: ModelConfig, register_trained: Callable[..., int]
) -> None:
    # given a config that requires approval and a first version the policy would promote
    cfg = with_policy(demo_cfg, approval={"required": True})
    snapshot = steps.ingest(cfg, date(2026, 3, 1), seeded_source)
    decision = steps.evaluate(cfg, snapshot, register_trained())
    assert decision.promote
    # when it is promoted without an answer, nothing moves and the result says why
    held = steps.promote(cfg, decision, Lineage())
    assert held.status == "dry_run" and held.reasons[-1] == steps.HELD
    assert registry.alias_version("demo", registry.CHAMPION) is None
    # when a person approves it, it becomes champion, recorded as approved then promoted by them
    done = steps.promote(cfg, decision, Lineage(), approval=Approval(approved=True, actor="ann"))
    assert done.status == "promoted"
    assert registry.alias_version("demo", registry.CHAMPION) == decision.challenger_version
    assert [(e.kind, e.actor) for e in reversed(ledger.entries("demo"))] == [("approved", "ann"), ("promoted", "ann")]
