"""Backfills through Airflow's REST API, as the UI's backfill form does them: create, wait, report per date.

Talks HTTP only (``requests``); the API URL and credentials come from the environment:
``AIRFLOW_API_URL`` (default ``http://localhost:8080``), ``AIRFLOW_API_USER`` (default ``admin``) and
``AIRFLOW_API_PASSWORD`` (default: the password ``make up`` generated in ``$AIRFLOW_HOME``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import requests

from pipelines.errors import InputError, PipelinesError

FINISHED = {"success", "failed"}


class AirflowAPIError(PipelinesError, RuntimeError):
    """The Airflow API refused a request or could not be reached."""


@dataclass(frozen=True)
class RunResult:
    """One run of a backfill: its date, run id and final (or last seen) state."""

    day: str
    run_id: str
    state: str


class AirflowAPI:
    """A small client of Airflow's public REST API (v2) with a bearer token from ``/auth/token``."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30.0) -> None:
        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self._credentials = {"username": username, "password": password}
        self._token: str | None = None

    @classmethod
    def from_env(cls) -> AirflowAPI:
        """A client with the URL and credentials of the environment (see the module docstring)."""
        password = os.environ.get("AIRFLOW_API_PASSWORD") or _generated_password(
            os.environ.get("AIRFLOW_API_USER", "admin")
        )
        if not password:
            raise AirflowAPIError("set AIRFLOW_API_PASSWORD (the Airflow UI password of AIRFLOW_API_USER)")
        return cls(
            os.environ.get("AIRFLOW_API_URL", "http://localhost:8080"),
            os.environ.get("AIRFLOW_API_USER", "admin"),
            password,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request to the API and return its JSON body (None when empty); a 401 refreshes the token once."""
        for attempt in (1, 2):
            try:
                response = requests.request(
                    method, f"{self.base_url}{path}", headers=self._headers(), timeout=self.timeout, **kwargs
                )
            except requests.RequestException as exc:
                raise AirflowAPIError(f"cannot reach the Airflow API at {self.base_url}: {type(exc).__name__}") from exc
            if response.status_code == 401 and attempt == 1:
                self._token = None
                continue
            if response.status_code >= 400:
                raise AirflowAPIError(f"{method} {path}: HTTP {response.status_code}: {_detail(response)}")
            return response.json() if response.content else None
        raise AirflowAPIError(f"{method} {path}: not authorised; check AIRFLOW_API_USER and AIRFLOW_API_PASSWORD")

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            try:
                response = requests.post(f"{self.base_url}/auth/token", json=self._credentials, timeout=self.timeout)
            except requests.RequestException as exc:
                raise AirflowAPIError(f"cannot reach the Airflow API at {self.base_url}: {type(exc).__name__}") from exc
            if response.status_code >= 400:
                raise AirflowAPIError(f"login to {self.base_url} failed: HTTP {response.status_code}")
            self._token = str(response.json()["access_token"])
        return {"Authorization": f"Bearer {self._token}"}


def ensure_unpaused(api: AirflowAPI, dag_id: str, unpause: bool) -> str | None:
    """Backfill runs of a paused DAG stay queued: unpause it when asked, else say so before starting.

    Returns what unpausing also starts, when it starts anything: with ``catchup=False`` the scheduler creates
    the DAG's latest due scheduled run at once (Airflow 3.3), whatever the backfill.
    """
    dag = api.request("GET", f"/api/v2/dags/{dag_id}")
    if not dag.get("is_paused"):
        return None
    also = _scheduled_on_unpause(dag)
    if not unpause:
        raise AirflowAPIError(
            f"{dag_id} is paused, so backfill runs would stay queued: unpause it in the UI or pass --unpause"
            + (f" ({also})" if also else "")
        )
    api.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
    return also


def _scheduled_on_unpause(dag: dict[str, Any]) -> str | None:
    due = dag.get("next_dagrun_logical_date")
    if not due:
        return None
    return (
        f"unpausing also starts its scheduled run for {str(due)[:16]}, which reads the days before that date; "
        "a model whose source gets no new data sets schedule.cron: null"
    )


def _backfill_body(dag_id: str, first: date, last: date, max_active_runs: int) -> dict[str, Any]:
    if last < first:
        raise InputError(f"--to {last} is before --from {first}")
    return {
        "dag_id": dag_id,
        "from_date": f"{first.isoformat()}T00:00:00Z",
        "to_date": f"{last.isoformat()}T23:59:59Z",
        "run_backwards": False,
        "dag_run_conf": {},
        "reprocess_behavior": "completed",
        "max_active_runs": max_active_runs,
    }


def planned_dates(api: AirflowAPI, dag_id: str, first: date, last: date) -> list[str]:
    """The logical dates a backfill from ``first`` to ``last`` (inclusive) would run, by Airflow's dry run."""
    found = api.request("POST", "/api/v2/backfills/dry_run", json=_backfill_body(dag_id, first, last, 1))
    return sorted(str(run["logical_date"])[:10] for run in found["backfills"])


def start_backfill(api: AirflowAPI, dag_id: str, first: date, last: date, max_active_runs: int = 1) -> int:
    """Create a backfill of every scheduled run from ``first`` to ``last`` (whole days, inclusive)."""
    backfill = api.request("POST", "/api/v2/backfills", json=_backfill_body(dag_id, first, last, max_active_runs))
    return int(backfill["id"])


def backfill_runs(api: AirflowAPI, dag_id: str, backfill: dict[str, Any]) -> list[RunResult]:
    """The runs of ``backfill`` (as the API returns it), oldest first: the backfill runs of its dates. The API names
    no backfill on a run, and a date backfilled again is the same run, re-run.
    """
    found = api.request(
        "GET",
        f"/api/v2/dags/{dag_id}/dagRuns",
        params={
            "run_type": "backfill",
            "logical_date_gte": backfill["from_date"],
            "logical_date_lte": backfill["to_date"],
            "limit": 1000,
            "order_by": "logical_date",
        },
    )
    return [
        RunResult((r.get("logical_date") or r["run_after"])[:10], r["dag_run_id"], str(r["state"]))
        for r in found["dag_runs"]
    ]


def wait_for_backfill(
    api: AirflowAPI,
    dag_id: str,
    backfill_id: int,
    timeout: float = 3600,
    poll: float = 5,
    progress: Callable[[list[RunResult]], None] = lambda _: None,
) -> list[RunResult]:
    """Poll until Airflow marks the backfill complete (or ``timeout`` seconds pass); returns its runs."""
    deadline = time.monotonic() + timeout
    while True:
        backfill = api.request("GET", f"/api/v2/backfills/{backfill_id}")
        runs = backfill_runs(api, dag_id, backfill)
        progress(runs)
        if backfill.get("completed_at") and all(r.state in FINISHED for r in runs):
            return runs
        if time.monotonic() > deadline:
            raise AirflowAPIError(f"backfill {backfill_id} of {dag_id} not finished after {timeout:.0f} s")
        time.sleep(poll)


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    return str(body.get("detail", body))[:300] if isinstance(body, dict) else str(body)[:300]


def _generated_password(user: str) -> str | None:
    path = Path(os.environ.get("AIRFLOW_HOME", "")) / "simple_auth_manager_passwords.json.generated"
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get(user)
