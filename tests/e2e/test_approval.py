"""Human approval between evaluate and promote: the standard provider's ApprovalOperator, answered through a
real api-server's REST API while ``dag.test()`` waits, and the timeout resolved by the scheduler's own sweep.
Only the configured approvers may answer; a failed stage makes the run failed whatever the approval's trigger
rules."""

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

from pipelines.registry import ledger
from pipelines.registry import versions as registry
from tests.conftest import ROOT
from tests.e2e.helpers import run_dag, run_once
from tests.e2e.test_live_stack import free_port

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.usefixtures("registry_home")]

DAY = date(2026, 3, 20)
USERS = "admin:admin,approver:user"  # simple auth manager users of the api-server: an admin and an approver


@dataclass(frozen=True)
class ApiServer:
    base: str
    headers: dict[str, str]

    def pending(self, dag_id: str) -> list[dict[str, Any]]:
        url = f"{self.base}/api/v2/dags/{dag_id}/dagRuns/~/hitlDetails"
        response = requests.get(url, headers=self.headers, params={"response_received": "false"}, timeout=30)
        response.raise_for_status()
        return list(response.json()["hitl_details"])

    def approve_state(self, dag_id: str, run_id: str) -> str:
        url = f"{self.base}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/approve"
        response = requests.get(url, headers=self.headers, timeout=30)
        response.raise_for_status()
        return str(response.json()["state"])

    def answer(self, dag_id: str, run_id: str, option: str) -> requests.Response:
        url = f"{self.base}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/approve/-1/hitlDetails"
        return requests.patch(url, headers=self.headers, json={"chosen_options": [option]}, timeout=30)

    def as_user(self, user: str, passwords: Path) -> ApiServer:
        """The same server, logged in as another user of the simple auth manager."""
        password = json.loads(passwords.read_text())[user]
        token = requests.post(f"{self.base}/auth/token", json={"username": user, "password": password}, timeout=30)
        token.raise_for_status()
        return ApiServer(self.base, {"Authorization": f"Bearer {token.json()['access_token']}"})


