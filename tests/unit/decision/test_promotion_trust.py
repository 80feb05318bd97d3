"""Trust in every promotion, in one process: rollbacks that hold, half-done moves reconciled, dry runs that
move nothing, history that is never rewritten, versions without lineage never used, honest comparisons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import mlflow
import pytest

from pipelines.config.model import ModelConfig
from pipelines.data.ingest import ingest
from pipelines.data.snapshot import Snapshot
from pipelines.decision.evaluate import evaluate
from pipelines.decision.manual import move_champion, rollback
from pipelines.decision.promote import promote
from pipelines.decision.transaction import reconcile
from pipelines.jobs.steps import model_card
from pipelines.model.train import train
from pipelines.registry import ledger
from pipelines.registry import versions as registry
from pipelines.reports.model_card import CARD_PAGE, card_folder
from pipelines.reports.status import history_lines, status

AS_OF = date(2026, 3, 1)


@pytest.fixture
def snapshot(registry_home: Path, seeded_source: str, demo_cfg: ModelConfig) -> Snapshot:
    return ingest(demo_cfg, AS_OF, seeded_source)


def alias(name: str) -> int | None:
    return registry.alias_version("demo", name)


def kinds() -> list[tuple[str, int | None]]:
    return [(e.kind, e.version) for e in reversed(ledger.entries("demo"))]


def test_a_rollback_holds_until_a_human_readmits_the_version(
    demo_cfg: ModelConfig, snapshot: Snapshot, register_trained: Callable[..., int]
) -> None:
    # given v1 then v2 promoted, and v2 rolled back to v1 by bob
    v1, v2 = register_trained(), register_trained()
    assert promote(evaluate(demo_cfg, snapshot, v1)).status == "promoted"
    assert promote(evaluate(demo_cfg, snapshot, v2)).status == "promoted"
    assert rollback("demo", reason="bad predictions", actor="bob").status == "rolled_back"
    # when the next nightly run on the same data reuses v2 and would promote it on its metrics
    decision = evaluate(demo_cfg, snapshot, v2)
    result = promote(decision)
    # then it is blocked, saying when, by whom and why, and how to re-admit it
    assert (result.status, alias("champion")) == ("blocked", v1)
    hold = next(c for c in decision.checks if c.name == "rollback")
    assert hold.blocking and not hold.passed
    assert f"v{v2} was rolled back on " in hold.detail and "by bob (rolled back from v2 to v1: bad predictions)" in (
        hold.detail
    )
    assert f"python -m pipelines promote --model demo --version {v2} --reason TEXT" in hold.detail
    assert registry.version("demo", v2).tags[registry.ROLLED_BACK_TAG].endswith("by bob: bad predictions")
    # and rolling back or forward to it is refused too, without re-admission
    with pytest.raises(ValueError, match=f"v{v2} was rolled back on"):
        rollback("demo", to_version=v2, actor="carol")
    # when a human re-admits it
    again = move_champion("demo", v2, "fixed upstream data", actor="alice", readmit=True)
    # then it is champion, the act is recorded, and the hold is gone
    assert (again.status, alias("champion"), alias("previous-champion")) == ("readmitted", v2, v1)
    assert ledger.rollback_hold("demo", v2) is None
    assert registry.ROLLED_BACK_TAG not in registry.version("demo", v2).tags
    assert kinds() == [("promoted", v1), ("promoted", v2), ("rolled_back", v1), ("blocked", v2), ("readmitted", v2)]
    readmitted = ledger.entries("demo")[0]
    assert readmitted.actor == "alice" and "re-admitted by alice" in readmitted.reasons[0]
    assert "re-admitted and champion again" in "\n".join(history_lines(status("demo")))


def test_moving_to_a_newer_version_is_a_roll_forward(
    demo_cfg: ModelConfig, snapshot: Snapshot, register_trained: Callable[..., int]
) -> None:
    v1 = register_trained()
    promote(evaluate(demo_cfg, snapshot, v1))
    v2 = register_trained(window_end="2026-03-02")
    result = move_champion("demo", v2, "hotfix", actor="bob")
    assert (result.status, result.reasons) == ("rolled_forward", [f"rolled forward from v{v1} to v{v2}: hotfix"])
    assert ledger.rollback_hold("demo", v1) is None  # moving forward holds nothing back
    assert "became champion (roll-forward)" in "\n".join(history_lines(status("demo")))


def test_a_version_with_incomplete_lineage_is_never_reused_or_promoted(
    demo_cfg: ModelConfig, snapshot: Snapshot, register_trained: Callable[..., int]
) -> None:
    # given a version whose creation left out its window (as a crash between tag writes once did)
    client = registry.client()
    v1 = register_trained()
    client.delete_model_version_tag("demo", str(v1), "window_end")
    info = registry.version("demo", v1)
    assert info.missing_lineage == ["window_end"]
    # then reuse skips it, evaluation blocks it by name, and no human can make it champion either
    assert registry.find_version("demo", {"holdout_start": "2026-02-22"}) is None
    decision = evaluate(demo_cfg, snapshot, v1)
    assert promote(decision).status == "blocked"
    assert any(r.startswith(f"FAIL lineage: v{v1} lacks lineage (window_end)") for r in decision.reasons)
    with pytest.raises(ValueError, match="lacks lineage"):
        move_champion("demo", v1, "try anyway", readmit=True)
    assert alias("champion") is None


def test_a_half_done_move_is_finished_or_abandoned_by_whoever_comes_next(
    demo_cfg: ModelConfig, snapshot: Snapshot, register_trained: Callable[..., int]
) -> None:
    v1, v2, v3 = register_trained(), register_trained(), register_trained()
    promote(evaluate(demo_cfg, snapshot, v1))
    entry = ledger.Entry("demo", "promoted", v2, v1, ["ok floor"], actor="policy")
    # given a process that died after the champion alias moved to v2, before its ledger entry
    ledger.open_intent(entry, v1, None)
    registry.set_alias("demo", registry.CHAMPION, v2)
    # when status runs, then the move is recorded (once), with a note saying how it was found
    report = status("demo")
    assert report.champion is not None and report.champion.version == v2
    assert kinds() == [("promoted", v1), ("promoted", v2)]
    assert "the process stopped after the champion alias moved" in report.ledger[0].reasons[-1]
    assert alias("previous-champion") == v1
    # given a process that died after announcing v3 and moving previous-champion, before the champion moved
    ledger.open_intent(ledger.Entry("demo", "promoted", v3, v2, ["ok floor"]), v2, v1)
    registry.set_alias("demo", registry.PREVIOUS_CHAMPION, v2)
    # when the next promotion step reconciles, then nothing is recorded and previous-champion is restored
    notes = reconcile("demo")
    assert len(notes) == 1 and notes[0].endswith(f"the champion alias never moved to v{v3}")
    assert (alias("champion"), alias("previous-champion")) == (v2, v1)
    assert kinds() == [("promoted", v1), ("promoted", v2)] and ledger.pending_intents("demo") == []


def test_a_champion_moved_outside_the_pipeline_is_recorded_as_found(
    demo_cfg: ModelConfig, snapshot: Snapshot, register_trained: Callable[..., int]
) -> None:
    # given v1 promoted, then someone points the alias at v2 in MLflow's UI
    v1, v2 = register_trained(), register_trained()
    promote(evaluate(demo_cfg, snapshot, v1))
    registry.set_alias("demo", registry.CHAMPION, v2)
    # when status runs, then the ledger explains the champion: found, unexplained by any decision
    report = status("demo")
    found = report.ledger[0]
    assert (found.kind, found.version, found.champion_version, found.actor) == ("found", v2, v1, "status")
    assert "which no ledger entry explains (last recorded: v1)" in found.reasons[0]
    assert history_lines(report)[-1] == f"champion now: v{v2} (data before 2026-03-01)"
    # and a second look records nothing more
    status("demo")
    assert len(ledger.entries("demo")) == 2


def test_a_dry_run_moves_no_alias_and_rewrites_no_card_or_decision(
    demo_cfg: ModelConfig, snapshot: Snapshot, register_trained: Callable[..., int], tmp_path: Path
) -> None:
    # given v1 trained by the pipeline and promoted with its card, then v2 promoted over it
    v1 = train(demo_cfg, snapshot).version
    first = evaluate(demo_cfg, snapshot, v1)
    assert model_card(demo_cfg, snapshot, first) == card_folder(first.decision_id)
    promote(first)
    v2 = register_trained(window_end="2026-03-02")
    promote(evaluate(demo_cfg, snapshot, v2))
    before = {name: alias(name) for name in (registry.CHAMPION, registry.CHALLENGER, registry.PREVIOUS_CHAMPION)}
    tags_before = registry.version("demo", v1).tags
    card_before = card_page(v1, first.decision_id, tmp_path / "before")
    # when a dry run re-evaluates v1 (an older window now, so it would be blocked)
    again = evaluate(demo_cfg, snapshot, v1)
    model_card(demo_cfg, snapshot, again)
    result = promote(again, dry_run=True)
    # then nothing moved, nothing was recorded, and v1 still shows the decision that promoted it
    assert result.status == "dry_run"
    assert {n: alias(n) for n in before} == before
    assert kinds() == [("promoted", v1), ("promoted", v2)]
    assert registry.version("demo", v1).tags == tags_before
    assert tags_before["decision"] == "promoted" and tags_before[registry.CARD_TAG] == first.decision_id
    # and each evaluation kept a card of its own: the promotion's card is still there, unchanged
    assert again.decision_id != first.decision_id
    assert card_page(v1, first.decision_id, tmp_path / "after") == card_before
    assert "blocked" not in card_before and "older window never replaces" in card_page(
        v1, again.decision_id, tmp_path / "dry"
    )


def card_page(version: int, decision_id: str, folder: Path) -> str:
    run_id = registry.version("demo", version).run_id
    path = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path=f"{card_folder(decision_id)}/{CARD_PAGE}", dst_path=str(folder)
    )
    return Path(path).read_text()


def test_the_champion_is_never_scored_on_rows_it_was_trained_on(
    demo_cfg: ModelConfig, snapshot: Snapshot, register_trained: Callable[..., int]
) -> None:
    # given a champion trained up to 2026-02-25, and a challenger whose holdout starts 2026-02-22
    champion = register_trained(window_start="2026-01-14", holdout_start="2026-02-25", window_end="2026-03-04")
    registry.set_alias("demo", registry.CHAMPION, champion)
    challenger = register_trained(window_end="2026-03-05")
    # when judged, then only the holdout rows after the champion's training data are compared, and it says so
    decision = evaluate(demo_cfg, snapshot, challenger)
    comparison = next(c for c in decision.checks if c.name == "comparison")
    assert comparison.passed
    assert comparison.detail.startswith(f"compared on {decision.holdout_rows} of ")
    assert f"fall in v{champion}'s training data (2026-01-14..2026-02-25)" in comparison.detail
    assert 0 < decision.holdout_rows < snapshot.rows
    # given a champion that trained on every holdout row, then the decision says it cannot compare
    registry.set_alias("demo", registry.CHAMPION, register_trained(holdout_start="2026-03-01", window_end="2026-03-08"))
    blocked = evaluate(demo_cfg, snapshot, challenger)
    assert not blocked.promote and blocked.blocked
    assert any(r.startswith("FAIL comparison: cannot compare with v") for r in blocked.reasons)


def test_a_failed_evaluation_marks_the_version_and_a_later_judgement_clears_it(
    demo_cfg: ModelConfig, snapshot: Snapshot, register_trained: Callable[..., int]
) -> None:
    v1 = register_trained()
    broken = Snapshot(**{**snapshot.to_dict(), "path": str(Path(snapshot.path).with_name("gone.parquet"))})
    with pytest.raises(FileNotFoundError):
        evaluate(demo_cfg, broken, v1)
    assert registry.version("demo", v1).tags[registry.FAILED_TAG].startswith("evaluate: ")
    assert alias("challenger") is None  # never made challenger
    promote(evaluate(demo_cfg, snapshot, v1))
    assert registry.FAILED_TAG not in registry.version("demo", v1).tags
    assert alias("challenger") == v1


def test_new_category_values_after_training_never_stop_evaluate_promote_or_drift(
    demo_cfg: ModelConfig, snapshot: Snapshot, seeded_source: str, register_trained: Callable[..., int]
) -> None:
    import sqlalchemy as sa

    from pipelines.jobs.monitor import check_drift

    # given champion v1 trained by the pipeline on data up to 2026-03-01
    v1 = train(demo_cfg, snapshot).version
    promote(evaluate(demo_cfg, snapshot, v1))
    # and then regions it never saw: one that sorts after every known one, one between "east" and "north"
    engine = sa.create_engine(seeded_source)
    with engine.begin() as conn:
        for value, parity in (("zz-new", 0), ("newtown", 1)):
            conn.execute(
                sa.text(
                    "UPDATE customer_events SET region = :v WHERE event_ts >= '2026-03-01' AND customer_id % 2 = :p"
                ),
                {"v": value, "p": parity},
            )
    engine.dispose()
    later = ingest(demo_cfg, date(2026, 3, 8), seeded_source)
    # when a challenger is judged on the window with the new values, then evaluate and promote work and say so
    decision = evaluate(demo_cfg, later, register_trained(window_end="2026-02-28"))
    assert promote(decision).status == "blocked"  # its window is older: v1 stays champion for the drift check
    unseen = next(c for c in decision.checks if c.name == "unseen_categories")
    assert "region:" in unseen.detail and "newtown" in unseen.detail and "zz-new" in unseen.detail
    # and the drift check of the champion works and reports the share of new values
    check = check_drift(demo_cfg, date(2026, 3, 8), seeded_source, record=False)
    assert check.report["features"]["region"]["new_share"] > 0.9
