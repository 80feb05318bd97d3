"""The promotion ledger: one appended row per decision, of every kind, readable after a restart."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipelines.config.model import ModelConfig
from pipelines.data.ingest import ingest
from pipelines.data.snapshot import Snapshot
from pipelines.decision.evaluate import evaluate
from pipelines.decision.manual import rollback
from pipelines.decision.promote import Approval, PromotionConflict, promote, record_quality_block
from pipelines.registry import db, ledger
from pipelines.registry import versions as registry
from pipelines.registry.lineage import Lineage

AS_OF = date(2026, 3, 1)


def strict(cfg: ModelConfig) -> ModelConfig:
    """The demo config with a gain over the champion that an identical model can never reach."""
    data = cfg.model_dump(by_alias=True)
    return ModelConfig.model_validate({**data, "policy": {**data["policy"], "min_improvement": 0.05}})


@pytest.fixture
def snapshot(registry_home: Path, seeded_source: str, demo_cfg: ModelConfig) -> Snapshot:
    return ingest(demo_cfg, AS_OF, seeded_source)


def test_every_kind_of_decision_is_appended_with_its_context(
    demo_cfg: ModelConfig, snapshot: Snapshot, register_trained: Callable[..., int]
) -> None:
    nightly = Lineage("scheduled", "scheduled__2026-03-01T02:00:00+00:00")
    # given v1 promoted by a nightly run (only the floor applies)
    v1 = register_trained()
    assert promote(evaluate(demo_cfg, snapshot, v1), lineage=nightly).status == "promoted"
    # when v2 cannot beat v1 by the required margin, v3's data ends before the champion's,
    v2, v3 = register_trained(), register_trained(window_end="2026-02-01")
    assert promote(evaluate(strict(demo_cfg), snapshot, v2), lineage=nightly).status == "rejected"
    assert promote(evaluate(demo_cfg, snapshot, v3), lineage=Lineage("backfill", "backfill__x")).status == "blocked"
    # and the quality gate stops a drift-triggered run before training,
    drift = Lineage("drift", "asset_triggered__y", '[{"drifted": ["region"]}]')
    record_quality_block("demo", "2026-01-20", "2026-03-02", ["expect_column_values_to_not_be_null on plan"], drift)
    # and a human approves v4, then refuses v5, and v1 is rolled back to by an operator
    v4 = register_trained()
    assert promote(evaluate(demo_cfg, snapshot, v4), approval=Approval(True, "alice")).status == "promoted"
    v5 = register_trained()
    assert promote(evaluate(demo_cfg, snapshot, v5), approval=Approval(False, "timeout")).status == "refused"
    assert rollback("demo", to_version=v1, reason="bad predictions", actor="bob").status == "rolled_back"

    # then the ledger holds every decision, newest first, with who decided and why
    entries = ledger.entries("demo")
    assert [(e.kind, e.version, e.champion_version, e.actor) for e in entries] == [
        ("rolled_back", v1, v4, "bob"),
        ("refused", v5, v4, "timeout"),
        ("promoted", v4, v1, "alice"),
        ("approved", v4, v1, "alice"),
        ("blocked", None, v1, "quality gate"),
        ("blocked", v3, v1, "policy"),
        ("rejected", v2, v1, "policy"),
        ("promoted", v1, None, "policy"),
    ]
    by_kind = {(e.kind, e.version): e for e in entries}
    first = by_kind[("promoted", v1)]
    assert (first.trigger, first.airflow_run_id, first.window_end) == (
        "scheduled",
        nightly.airflow_run_id,
        "2026-03-01",
    )
    assert first.metrics["challenger"]["roc_auc"] > 0.7 and first.metrics["champion"] == {}
    assert first.metrics["snapshot_hash"] == snapshot.content_hash
    assert any("improvement" in r and r.startswith("FAIL") for r in by_kind[("rejected", v2)].reasons)
    assert any("older window never replaces" in r for r in by_kind[("blocked", v3)].reasons)
    gate = by_kind[("blocked", None)]
    assert (gate.trigger, gate.cause, gate.window_end) == ("drift", drift.cause, "2026-03-02")
    assert gate.reasons == ["quality gate failed: expect_column_values_to_not_be_null on plan"]
    assert by_kind[("approved", v4)].reasons[-1] == "approved by alice"
    assert by_kind[("refused", v5)].reasons[-1] == "refused by timeout"
    assert by_kind[("rolled_back", v1)].reasons == [f"rolled back from v{v4} to v1: bad predictions"]
    # and the refusal left the champion where the approval put it before the rollback
    assert registry.version("demo", v5).tags["decision"] == "refused"


def test_the_ledger_survives_a_restart(
    demo_cfg: ModelConfig, snapshot: Snapshot, register_trained: Callable[..., int]
) -> None:
    # given a decision written by this process
    promote(evaluate(demo_cfg, snapshot, register_trained()))
    written = [e.to_dict() for e in ledger.entries("demo")]
    # when another process reads the ledger from the same state
    code = "import json; from pipelines.registry import ledger; print(json.dumps([e.to_dict() for e in ledger.entries('demo')]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # then it sees the same entries, in the MLflow backend database
    assert json.loads(out) == json.loads(json.dumps(written))
    assert db.url() == f"sqlite:///{Path(snapshot.path).parents[3] / 'mlflow.db'}"


def test_an_unknown_kind_is_refused_and_nothing_is_written(registry_home: Path) -> None:
    bad = ledger.Entry(model="demo", kind="deleted", version=1, champion_version=None, reasons=[])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown ledger kind 'deleted'"):
        ledger.append(bad)
    assert ledger.entries("demo") == []


def test_ledger_location_follows_the_mlflow_backend(registry_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql+psycopg2://mlflow@db/mlflow")
    assert db.url() == "postgresql+psycopg2://mlflow@db/mlflow"
    # an MLflow server is not a database: the ledger gets a file of its own
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert db.url() == f"sqlite:///{registry_home / 'ledger.db'}"
    monkeypatch.setenv("PIPELINES_LEDGER_URL", "sqlite:////tmp/elsewhere.db")
    assert db.url() == "sqlite:////tmp/elsewhere.db"


def test_a_retried_promotion_finishes_without_a_second_entry(
    demo_cfg: ModelConfig, snapshot: Snapshot, register_trained: Callable[..., int]
) -> None:
    # given v1 champion and v2's promotion applied once by a run
    run = Lineage("scheduled", "scheduled__2026-03-02T02:00:00+00:00")
    promote(evaluate(demo_cfg, snapshot, register_trained()), lineage=run)
    decision = evaluate(demo_cfg, snapshot, register_trained())
    assert promote(decision, lineage=run).status == "promoted"
    # when the same task is retried with the same decision (say the first attempt died after the alias moved)
    again = promote(decision, lineage=run)
    # then it finishes as promoted, the aliases are unchanged, and the ledger has the promotion once
    assert (again.status, again.champion_version, again.previous_champion_version) == ("promoted", 2, 1)
    assert [(e.kind, e.version) for e in ledger.entries("demo")] == [("promoted", 2), ("promoted", 1)]


def test_a_dry_run_writes_nothing_to_the_ledger(
    demo_cfg: ModelConfig, snapshot: Snapshot, register_trained: Callable[..., int]
) -> None:
    decision = evaluate(demo_cfg, snapshot, register_trained())
    assert promote(decision, dry_run=True).status == "dry_run"
    assert ledger.entries("demo") == []


def test_times_are_stored_and_read_as_utc(registry_home: Path) -> None:
    # given a decision stamped in another time zone
    local = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    ledger.append(ledger.Entry("demo", "rejected", 1, None, ["FAIL floor"], decided_at=local))
    # then it reads back as the same instant, in UTC
    [entry] = ledger.entries("demo")
    assert entry.decided_at == local and entry.decided_at.utcoffset() == timedelta(0)


def test_an_approval_that_comes_too_late_is_kept_but_not_applied(
    demo_cfg: ModelConfig, snapshot: Snapshot, register_trained: Callable[..., int]
) -> None:
    # given v2 waiting for approval against champion v1, while an operator makes v3 champion
    promote(evaluate(demo_cfg, snapshot, register_trained()))
    waiting = evaluate(demo_cfg, snapshot, register_trained())
    v3 = register_trained()
    rollback("demo", to_version=v3, reason="hotfix", actor="bob")
    # when the approval arrives, then the stale promotion is refused, and the answer is still in the ledger
    with pytest.raises(PromotionConflict, match="champion is now v3"):
        promote(waiting, approval=Approval(True, "alice"))
    latest = ledger.entries("demo")[0]
    assert (latest.kind, latest.version, latest.actor) == ("approved", 2, "alice")
    assert "not applied: demo: champion is now v3" in latest.reasons[-1]
    assert registry.by_alias("demo", registry.CHAMPION).version == v3
