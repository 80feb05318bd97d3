"""``make demo``: seed the demo data, run the real ``retrain_demo`` DAG for consecutive dates through Airflow's
scheduler, then ``score_demo`` (the champion's predictions and how they perform), show the history.

Before the DAG runs, a champion trained on data up to April is put live (in this process) and scores each April
day as it would have, so by the end the labels of most of those days have arrived (7 days late): the demo shows
realized performance next to the CBPE estimates made while the labels were still missing.

For the demo only, Airflow's api-server (on 127.0.0.1, a free port), scheduler and dag-processor run on the
state folder's embedded stores, each in its own process group (``make down`` stops any left behind), and stop
at the end. The runs stay in Airflow's database with their task logs: ``make up`` shows them as they ran.
The scheduler creates no scheduled runs (``[scheduler] use_job_schedule`` off), so only the demo's dates run.
Everything lands in the state folder (``$PIPELINES_HOME``, default ``.local/``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import stack

from pipelines.reports.status import Status

BIN = Path(sys.executable).parent
DAG_ID, SCORE_DAG_ID = "retrain_demo", "score_demo"
SEED_START, SEED_DAYS = date(2026, 1, 1), 120
RUN_DATES = [date(2026, 4, 26) + timedelta(days=i) for i in range(5)]
LIVE_FROM = date(2026, 4, 1)  # the champion put live before the runs is trained on the data before this day
WEEKLY_CHECKS = [date(2026, 4, 8), date(2026, 4, 15), date(2026, 4, 22)]
COMPONENTS = {"api-server": [], "scheduler": ["--skip-serve-logs"], "dag-processor": []}
READY_SECONDS = 240
RUN_SECONDS = 1200


def step(number: int, total: int, text: str) -> None:
    print(f"\n[{number}/{total}] {text}", flush=True)


def pipelines(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "python"), "-m", "pipelines", *args], text=True, capture_output=True, check=False)


def status() -> Status:
    """``python -m pipelines status --model demo``, in this process (its imports are paid once)."""
    from pipelines.config.loading import load_model
    from pipelines.reports.status import status as model_status

    return model_status("demo", cfg=load_model("demo"))


@dataclass(frozen=True)
class Run:
    """One DAG run as Airflow recorded it: its state, the tasks that ran to success and those that failed."""

    run_id: str
    state: str
    succeeded: list[str]
    failed: list[str]
    seconds: float

    @property
    def ok(self) -> bool:
        """A successful run in which tasks really ran: a run with no task is a failure."""
        return self.state == "success" and bool(self.succeeded) and not self.failed


class Airflow:
    """The demo's Airflow REST API, logged in as the admin user the simple auth manager generated."""

    def __init__(self, url: str, password: str) -> None:
        self.url = url
        token = requests.post(f"{url}/auth/token", json={"username": "admin", "password": password}, timeout=30)
        token.raise_for_status()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, f"{self.url}/api/v2{path}", timeout=60, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def run(self, day: date, run_id: str, dag_id: str = DAG_ID) -> Run:
        """Run the DAG for ``day`` (a run of that date made earlier is replaced) and wait for it to finish."""
        logical = f"{day.isoformat()}T00:00:00Z"
        runs = f"/dags/{dag_id}/dagRuns"
        for old in self.call("GET", runs, params={"logical_date_gte": logical, "logical_date_lte": logical})[
            "dag_runs"
        ]:
            self.call("DELETE", f"{runs}/{old['dag_run_id']}")
        started = time.monotonic()
        self.call("POST", runs, json={"dag_run_id": run_id, "logical_date": logical, "conf": {}})
        state = "queued"
        while state not in ("success", "failed") and time.monotonic() - started < RUN_SECONDS:
            time.sleep(2)
            state = self.call("GET", f"{runs}/{run_id}")["state"]
        tasks = self.call("GET", f"{runs}/{run_id}/taskInstances")["task_instances"]
        return Run(
            run_id,
            state,
            [t["task_id"] for t in tasks if t["state"] == "success"],
            [t["task_id"] for t in tasks if t["state"] in ("failed", "upstream_failed")],
            time.monotonic() - started,
        )


