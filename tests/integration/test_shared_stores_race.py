"""Two workers on different machines, as two processes with different state folders and the same PostgreSQL
stores, retrain the same model for the same date at the same time: one training, one promotion, one ledger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_two_workers_racing_on_one_model_train_once_and_promote_once(
    postgres_databases: Callable[[], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    from pipelines.demo.seed import seed

    source, store = postgres_databases(), postgres_databases()
    seed(source, date(2026, 1, 1), days=70, rows_per_day=150, seed=11)
    # a deployed MLflow store exists before its workers start (two migrating one empty database would race)
    MlflowClient(tracking_uri=store, registry_uri=store).search_experiments()
    shared = {
        "PIPELINES_SOURCE_URL": source,
        "MLFLOW_TRACKING_URI": store,
        "MLFLOW_REGISTRY_URI": store,
        "PIPELINES_ARTIFACT_ROOT": (tmp_path / "artifacts").as_uri(),
    }

    def worker(name: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **shared, "PIPELINES_HOME": str(tmp_path / name)}
        command = [sys.executable, "-m", "pipelines", "retrain", "--model", "demo", "--as-of", "2026-03-01", "--json"]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)

    # when both workers run the same retrain at the same moment
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(worker, ["worker-a", "worker-b"]))
    for run in runs:
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    outcomes = [json.loads(run.stdout) for run in runs]

    # then one of them trained (the other waited and reused that version) and one promoted it
    from pipelines.registry import ledger
    from pipelines.registry import versions as registry
    from pipelines.reports.status import status

    for key, value in shared.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PIPELINES_HOME", str(tmp_path / "reader"))
    assert [v.version for v in registry.all_versions("demo")] == [1]
    assert sorted(o["status"] for o in outcomes) == ["promoted", "rejected"]
    assert {o["version"] for o in outcomes} == {1}
    loser = next(o for o in outcomes if o["status"] == "rejected")
    assert any("v1 is the champion already" in r for r in loser["reasons"])
    # and the shared ledger holds that promotion exactly once, explaining the champion
    assert [(e.kind, e.version) for e in ledger.entries("demo")] == [("promoted", 1)]
    report = status("demo")
    assert report.champion is not None and report.champion.version == 1 and report.ledger[0].kind == "promoted"
