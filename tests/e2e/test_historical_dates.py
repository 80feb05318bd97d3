"""Data that ended decades ago: a run of one of its dates created through the REST API (as the Trigger form does),
run by a real scheduler (LocalExecutor) and api-server on the session's SQLite metadata DB, runs every task and
registers a version. With a DAG start date after that date (a fixed 2026-01-01, later 2000-01-01), such a run
succeeded having run no task; without one (the default) nothing bounds the date."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from pipelines.demo.seed import seed
from pipelines.jobs.backfill import AirflowAPI, AirflowAPIError, ensure_unpaused
from pipelines.registry import versions as registry
from tests.conftest import ROOT
from tests.e2e.test_live_stack import alive, free_port

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.xdist_group("heavy")]  # a scheduler and its workers

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
DAG_ID = "retrain_history"


def sync_dags() -> None:
    """Parse the DAG folder and write the DAGs to the metadata DB, as the dag-processor would."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    bundle = manager.get_bundle("dags-folder")
    bundle.initialize()
    bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
    assert not bag.import_errors, bag.import_errors
    sync_bag_to_db(bag, bundle.name, bundle.version)


def wait_until(what: str, check: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(1)
    raise AssertionError(f"{what}: not within {seconds:.0f} s")


def test_a_date_years_ago_runs_every_task_through_the_scheduler(home: Path, airflow_db: Path, monkeypatch) -> None:
    # given the demo table from 1998-01-01 and a model on it without a nightly schedule (its source gets no new data)
    source = f"sqlite:///{home / 'source.db'}"
    seed(source, date(1998, 1, 1), days=60, rows_per_day=150, seed=3)
    raw = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    raw["name"], raw["schedule"] = "history", {"cron": None}
    configs = home / "configs"
    configs.mkdir(parents=True)
    (configs / "history.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("PIPELINES_CONFIGS_DIR", str(configs))
    monkeypatch.setenv("PIPELINES_SOURCE_URL", source)
    sync_dags()
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW__CORE__EXECUTOR": "warm_executor.WarmLocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API_AUTH__JWT_SECRET": "test-historical-dates-secret",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
    }
    logs = {name: (airflow_db / f"{name}-{port}.log").open("w") for name in ("api-server", "scheduler")}
    processes = {
        name: subprocess.Popen([AIRFLOW, name], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        for name, log in logs.items()
    }
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until("the api-server answers", lambda: _healthy(base, processes, airflow_db, port), 90)
        users = json.loads((airflow_db / "simple_auth_manager_passwords.json.generated").read_text())
        api = AirflowAPI(base, "admin", users["admin"])
        # when the DAG is unpaused (nothing scheduled starts: no cron) and a 1998 date is triggered over REST
        assert ensure_unpaused(api, DAG_ID, unpause=True) is None
        with pytest.raises(AirflowAPIError, match=r"unpausing also starts its scheduled run for 20\d\d-"):
            ensure_unpaused(api, "monitor_history", unpause=False)  # a DAG with a cron says what unpausing starts
        api.request("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": "1998-02-25T00:00:00Z"})

        def finished() -> list[dict[str, Any]] | None:
            runs = api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns")["dag_runs"]
            return runs if runs and all(r["state"] in ("success", "failed") for r in runs) else None

        runs = wait_until("the run finishes", finished, 150)
        # then the only run is the triggered one, every task ran, and a version was registered for that window
        assert [(r["run_type"], r["logical_date"][:10], r["state"]) for r in runs] == [
            ("manual", "1998-02-25", "success")
        ]
        found = api.request("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{runs[0]['dag_run_id']}/taskInstances")
        tasks = {ti["task_id"]: ti["state"] for ti in found["task_instances"]}
        assert tasks == {
            **dict.fromkeys(("ingest", "validate", "train", "evaluate", "model_card", "promote"), "success"),
            "any_stage_failed": "skipped",
        }
        assert [(v.window_end, v.tags["trigger"]) for v in registry.all_versions("history")] == [
            ("1998-02-25", "manual")
        ]
    finally:
        for process in processes.values():
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            process.wait(timeout=60)
        for log in logs.values():
            log.close()
        time.sleep(1)
        assert [name for name, p in processes.items() if alive(p.pid)] == [], "processes left behind"


def _healthy(base: str, processes: dict[str, subprocess.Popen[bytes]], home: Path, port: int) -> bool:
    for name, process in processes.items():
        assert process.poll() is None, f"{name} exited: " + (home / f"{name}-{port}.log").read_text()[-3000:]
    try:
        return requests.get(f"{base}/api/v2/monitor/health", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False
