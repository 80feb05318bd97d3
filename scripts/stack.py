"""``make up`` / ``make down``: Airflow (api-server, scheduler, dag-processor, triggerer) and the MLflow
server on the state folder, in the background, each in its own process group with its log in
``$PIPELINES_HOME/logs``. ``down`` stops each whole process group, so nothing is left behind.

The Airflow metadata DB is ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` (SQLite in ``$AIRFLOW_HOME`` when unset),
the MLflow backend ``MLFLOW_TRACKING_URI`` when it is a database URL (SQLite in the state folder otherwise).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
HOME = Path(os.environ.get("PIPELINES_HOME", Path(__file__).resolve().parent.parent / ".local"))
RUN, LOGS = HOME / "run", HOME / "logs"
AIRFLOW_PORT = os.environ.get("AIRFLOW_PORT", "8080")
MLFLOW_PORT = os.environ.get("MLFLOW_PORT", "5000")
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def mlflow_backend() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    return uri if uri and not uri.startswith("http") else f"sqlite:///{HOME / 'mlflow.db'}"


def services() -> dict[str, list[str]]:
    airflow = str(BIN / "airflow")
    commands = {f"airflow-{name}": [airflow, name] for name in AIRFLOW_COMPONENTS}
    if os.environ.get("AIRFLOW__CORE__EXECUTOR") == "CeleryExecutor":
        commands["airflow-celery-worker"] = [airflow, "celery", "worker", "--concurrency", "2"]
    commands["mlflow"] = [
        str(BIN / "mlflow"),
        "server",
        "--backend-store-uri",
        mlflow_backend(),
        "--host",
        "127.0.0.1",
        "--port",
        MLFLOW_PORT,
        "--default-artifact-root",
        os.environ.get("PIPELINES_ARTIFACT_ROOT") or (HOME / "mlartifacts").as_uri(),
    ]
    return commands


def environment() -> dict[str, str]:
    """Shared settings every Airflow component must agree on (the JWT secret is made once and kept)."""
    secret_file = RUN / "jwt_secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(32))
        secret_file.chmod(0o600)
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW__API__PORT": AIRFLOW_PORT,
        "AIRFLOW__API_AUTH__JWT_SECRET": os.environ.get("AIRFLOW__API_AUTH__JWT_SECRET") or secret_file.read_text(),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{AIRFLOW_PORT}/execution/",
        # where the Models page (plugins/models_page.py) links to MLflow
        "MLFLOW_UI_URL": os.environ.get("MLFLOW_UI_URL") or f"http://localhost:{MLFLOW_PORT}",
    }


def alive(pgid: int) -> bool:
    """Whether any process of the group is left."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(url: str, seconds: int) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3):
                return True
        except OSError:
            time.sleep(2)
    return False


def up() -> int:
    RUN.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    env = environment()
    print("migrating the Airflow metadata database ...", flush=True)
    with (LOGS / "airflow-db-migrate.log").open("w") as log:
        if subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"], stdout=log, stderr=subprocess.STDOUT, env=env
        ).returncode:
            print(f"airflow db migrate failed: see {LOGS / 'airflow-db-migrate.log'}")
            return 1
    for name, command in services().items():
        pidfile = RUN / f"{name}.pid"
        if pidfile.exists() and alive(int(pidfile.read_text())):
            print(f"{name} already running (process group {pidfile.read_text().strip()})")
            continue
        with (LOGS / f"{name}.log").open("a") as log:
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        pidfile.write_text(str(proc.pid))
        print(f"started {name} (process group {proc.pid}), log {LOGS / f'{name}.log'}", flush=True)
    airflow_url, mlflow_url = f"http://localhost:{AIRFLOW_PORT}", f"http://localhost:{MLFLOW_PORT}"
    if not wait_for(f"{airflow_url}/api/v2/version", 180):
        print(f"the Airflow api-server did not answer within 180 s: see {LOGS / 'airflow-api-server.log'}")
        return 1
    wait_for(f"{mlflow_url}/health", 60)
    dead = [pidfile.stem for pidfile in sorted(RUN.glob("*.pid")) if not alive(int(pidfile.read_text()))]
    if dead:
        print(f"exited soon after start: {', '.join(dead)}; see their logs in {LOGS}")
        return 1
    passwords = Path(os.environ["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    users = json.loads(passwords.read_text()) if passwords.exists() else {}
    login = ", ".join(f"user {user} password {password}" for user, password in users.items())
    print(f"Airflow UI: {airflow_url}  ({login or 'login: see the api-server log'})")
    print(f"MLflow UI:  {mlflow_url}")
    return 0


def down() -> int:
    for pidfile in sorted(RUN.glob("*.pid")) if RUN.exists() else []:
        pgid = int(pidfile.read_text())
        if alive(pgid):
            os.killpg(pgid, signal.SIGTERM)
            for _ in range(40):
                if not alive(pgid):
                    break
                time.sleep(0.5)
            else:
                os.killpg(pgid, signal.SIGKILL)
            print(f"stopped {pidfile.stem} (process group {pgid})")
        pidfile.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit({"up": up, "down": down}[sys.argv[1]]())