@contextmanager
def airflow() -> Iterator[Airflow]:
    """Airflow's api-server, scheduler and dag-processor for the demo, its DAG unpaused while they run; paused
    again (when it was) and every process group stopped afterwards, whatever happens."""
    if busy := stack.running():
        sys.exit(f"{', '.join(busy)} already running on {stack.HOME}: make down first")
    port = str(stack.free_port())
    url = f"http://127.0.0.1:{port}"
    env = {
        **stack.airflow_environment("127.0.0.1", port, url),
        "AIRFLOW__CORE__EXECUTOR": stack.WARM_EXECUTOR,
        "AIRFLOW__CORE__PARALLELISM": "2",  # one task runs at a time: no need for 32 idle worker processes
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    }
    if not stack.migrate(env):
        sys.exit(1)
    names = []
    try:
        for name, args in COMPONENTS.items():
            names.append(f"{stack.DEMO_PREFIX}airflow-{name}")
            stack.start(names[-1], [str(BIN / "airflow"), name, *args], env)
        api = ready(url)
        paused = {dag: api.call("GET", f"/dags/{dag}")["is_paused"] for dag in (DAG_ID, SCORE_DAG_ID)}
        for dag in paused:
            api.call("PATCH", f"/dags/{dag}", json={"is_paused": False})
        try:
            yield api
        finally:
            for dag in (dag for dag, was in paused.items() if was):
                api.call("PATCH", f"/dags/{dag}", json={"is_paused": True})
    finally:
        stack.stop(*names)