@pytest.fixture(scope="module")
def api_server(airflow_db: Path) -> Iterator[ApiServer]:
    """``airflow api-server`` on the session's metadata database."""
    port = free_port()
    log = (airflow_db / f"api-server-{port}.log").open("w")
    process = subprocess.Popen(
        [str(Path(os.sys.executable).with_name("airflow")), "api-server", "--port", str(port), "--workers", "1"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": USERS},
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


def answer_when_asked(
    api: ApiServer, dag_id: str, option: str, seen: dict[str, Any], first: ApiServer | None = None
) -> threading.Thread:
    """In the background: wait for the approval request, record what it showed, then answer it (after ``first``
    tried the same answer, when given) once the task waits for it.

    The request is listed a moment before its task is parked in ``awaiting_input``. On a SQLite metadata DB,
    where Airflow's row locks do nothing, an answer in that moment is recorded but the task is parked anyway
    and waits for its deadline (seen in CI: the answer within 100 ms, faster than any person). A person reads
    the request first; so does this helper, by waiting for the park."""

    def run() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not (pending := api.pending(dag_id)):
            time.sleep(1)
        request = pending[0]
        seen["request"] = request
        run_id = request["task_instance"]["dag_run_id"]
        while time.monotonic() < deadline and api.approve_state(dag_id, run_id) != "awaiting_input":
            time.sleep(0.5)
        if first is not None:
            seen["first"] = first.answer(dag_id, run_id, option)
        seen["response"] = api.answer(dag_id, run_id, option)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_approved_promotion_moves_the_champion(gated_dag, api_server: ApiServer, airflow_db: Path) -> None:
    dag = gated_dag("gated_yes", approvers=["approver"])
    approver = api_server.as_user("approver", airflow_db / "simple_auth_manager_passwords.json.generated")
    seen: dict[str, Any] = {}
    # given a first model the policy would promote and one named approver, when an admin tries to approve it
    # through the REST API and then the approver does
    helper = answer_when_asked(approver, dag.dag_id, "Approve", seen, first=api_server)
    state, tasks = run_dag(dag, DAY)
    helper.join(timeout=60)
    # then the admin was refused, the approver's answer accepted, and the champion moved
    assert seen["first"].status_code == 403, seen["first"].text
    assert seen["response"].status_code == 200, seen["response"].text
    request, body = seen["request"], seen["request"]["body"]
    assert request["subject"] == "Promote gated_yes v1 to champion?"
    assert request["assigned_users"] == [{"id": "approver", "name": "approver"}]
    # and the request showed the comparison, the data window, its deadline and default, and where to look
    assert "Challenger v1 against no champion yet" in body and "ok floor: roc_auc" in body
    assert "training 2026-01-30 to 2026-03-12, holdout 2026-03-13 to 2026-03-19" in body
    assert "**Answer by 20" in body and "the default applies: **Reject** (the champion stays" in body
    assert "**Who may answer**: `approver`." in body and "only run slot" in body
    assert "/models/gated_yes/versions/1/card/index.html)" in body and "/#/models/gated_yes/versions/1)" in body
    assert f"/dags/{dag.dag_id}/runs/manual__" in body
    assert state == "success", tasks
    assert (tasks["approve"], tasks["promote"], tasks["record_refusal"]) == ("success", "success", "skipped")
    assert tasks["any_stage_failed"] == "skipped"
    champion = registry.by_alias("gated_yes", registry.CHAMPION)
    assert champion is not None and champion.version == 1
    # and the ledger says who approved it, then that it was promoted
    entries = ledger.entries("gated_yes")
    assert [(e.kind, e.version, e.actor) for e in entries] == [
        ("promoted", 1, "approver"),
        ("approved", 1, "approver"),
    ]
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
    assert "**Who may answer**: anyone who may change this DAG's runs." in seen["request"]["body"]
    assert state == "success", tasks
    assert (tasks["approve"], tasks["promote"], tasks["record_refusal"]) == ("success", "skipped", "success")
    assert tasks["any_stage_failed"] == "skipped"
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
        while time.monotonic() < deadline and not (pending := api_server.pending(dag.dag_id)):
            time.sleep(1)
        run_id = pending[0]["task_instance"]["dag_run_id"]
        while time.monotonic() < deadline and api_server.approve_state(dag.dag_id, run_id) != "awaiting_input":
            time.sleep(0.5)
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
    assert (tasks["promote"], tasks["record_refusal"], tasks["any_stage_failed"]) == (*outcome, "skipped")
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
    assert tasks["record_refusal"] == tasks["any_stage_failed"] == "skipped"
    assert [(e.kind, e.actor) for e in ledger.entries("gated_floor")] == [("rejected", "policy")]
    assert api_server.pending(dag.dag_id) == []


def test_a_failed_quality_gate_fails_the_run_with_approval_required(gated_dag, airflow_db: Path) -> None:
    from airflow.models.dagrun import DagRun

    # given approval required, and a date whose window holds no rows (the data ends 2026-03-31)
    dag = gated_dag("gated_gate")
    run = run_once(dag, date(2026, 6, 1))
    tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    # then validate failed, the approval's trigger rules skipped record_refusal, and the last task failed
    assert tasks["validate"] == "failed"
    assert {tasks[t] for t in ("train", "evaluate", "needs_approval", "approve", "promote")} == {"upstream_failed"}
    assert (tasks["record_refusal"], tasks["any_stage_failed"]) == ("skipped", "failed")
    # so the run Airflow stored (its state computed from the leaf task by Airflow's own rules) is failed
    stored = DagRun.find(dag_id=dag.dag_id, run_id=run.run_id)
    assert [str(r.state) for r in stored] == ["failed"]
    assert [(e.kind, e.actor) for e in ledger.entries("gated_gate")] == [("blocked", "quality gate")]
