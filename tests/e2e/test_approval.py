"""Human approval between evaluate and promote: the standard provider's ApprovalOperator, answered through a
real api-server's REST API while ``dag.test()`` waits, and the timeout resolved by the scheduler's own sweep."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from pipelines import ledger, registry
from tests.conftest import ROOT
from tests.e2e.helpers import run_dag
from tests.e2e.test_live_stack import free_port

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

DAY = date(2026, 3, 20)


@dataclass(frozen=True)
class ApiServer:
    base: str
    headers: dict[str, str]

    def pending(self, dag_id: str) -> list[dict[str, Any]]:
        url = f"{self.base}/api/v2/dags/{dag_id}/dagRuns/~/hitlDetails"
        response = requests.get(url, headers=self.headers, params={"response_received": "false"}, timeout=30)
        response.raise_for_status()
        return list(response.json()["hitl_details"])

    def answer(self, dag_id: str, run_id: str, option: str) -> requests.Response:
        url = f"{self.base}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/approve/-1/hitlDetails"
        return requests.patch(url, headers=self.headers, json={"chosen_options": [option]}, timeout=30)


@pytest.fixture(scope="module")
def api_server(airflow_db: Path) -> Iterator[ApiServer]:
    """``airflow api-server`` on the session's metadata database."""
    port = free_port()
    log = (airflow_db / f"api-server-{port}.log").open("w")
    process = subprocess.Popen(
        [str(Path(os.sys.executable).with_name("airflow")), "api-server", "--port", str(port), "--workers", "1"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/api/v2/monitor/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, (airflow_db / f"api-server-{port}.log").read_text()[-3000:]
            time.sleep(1)
        users = json.loads((airflow_db / "simple_auth_manager_passwords.json.generated").read_text())
        token = requests.post(f"{base}/auth/token", json={"username": "admin", "password": users["admin"]}, timeout=30)
        token.raise_for_status()
        yield ApiServer(base, {"Authorization": f"Bearer {token.json()['access_token']}"})
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=60)
        log.close()


@pytest.fixture
def gated_dag(home: Path, seeded_source: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """The retrain DAG of a model like demo that requires approval, parsed from a configs folder of its own."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("PIPELINES_SOURCE_URL", seeded_source)

    def build(name: str, floor: float | None = None, **approval: Any) -> Any:
        raw = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
        raw["name"] = name
        raw["policy"]["approval"] = {"required": True, **approval}
        if floor is not None:
            raw["policy"]["floor"] = floor
        configs = home / "configs"
        configs.mkdir(parents=True, exist_ok=True)
        (configs / f"{name}.yaml").write_text(yaml.safe_dump(raw))
        monkeypatch.setenv("PIPELINES_CONFIGS_DIR", str(configs))
        bag = DagBag(dag_folder=str(ROOT / "dags" / "retrain.py"))
        assert not bag.import_errors, bag.import_errors
        return bag.get_dag(f"retrain_{name}")

    return build


def answer_when_asked(api: ApiServer, dag_id: str, option: str, seen: dict[str, Any]) -> threading.Thread:
    """In the background: wait for the approval request, record what it showed, then answer it."""

    def run() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not (pending := api.pending(dag_id)):
            time.sleep(1)
        request = pending[0]
        seen["request"] = request
        seen["response"] = api.answer(dag_id, request["task_instance"]["dag_run_id"], option)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_approved_promotion_moves_the_champion(gated_dag, api_server: ApiServer) -> None:
    dag = gated_dag("gated_yes")
    seen: dict[str, Any] = {}
    # given a first model the policy would promote, when an admin approves it through the REST API
    helper = answer_when_asked(api_server, dag.dag_id, "Approve", seen)
    state, tasks = run_dag(dag, DAY)
    helper.join(timeout=60)
    # then the request showed the comparison, the answer was accepted, and the champion moved
    assert seen["response"].status_code == 200, seen["response"].text
    assert seen["request"]["subject"] == "Promote gated_yes v1 to champion?"
    assert "Challenger v1 against no champion yet" in seen["request"]["body"]
    assert "ok floor: roc_auc" in seen["request"]["body"]
    assert state == "success", tasks
    assert (tasks["approve"], tasks["promote"], tasks["record_refusal"]) == ("success", "success", "skipped")
    champion = registry.by_alias("gated_yes", registry.CHAMPION)
    assert champion is not None and champion.version == 1
    # and the ledger says who approved it, then that it was promoted
    entries = ledger.entries("gated_yes")
    assert [(e.kind, e.version, e.actor) for e in entries] == [("promoted", 1, "admin"), ("approved", 1, "admin")]
    assert entries[0].airflow_run_id and entries[0].airflow_run_id.startswith("manual__")


def test_rejected_promotion_is_recorded_and_the_champion_stays(gated_dag, api_server: ApiServer) -> None:
    dag = gated_dag("gated_no")
    seen: dict[str, Any] = {}
    # given a model the policy would promote, when an admin rejects it
    helper = answer_when_asked(api_server, dag.dag_id, "Reject", seen)
    state, tasks = run_dag(dag, DAY)
    helper.join(timeout=60)
    # then promote is skipped, nothing became champion, and the refusal is in the ledger
    assert seen["response"].status_code == 200, seen["response"].text
    assert state == "success", tasks
    assert (tasks["approve"], tasks["promote"], tasks["record_refusal"]) == ("success", "skipped", "success")
    assert registry.by_alias("gated_no", registry.CHAMPION) is None
    assert [(e.kind, e.version, e.actor) for e in ledger.entries("gated_no")] == [("refused", 1, "admin")]
    assert registry.version("gated_no", 1).tags["decision"] == "refused"


@pytest.mark.parametrize(
    ("default", "outcome", "entries"),
    [
        ("reject", ("skipped", "success"), [("refused", "timeout")]),
        ("approve", ("success", "skipped"), [("promoted", "timeout"), ("approved", "timeout")]),
    ],
)
def test_unanswered_request_takes_the_configured_default(
    gated_dag, api_server: ApiServer, default: str, outcome: tuple[str, str], entries: list[tuple[str, str]]
) -> None:
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    # given approval that times out after 2 seconds and falls back to the configured default
    name = f"gated_quiet_{default}"
    dag = gated_dag(name, timeout_hours=2 / 3600, default=default)
    swept: list[bool] = []

    def scheduler_sweep() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not api_server.pending(dag.dag_id):
            time.sleep(1)
        time.sleep(3)
        # when nobody answers, the scheduler's own timeout sweep resolves the request
        SchedulerJobRunner(job=Job()).check_awaiting_input_timeouts()
        swept.append(True)

    helper = threading.Thread(target=scheduler_sweep, daemon=True)
    helper.start()
    state, tasks = run_dag(dag, DAY)
    helper.join(timeout=60)
    # then the default was taken, by nobody, and the ledger says the timeout decided
    assert swept == [True]
    assert state == "success", tasks
    assert (tasks["promote"], tasks["record_refusal"]) == outcome
    champion = registry.by_alias(name, registry.CHAMPION)
    assert (champion.version if champion else None) == (1 if default == "approve" else None)
    assert [(e.kind, e.actor) for e in ledger.entries(name)] == entries


def test_no_question_when_the_policy_says_no(gated_dag, api_server: ApiServer) -> None:
    # given a floor no model can reach
    dag = gated_dag("gated_floor", floor=0.999)
    # when the DAG runs, then nobody is asked: the rejection is recorded by the policy alone
    state, tasks = run_dag(dag, DAY)
    assert state == "success", tasks
    assert (tasks["needs_approval"], tasks["approve"], tasks["promote"]) == ("success", "skipped", "success")
    assert tasks["record_refusal"] == "skipped"
    assert [(e.kind, e.actor) for e in ledger.entries("gated_floor")] == [("rejected", "policy")]
    assert api_server.pending(dag.dag_id) == []
