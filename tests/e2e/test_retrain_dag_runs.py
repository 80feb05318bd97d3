"""End to end through Airflow's ``dag.test()``: real DAG, real GX suite, real MLflow registry."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from pipelines.registry import versions as registry
from pipelines.reports.status import status
from tests.e2e.helpers import run_dag

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.usefixtures("registry_home")]


def test_nightly_runs_promote_then_never_demote_to_an_older_window(dagbag, seeded_source, monkeypatch):
    monkeypatch.setenv("PIPELINES_SOURCE_URL", seeded_source)
    dag = dagbag.get_dag("retrain_demo")

    state, tasks = run_dag(dag, date(2026, 3, 20))
    assert state == "success", tasks
    first = registry.by_alias("demo", registry.CHAMPION)
    assert first is not None and first.window_end == "2026-03-20"
    assert first.tags["trigger"] == "manual"
    assert first.tags["airflow_run_id"].startswith("manual__")
    assert first.tags["suite"] == "demo" and first.tags["code_version"] == "test"
    assert len(first.tags["snapshot_hash"]) == 64

    state, _ = run_dag(dag, date(2026, 3, 27))
    assert state == "success"
    second = registry.by_alias("demo", registry.CHALLENGER)
    assert second is not None and second.version != first.version
    assert second.tags["decision"] in {"promoted", "rejected", "blocked"}
    champion_after_newer = registry.by_alias("demo", registry.CHAMPION)

    state, _ = run_dag(dag, date(2026, 3, 5))
    assert state == "success"
    old = registry.by_alias("demo", registry.CHALLENGER)
    assert old is not None and old.window_end == "2026-03-05"
    assert old.tags["decision"] == "blocked"
    latest = status("demo").ledger[0]
    assert (latest.kind, latest.version, latest.trigger) == ("blocked", old.version, "manual")
    assert any("older window never replaces" in r for r in latest.reasons)
    assert registry.by_alias("demo", registry.CHAMPION) == champion_after_newer


def test_dry_run_evaluates_but_never_promotes(dagbag, seeded_source, monkeypatch):
    monkeypatch.setenv("PIPELINES_SOURCE_URL", seeded_source)
    state, tasks = run_dag(dagbag.get_dag("retrain_demo"), date(2026, 3, 20), conf={"dry_run": True})
    assert state == "success", tasks
    # the version exists and was judged, yet no alias moved and nothing was recorded
    assert [v.version for v in registry.all_versions("demo")] == [1]
    assert registry.by_alias("demo", registry.CHALLENGER) is None
    assert registry.by_alias("demo", registry.CHAMPION) is None
    assert status("demo").ledger == []


def test_failed_quality_gate_stops_before_training(dagbag, seeded_source, monkeypatch):
    engine = sa.create_engine(seeded_source)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE customer_events SET plan = NULL WHERE event_ts >= :day"), {"day": "2026-03-10"})
    engine.dispose()
    monkeypatch.setenv("PIPELINES_SOURCE_URL", seeded_source)

    state, tasks = run_dag(dagbag.get_dag("retrain_demo"), date(2026, 3, 20))

    assert state == "failed"
    assert tasks["ingest"] == "success"
    assert tasks["validate"] == "failed"
    assert tasks["train"] == tasks["evaluate"] == tasks["promote"] == "upstream_failed"
    assert registry.all_versions("demo") == []
    [blocked] = status("demo").ledger
    assert (blocked.kind, blocked.version, blocked.actor) == ("blocked", None, "quality gate")
    assert blocked.window_end == "2026-03-20" and (blocked.airflow_run_id or "").startswith("manual__")
    assert any("plan" in reason for reason in blocked.reasons)