def ready(url: str) -> Airflow:
    """The API once the api-server answers and the DAG is parsed; exits with one line after ``READY_SECONDS``."""
    deadline = time.monotonic() + READY_SECONDS
    if not stack.wait_for(f"{url}/api/v2/version", READY_SECONDS):
        sys.exit(f"the api-server did not answer within {READY_SECONDS} s: see {stack.LOGS}")
    passwords = Path(os.environ["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    api = Airflow(url, json.loads(passwords.read_text())["admin"])
    while time.monotonic() < deadline:
        found = [api.session.get(f"{url}/api/v2/dags/{dag}", timeout=30).status_code for dag in (DAG_ID, SCORE_DAG_ID)]
        if found == [200, 200]:
            return api
        time.sleep(2)
    sys.exit(f"{DAG_ID} was not parsed within {READY_SECONDS} s: see {stack.LOGS / 'demo-airflow-dag-processor.log'}")


def run_line(index: int, day: date, run: Run, report: Status) -> str:
    """One line per demo date: how the run went and what it decided."""
    last = next((e for e in report.ledger if e.window_end == day.isoformat()), None)
    outcome = "success" if run.ok else f"FAILED ({run.state}; failed: {', '.join(run.failed) or 'none'})"
    champion = f"v{report.champion.version}" if report.champion else "-"
    return (
        f"\r    ({index}/{len(RUN_DATES)}) {day}: {outcome} in {run.seconds:.0f}s, {len(run.succeeded)} tasks ran, "
        f"decision: {last.kind if last else 'no change'}, champion {champion}"
    )


def put_live() -> None:
    """A champion trained on the data before ``LIVE_FROM``, scoring each day after it up to the first run date as
    it would have live, and its performance measured weekly (estimates where labels were still missing).
    """
    from pipelines.config.loading import load_model
    from pipelines.jobs import steps
    from pipelines.jobs.feedback import measure_performance
    from pipelines.jobs.retrain import retrain

    cfg = load_model("demo")
    source = cfg.source.resolve_url()
    outcome = retrain(cfg, LIVE_FROM, source)
    print(f"    champion as of {LIVE_FROM}: {outcome.status} v{outcome.version}")
    assert cfg.scoring is not None
    days = (RUN_DATES[0] - LIVE_FROM).days
    april = cfg.model_copy(update={"scoring": cfg.scoring.model_copy(update={"window_days": days})})
    scored = steps.score(april, RUN_DATES[0], source, "demo__live")
    print(
        f"    scored {scored.rows} rows of {scored.window_start}..{RUN_DATES[0] - timedelta(days=1)} with v{scored.version}"
    )
    for day in WEEKLY_CHECKS:
        check = measure_performance(cfg, day, source, steps.predictions_url(cfg), record=False)
        values = ", ".join(f"{b.kind} {'-' if b.value is None else f'{b.value:.3f}'}" for b in check.measured)
        print(f"    performance as of {day}: {values}")


def measure_cadence() -> None:
    """``python -m pipelines cadence --as-of <the day after the data>``, in this process."""
    from pipelines.config.loading import load_model
    from pipelines.jobs.cadence import cadence

    cfg = load_model("demo")
    day = SEED_START + timedelta(days=SEED_DAYS)
    basis, found = cadence(cfg, day, cfg.source.resolve_url(), weeks=6, models=4)
    if found.slope_per_day is None or found.recommended_days is None:
        print(f"    no cadence ({basis}): {'; '.join(found.notes)}")
        return
    print(
        f"    {found.metric} changes {found.slope_per_day * 7:+.4f} per week of model age ({found.models} models, "
        f"{basis}); retrain at least every {found.recommended_days:.0f} days"
    )
    print("".join(f"    note: {note}\n" for note in found.notes), end="")


def main() -> int:
    total = 7
    step(1, total, "starting Airflow for the demo: api-server (127.0.0.1), scheduler, dag-processor")
    with airflow() as api:
        print(f"    up at {api.url}; their logs are in {stack.LOGS}")
        step(2, total, f"seeding {SEED_DAYS} days of demo customers into the source database")
        seeded = pipelines("seed", "--start", SEED_START.isoformat(), "--days", str(SEED_DAYS))
        print("   ", (seeded.stdout or seeded.stderr).strip())
        if seeded.returncode != 0:
            return 1

        step(3, total, f"a champion live since {LIVE_FROM}: scoring April as it came, measured weekly")
        put_live()

        step(4, total, f"running the {DAG_ID} DAG for {len(RUN_DATES)} consecutive dates through the scheduler")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        failures = 0
        for index, day in enumerate(RUN_DATES, 1):
            print(f"    ({index}/{len(RUN_DATES)}) {day}: running ...", end="", flush=True)
            run = api.run(day, f"demo__{day}__{stamp}")
            failures += not run.ok
            print(run_line(index, day, run, status()))
            if run.state not in ("success", "failed"):
                print(f"    the run did not finish within {RUN_SECONDS} s; stopping the demo")
                break

        day = RUN_DATES[-1] + timedelta(days=1)
        step(5, total, f"running {SCORE_DAG_ID} for {day}: score with the champion, measure, check for decay")
        scored = api.run(day, f"demo__{day}__{stamp}", SCORE_DAG_ID)
        failures += not scored.ok
        print(f"    {'success' if scored.ok else 'FAILED'} in {scored.seconds:.0f}s: {', '.join(scored.succeeded)}")
    print(f"    stopped the demo's Airflow; the runs and their task logs stay in {os.environ['AIRFLOW_HOME']}")

    step(6, total, "how often to retrain: four models replayed a week apart, judged on six weeks each")
    measure_cadence()

    step(7, total, "champion history and measured performance (python -m pipelines status)")
    from pipelines.reports.status import history_lines, performance_lines

    report = status()
    print("\n".join("    " + line for line in [*history_lines(report), *performance_lines(report)]))
    print(
        f"""
Open the UIs on this state:
    make up      Airflow UI  {stack.AIRFLOW_URL}  (the runs above, task logs included; login printed by make up)
                 Models page {stack.AIRFLOW_URL}/plugin/models  (champion, ledger, model cards)
                 MLflow UI   {stack.MLFLOW_URL}  (experiment "demo": performance runs with their plot)
    make down    stop them
Run one date without Airflow:   .venv/bin/python -m pipelines retrain --as-of 2026-05-01
Measure the champion:           .venv/bin/python -m pipelines performance --as-of 2026-05-01
State folder: {stack.HOME}"""
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
