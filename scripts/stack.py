"""``make up`` / ``make down``: Airflow (standalone: scheduler, dag-processor, api-server, triggerer) and
the MLflow UI on the state folder, in the background, each in its own process group with logs in
``$PIPELINES_HOME/logs``. ``down`` stops each whole process group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
HOME = Path(os.environ.get("PIPELINES_HOME", Path(__file__).resolve().parent.parent / ".local"))
RUN, LOGS = HOME / "run", HOME / "logs"
AIRFLOW_PORT = os.environ.get("AIRFLOW_PORT", "8080")
MLFLOW_PORT = os.environ.get("MLFLOW_PORT", "5000")


def services() -> dict[str, list[str]]:
    tracking = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{HOME / 'mlflow.db'}"
    return {
        "airflow": [str(BIN / "airflow"), "standalone"],
        "mlflow": [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            tracking,
            "--host",
            "127.0.0.1",
            "--port",
            MLFLOW_PORT,
            "--default-artifact-root",
            (HOME / "mlartifacts").as_uri(),
        ],
    }


def alive(pgid: int) -> bool:
    """Whether any process of the group is left."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def up() -> int:
    RUN.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AIRFLOW__API__PORT": AIRFLOW_PORT}
    for name, command in services().items():
        pidfile = RUN / f"{name}.pid"
        if pidfile.exists() and alive(int(pidfile.read_text())):
            print(f"{name} already running (pid {pidfile.read_text().strip()})")
            continue
        with (LOGS / f"{name}.log").open("a") as log:
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        pidfile.write_text(str(proc.pid))
        print(f"started {name} (pid {proc.pid}), log {LOGS / f'{name}.log'}")
    passwords = Path(os.environ["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    for _ in range(60):
        if passwords.exists():
            break
        time.sleep(1)
    login = passwords.read_text().strip() if passwords.exists() else "(see the airflow log)"
    print(f"Airflow UI: http://localhost:{AIRFLOW_PORT}  login {login}")
    print(f"MLflow UI:  http://localhost:{MLFLOW_PORT}")
    return 0


def down() -> int:
    for pidfile in sorted(RUN.glob("*.pid")) if RUN.exists() else []:
        pid = int(pidfile.read_text())
        if alive(pid):
            os.killpg(pid, signal.SIGTERM)
            for _ in range(30):
                if not alive(pid):
                    break
                time.sleep(0.5)
            else:
                os.killpg(pid, signal.SIGKILL)
            print(f"stopped {pidfile.stem} (process group {pid})")
        pidfile.unlink()
    return 0


if __name__ == "__main__":
    raise SystemExit({"up": up, "down": down}[sys.argv[1]]())
