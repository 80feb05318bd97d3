"""Champion vs challenger: the pure policy (`judge`) and the registry side (evaluate, promote, rollback)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipelines.config.model import ModelConfig
from pipelines.data.ingest import ingest
from pipelines.data.snapshot import Snapshot
from pipelines.decision.evaluate import evaluate
from pipelines.decision.judge import judge
from pipelines.decision.manual import rollback
from pipelines.decision.promote import PromotionConflict, promote
from pipelines.decision.verdict import Check, Decision
from pipelines.model.train import train
from pipelines.registry import versions as registry
from pipelines.reports.status import status

AS_OF = date(2026, 3, 1)


def with_policy(cfg: ModelConfig, **policy: Any) -> ModelConfig:
    data = cfg.model_dump(by_alias=True)
    return ModelConfig.model_validate({**data, "policy": {**data["policy"], **policy}})


def metrics(roc_auc: float, log_loss: float = 0.40) -> dict[str, float]:
    return {"roc_auc": roc_auc, "log_loss": log_loss, "accuracy": 0.8, "brier": 0.12}


def failed(checks: list[Check]) -> list[str]:
    return [c.name for c in checks if not c.passed]


# --- judge: the policy alone, no MLflow ---------------------------------------------------------------
# demo policy: roc_auc floor 0.70, min_improvement 0.0, guard log_loss may worsen by 0.01, bootstrap informational


def test_first_model_above_floor_faces_only_the_floor(demo_cfg: ModelConfig) -> None:
    # given no champion, when a challenger above the floor is judged
    checks = judge(demo_cfg, metrics(0.75, log_loss=9.9), None, None)
    # then only floor and "no champion" checks exist, and both pass (the bad log_loss is not guarded)
    assert [c.name for c in checks] == ["floor", "champion"]
    assert failed(checks) == []


def test_first_model_below_floor_is_rejected_with_floor_reason(demo_cfg: ModelConfig) -> None:
    checks = judge(demo_cfg, metrics(0.65), None, None)
    assert failed(checks) == ["floor"]
    assert str(checks[0]) == "FAIL floor: roc_auc 0.6500 must be >= 0.7000"


def test_nan_metric_never_meets_the_floor(demo_cfg: ModelConfig) -> None:
    assert failed(judge(demo_cfg, metrics(float("nan")), None, None)) == ["floor"]


def test_floor_direction_follows_the_metric(demo_cfg: ModelConfig) -> None:
    # given a lower-is-better primary metric
    cfg = with_policy(demo_cfg, primary_metric="log_loss", floor=0.5, guards={})
    # then lower values pass and higher values fail
    assert failed(judge(cfg, metrics(0.8, log_loss=0.45), None, None)) == []
    checks = judge(cfg, metrics(0.8, log_loss=0.55), None, None)
    assert failed(checks) == ["floor"]
    assert "must be <= 0.5000" in str(checks[0])


def test_worse_challenger_is_rejected_naming_improvement(demo_cfg: ModelConfig) -> None:
    # given a champion at 0.80, when a challenger scores 0.78
    checks = judge(demo_cfg, metrics(0.78), metrics(0.80), None)
    # then only the improvement check fails, with the gain in the reason
    assert failed(checks) == ["improvement"]
    reason = next(str(c) for c in checks if c.name == "improvement")
    assert reason.startswith("FAIL improvement: roc_auc 0.8000 -> 0.7800 (gain -0.0200")


def test_better_challenger_passes_every_check(demo_cfg: ModelConfig) -> None:
    checks = judge(demo_cfg, metrics(0.82, log_loss=0.405), metrics(0.80, log_loss=0.40), None)
    assert [c.name for c in checks] == ["floor", "improvement", "guard:log_loss"]
    assert failed(checks) == []


def test_min_improvement_is_required(demo_cfg: ModelConfig) -> None:
    cfg = with_policy(demo_cfg, min_improvement=0.01)
    assert failed(judge(cfg, metrics(0.805), metrics(0.80), None)) == ["improvement"]
    assert failed(judge(cfg, metrics(0.815), metrics(0.80), None)) == []


def test_guard_violation_names_the_guard(demo_cfg: ModelConfig) -> None:
    # given a challenger better on roc_auc but 0.05 worse on log_loss (tolerance 0.01)
    checks = judge(demo_cfg, metrics(0.85, log_loss=0.45), metrics(0.80, log_loss=0.40), None)
    # then exactly the guard fails, and says by how much
    assert failed(checks) == ["guard:log_loss"]
    reason = next(str(c) for c in checks if c.name == "guard:log_loss")
    assert "worse by 0.0500, tolerance 0.0100" in reason


def test_older_window_is_never_promoted_even_if_better(demo_cfg: ModelConfig) -> None:
    # given a much better challenger trained on data ending before the champion's (a backfill)
    checks = judge(demo_cfg, metrics(0.95, log_loss=0.2), metrics(0.75), None, "2026-03-01", "2026-03-08")
    # then the data window check fails the decision
    assert failed(checks) == ["data_window"]
    assert "2026-03-01" in str(checks[1]) and "2026-03-08" in str(checks[1])


@pytest.mark.parametrize("ends", [("2026-03-08", "2026-03-08"), ("2026-03-09", "2026-03-08"), (None, "2026-03-08")])
def test_same_or_newer_window_has_no_window_check(demo_cfg: ModelConfig, ends: tuple[str | None, str]) -> None:
    checks = judge(demo_cfg, metrics(0.82), metrics(0.80), None, *ends)
    assert "data_window" not in [c.name for c in checks]
    assert failed(checks) == []


def test_significance_is_informational_by_default(demo_cfg: ModelConfig) -> None:
    checks = judge(demo_cfg, metrics(0.82), metrics(0.80), (-0.01, 0.05))
    assert failed(checks) == []
    assert "(informational)" in str(checks[-1])


def test_require_significant_needs_the_whole_interval_above_zero(demo_cfg: ModelConfig) -> None:
    # given a policy that requires a significant gain
    cfg = with_policy(demo_cfg, bootstrap={"samples": 300, "confidence": 0.9, "require_significant": True})
    # when the interval straddles zero / then the significance check fails
    checks = judge(cfg, metrics(0.82), metrics(0.80), (-0.01, 0.05))
    assert failed(checks) == ["significance"]
    assert "90% paired bootstrap interval" in str(checks[-1])
    # when the whole interval lies above zero / then it passes
    assert failed(judge(cfg, metrics(0.82), metrics(0.80), (0.001, 0.05))) == []
    # and the first model (no champion, no interval) is not held to it
    assert failed(judge(cfg, metrics(0.82), None, None)) == []


def test_decision_survives_a_json_round_trip() -> None:
    decision = Decision(
        "demo", False, 2, 1, [Check("floor", True, "x"), Check("improvement", False, "y")], metrics(0.7),
        metrics(0.8), (-0.1, 0.02), 1050, "abc", evaluation_run_id="run",
    )  # fmt: skip
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["reasons"] == ["ok floor: x", "FAIL improvement: y"]
    assert Decision.from_dict(data) == decision


# --- with a real MLflow registry in each test's own home ----------------------------------------------
# `register_trained()` adds a version serving a model trained once per session on the same seeded data.


@dataclass(frozen=True)
class Promoted:
    cfg: ModelConfig
    snapshot: Snapshot
    decision: Decision


@pytest.fixture
def champion_v1(register_trained: Callable[..., int], seeded_source: str, demo_cfg: ModelConfig) -> Promoted:
    """A registry whose v1 was evaluated on the seeded holdout and promoted."""
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    version = register_trained()
    decision = evaluate(demo_cfg, snapshot, version)
    result = promote(decision)
    assert (version, result.status) == (1, "promoted"), result.reasons
    return Promoted(demo_cfg, snapshot, decision)


def alias(name: str) -> int | None:
    info = registry.by_alias("demo", name)
    return info.version if info else None


def test_train_evaluate_promote_on_seeded_data_promotes_v1(
    registry_home: Path, seeded_source: str, demo_cfg: ModelConfig
) -> None:
    # given a snapshot of the seeded source and an empty registry
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    # when the first model is trained, evaluated and promoted
    trained = train(demo_cfg, snapshot)
    decision = evaluate(demo_cfg, snapshot, trained.version)
    result = promote(decision)
    # then v1 faced only the floor, on the holdout of the same snapshot, and became champion
    assert (trained.version, trained.reused) == (1, False)
    assert decision.promote, decision.reasons
    assert (decision.challenger_version, decision.champion_version) == (1, None)
    assert [c.name for c in decision.checks] == ["floor", "champion"]
    assert decision.holdout_rows == 7 * 150
    assert decision.snapshot_hash == snapshot.content_hash
    assert decision.evaluation_run_id
    assert (result.status, result.champion_version, result.previous_champion_version) == ("promoted", 1, None)
    assert (alias("champion"), alias("challenger"), alias("previous-champion")) == (1, 1, None)
    # and the version carries its lineage and the recorded decision
    v1 = registry.version("demo", 1)
    assert v1.tags["decision"] == "promoted"
    assert (v1.tags["window_start"], v1.window_end) == (snapshot.window_start, snapshot.window_end)
    assert v1.tags["snapshot_hash"] == snapshot.content_hash
    assert v1.holdout_metrics == pytest.approx(decision.challenger_metrics)
    # when the same snapshot is trained again, then the identical version is reused, not re-registered
    again = train(demo_cfg, snapshot)
    assert (again.version, again.reused) == (1, True)
    assert [v.version for v in registry.all_versions("demo")] == [1]


def test_champion_evaluated_against_itself_is_rejected(champion_v1: Promoted) -> None:
    decision = evaluate(champion_v1.cfg, champion_v1.snapshot, 1)
    assert not decision.promote
    assert failed(decision.checks) == ["champion"]
    assert promote(decision).status == "rejected"
    # the champion keeps its own "promoted" record
    assert registry.version("demo", 1).tags["decision"] == "promoted"
    assert alias("champion") == 1


def test_stale_decision_is_refused_and_alias_untouched(
    champion_v1: Promoted, register_trained: Callable[..., int]
) -> None:
    # given two challengers, both evaluated against champion v1
    v2, v3 = register_trained(), register_trained()
    stale = evaluate(champion_v1.cfg, champion_v1.snapshot, v2)
    fresh = evaluate(champion_v1.cfg, champion_v1.snapshot, v3)
    assert stale.promote and stale.champion_version == 1
    # and the champion moves to v3 before v2's decision is applied (another run got there first)
    assert promote(fresh).status == "promoted"
    # when v2's decision, evaluated against v1, is applied
    with pytest.raises(PromotionConflict, match=r"champion is now v3, but v2 was evaluated against v1"):
        promote(stale)
    # then the aliases are as the winner left them, and v2 carries no decision
    assert (alias("champion"), alias("previous-champion")) == (3, 1)
    assert "decision" not in registry.version("demo", v2).tags


def test_dry_run_never_moves_the_champion(
    register_trained: Callable[..., int], seeded_source: str, demo_cfg: ModelConfig
) -> None:
    # given a first model whose decision is to promote
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    v1 = register_trained()
    decision = evaluate(demo_cfg, snapshot, v1)
    assert decision.promote
    # when applied as a dry run, then there is still no champion and nothing is recorded
    result = promote(decision, dry_run=True)
    assert (result.status, result.champion_version) == ("dry_run", None)
    assert alias("champion") is None
    assert "decision" not in registry.version("demo", v1).tags
    # and the same decision applied for real does promote (so the dry run really held it back)
    assert promote(decision).status == "promoted"
    # given a second promotable challenger, when dry-run again, then v1 stays champion
    v2 = register_trained()
    second = evaluate(demo_cfg, snapshot, v2)
    assert second.promote and second.champion_version == v1
    assert promote(second, dry_run=True).status == "dry_run"
    assert (alias("champion"), alias("previous-champion")) == (v1, None)
    assert "decision" not in registry.version("demo", v2).tags


def test_older_window_challenger_is_blocked_and_recorded(
    champion_v1: Promoted, register_trained: Callable[..., int]
) -> None:
    # given a challenger whose lineage says its data ends before the champion's (a backfill run)
    v2 = register_trained(window_end="2026-02-01")
    # when evaluated and applied
    decision = evaluate(champion_v1.cfg, champion_v1.snapshot, v2)
    result = promote(decision)
    # then the window check (read from the registry tags) blocks it, the champion stays, v2 records why
    assert failed(decision.checks) == ["data_window"] and decision.blocked
    assert (result.status, result.champion_version) == ("blocked", 1)
    assert alias("champion") == 1
    v2_tags = registry.version("demo", v2).tags
    assert v2_tags["decision"] == "blocked"
    assert "data_window" in v2_tags["decision_reasons"]


def test_rollback_restores_the_previous_champion(champion_v1: Promoted, register_trained: Callable[..., int]) -> None:
    # given a single champion, rollback has nowhere to go
    with pytest.raises(ValueError, match="no previous champion; name a version with --to-version"):
        rollback("demo")
    # given v2 promoted over v1
    v2 = register_trained()
    assert promote(evaluate(champion_v1.cfg, champion_v1.snapshot, v2)).status == "promoted"
    assert (alias("champion"), alias("previous-champion")) == (v2, 1)
    # when rolling back
    result = rollback("demo", reason="bad predictions")
    # then v1 is champion again, v2 is the previous champion, and the rollback is recorded
    assert (result.status, result.version, result.previous_champion_version) == ("rolled_back", 1, v2)
    assert (alias("champion"), alias("previous-champion")) == (1, v2)
    assert registry.version("demo", v2).tags[registry.ROLLED_BACK_TAG].endswith("by manual: bad predictions")
    assert result.reasons == [f"rolled back from v{v2} to v1: bad predictions"]
    entries = {(e.version, e.kind): e for e in status("demo").ledger}
    assert entries[(1, "rolled_back")].reasons == result.reasons
    assert entries[(1, "rolled_back")].champion_version == v2
    # and rolling back to the champion itself or to an unknown version is refused
    with pytest.raises(ValueError, match="v1 is the champion already"):
        rollback("demo", to_version=1)
    with pytest.raises(ValueError, match="there is no version 99"):
        rollback("demo", to_version=99)
    assert (alias("champion"), alias("previous-champion")) == (1, v2)


def test_rollback_without_champion_is_a_clear_error(registry_home: Path) -> None:
    with pytest.raises(ValueError, match=r"^demo: there is no champion to roll back$"):
        rollback("demo")


def test_a_guard_metric_that_improved_says_better_not_worse(demo_cfg: ModelConfig) -> None:
    checks = judge(demo_cfg, metrics(0.82, log_loss=0.38), metrics(0.80, log_loss=0.40), None)
    guard = next(c for c in checks if c.name == "guard:log_loss")
    assert guard.passed and guard.detail == "log_loss 0.4000 -> 0.3800 (better by 0.0200, tolerance 0.0100)"
