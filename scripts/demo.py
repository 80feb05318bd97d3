"""``make demo``: seed the demo data, run the real ``retrain_demo`` DAG for consecutive dates, show the history.

Everything lands in the state folder (``$PIPELINES_HOME``, default ``.local/``); Airflow's own output for
each run goes to ``$PIPELINES_HOME/logs/`` so the terminal shows progress, not pages of task logs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

BIN = Path(sys.executable).parent
HOME = Path(os.environ.get("PIPELINES_HOME", Path(__file__).resolve().parent.parent / ".local"))
LOGS = HOME / "logs"
DAG_ID = "retrain_demo"
SEED_START, SEED_DAYS = date(2026, 1, 1), 120
RUN_DATES = [date(2026, 4, 26) + timedelta(days=i) for i in range(5)]


def step(number: int, total: int, text: str) -> None:
    print(f"\n[{number}/{total}] {text}", flush=True)


def run(args: list[str], log: Path | None = None) -> subprocess.CompletedProcess[str]:
    if log is None:
        return subprocess.run(args, text=True, capture_output=True, check=False)
    with log.open("w") as handle:
        return subprocess.run(args, text=True, stdout=handle, stderr=subprocess.STDOUT, check=False)


def pipelines(*args: str) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "python"), "-m", "pipelines", *args])


def status() -> dict:
    result = pipelines("status", "--model", "demo", "--json")
    if result.returncode != 0:
        sys.exit(f"status failed: {result.stderr}")
    return json.loads(result.stdout)


def main() -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    total = 4
    step(1, total, f"seeding {SEED_DAYS} days of demo customers into the source database")
    seeded = pipelines("seed", "--start", SEED_START.isoformat(), "--days", str(SEED_DAYS))
    print("   ", (seeded.stdout or seeded.stderr).strip())
    if seeded.returncode != 0:
        return 1

    step(2, total, f"preparing the Airflow metadata database in {os.environ.get('AIRFLOW_HOME')}")
    migrated = run([str(BIN / "airflow"), "db", "migrate"], LOGS / "airflow-db-migrate.log")
    if migrated.returncode != 0:
        print(f"    airflow db migrate failed; see {LOGS / 'airflow-db-migrate.log'}")
        return 1
    print("    done")

    step(3, total, f"running the {DAG_ID} DAG for {len(RUN_DATES)} consecutive dates")
    failures = 0
    for index, day in enumerate(RUN_DATES, 1):
        log = LOGS / f"{DAG_ID}_{day}.log"
        print(f"    ({index}/{len(RUN_DATES)}) {day}: running ...", end="", flush=True)
        started = time.monotonic()
        result = run([str(BIN / "airflow"), "dags", "test", DAG_ID, day.isoformat()], log)
        ok = result.returncode == 0 and "state=success" in log.read_text()
        failures += not ok
        report = status()
        champion = report["champion"]
        last = next((d for d in report["ledger"] if d["window_end"] == day.isoformat()), None)
        verdict = last["kind"] if last else "no change"
        print(
            f"\r    ({index}/{len(RUN_DATES)}) {day}: {'success' if ok else 'FAILED'} in {time.monotonic() - started:.0f}s,"
            f" decision: {verdict}, champion v{champion['version'] if champion else '-'}   (log: {log})"
        )

    step(4, total, "champion history (python -m pipelines status)")
    print("\n".join("    " + line for line in pipelines("status", "--model", "demo").stdout.splitlines()))
    print(
        f"""
Open the UIs on this state:
    make up      Airflow UI  http://localhost:8080  (login printed by make up)
                 Models page http://localhost:8080/plugin/models  (champion, ledger, model cards)
                 MLflow UI   http://localhost:5000  (experiment and registered model "demo")
    make down    stop them
Run one date without Airflow:   .venv/bin/python -m pipelines retrain --as-of 2026-05-01
State folder: {HOME}"""
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
