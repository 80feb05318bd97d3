"""``make up`` / ``make down``: Airflow (api-server, scheduler, dag-processor, triggerer) and the MLflow
server on the state folder, in the background, each in its own process group with its log in
``$PIPELINES_HOME/logs``. ``down`` stops each whole process group, so nothing is left behind.

The Airflow metadata DB is ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` (SQLite in ``$AIRFLOW_HOME`` when unset),
the MLflow backend ``MLFLOW_TRACKING_URI`` when it is a database URL (SQLite in the state folder otherwise).

Safe on a shared host: the api-server and MLflow listen on 127.0.0.1 unless ``AIRFLOW_HOST`` / ``MLFLOW_HOST``
say otherwise; Airflow's ``[api] base_url`` is the URL it serves at (``AIRFLOW__API__BASE_URL`` overrides);
MLflow runs its basic-auth app, so every request but ``/health`` needs a login: user ``admin`` with a password
generated on first start and kept in ``$PIPELINES_HOME/run/mlflow_admin_password`` (mode 0600). The Airflow
components reach MLflow through that server with ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

BIN = Path(sys.executable).parent
HOME = Path(os.environ.get("PIPELINES_HOME", Path(__file__).resolve().parent.parent / ".local"))
RUN, LOGS = HOME / "run", HOME / "logs"
AIRFLOW_HOST = os.environ.get("AIRFLOW_HOST") or "127.0.0.1"
AIRFLOW_PORT = os.environ.get("AIRFLOW_PORT") or "8080"
MLFLOW_HOST = os.environ.get("MLFLOW_HOST") or "127.0.0.1"
MLFLOW_PORT = os.environ.get("MLFLOW_PORT") or "5000"
MLFLOW_ADMIN = "admin"
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
WARM_EXECUTOR = "warm_executor.WarmLocalExecutor"
"""The LocalExecutor whose tasks start with GX, MLflow and XGBoost already imported (``plugins/warm_executor.py``)."""
WARM_CELERY_CONFIG = "warm_celery.CELERY_CONFIG"
"""Under the CeleryExecutor, the same for a Celery worker's tasks (``plugins/warm_celery.py``)."""
DEMO_PREFIX = "demo-"
"""Process groups ``make demo`` starts for itself carry this prefix; ``make down`` stops them too."""
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
WILDCARD = {"0.0.0.0", "::", ""}  # noqa: S104 - used to detect wildcard binds, never to bind
AUTH_INI = """[mlflow]
default_permission = READ
database_uri = {database_uri}
admin_username = {admin}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
# checking a password costs ~0.5 s; a known login is trusted for 5 minutes per worker
auth_cache_ttl_seconds = 300
"""


def public_url(host: str, port: str) -> str:
    """The URL people open: ``localhost`` when bound to loopback, this machine's name when bound to all."""
    name = "localhost" if host in LOOPBACK else socket.gethostname() if host in WILDCARD else host
    return f"http://{name}:{port}"


def local_url(host: str, port: str) -> str:
    """The URL processes on this machine use to reach a server bound to ``host``."""
    return f"http://{'127.0.0.1' if host in LOOPBACK | WILDCARD else host}:{port}"


AIRFLOW_URL = (os.environ.get("AIRFLOW__API__BASE_URL") or public_url(AIRFLOW_HOST, AIRFLOW_PORT)).rstrip("/")
MLFLOW_URL = public_url(MLFLOW_HOST, MLFLOW_PORT)
MLFLOW_LOCAL_URL = local_url(MLFLOW_HOST, MLFLOW_PORT)


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def secret(name: str) -> str:
    """A random secret kept in ``$PIPELINES_HOME/run/<name>`` (mode 0600), made on first use."""
    RUN.mkdir(parents=True, exist_ok=True)
    RUN.chmod(0o700)
    path = RUN / name
    if not path.exists():
        write_private(path, secrets.token_urlsafe(24))
    return path.read_text().strip()


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read, never readable by others in between."""
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write(text)


def mlflow_backend() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    return uri if uri and not uri.startswith("http") else f"sqlite:///{HOME / 'mlflow.db'}"


def airflow_environment(host: str, port: str, base_url: str) -> dict[str, str]:
    """What every Airflow component must agree on: where the api-server listens and is reached, the JWT secret
    (made once and kept), the executor (unless ``AIRFLOW__CORE__EXECUTOR`` names one: ``WARM_EXECUTOR``) and the
    Celery configuration (``WARM_CELERY_CONFIG`` unless set)."""
    reach = local_url(host, port) + urlsplit(base_url).path.rstrip("/")
    return {
        **os.environ,
        "AIRFLOW__CORE__EXECUTOR": os.environ.get("AIRFLOW__CORE__EXECUTOR") or WARM_EXECUTOR,
        "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": os.environ.get("AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS")
        or WARM_CELERY_CONFIG,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": port,
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__API_AUTH__JWT_SECRET": os.environ.get("AIRFLOW__API_AUTH__JWT_SECRET") or secret("jwt_secret"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{reach}/execution/",
    }


def mlflow_client_environment(password: str) -> dict[str, str]:
    """How the pipeline in Airflow reaches MLflow: through the authenticated server, which serves the store
    (unless ``MLFLOW_TRACKING_URI`` names another server); the ledger stays in the store's database."""
    if os.environ.get("MLFLOW_TRACKING_URI", "").startswith("http"):
        return {}
    return {
        "MLFLOW_TRACKING_URI": MLFLOW_LOCAL_URL,
        "MLFLOW_REGISTRY_URI": MLFLOW_LOCAL_URL,
        "MLFLOW_TRACKING_USERNAME": MLFLOW_ADMIN,
        "MLFLOW_TRACKING_PASSWORD": password,
        "PIPELINES_LEDGER_URL": os.environ.get("PIPELINES_LEDGER_URL") or mlflow_backend(),
    }


def mlflow_server(password: str) -> tuple[list[str], dict[str, str]]:
    """The MLflow server command with its basic-auth app, and the environment it starts with."""
    config = RUN / "basic_auth.ini"
    auth_db = f"sqlite:///{HOME / 'mlflow_auth.db'}"
    write_private(config, AUTH_INI.format(database_uri=auth_db, admin=MLFLOW_ADMIN))
    command = [
        str(BIN / "mlflow"),
        "server",
        "--app-name",
        "basic-auth",
        "--host",
        MLFLOW_HOST,
        "--port",
        MLFLOW_PORT,
        "--workers",
        "2",
        "--backend-store-uri",
        mlflow_backend(),
        "--default-artifact-root",
        os.environ.get("PIPELINES_ARTIFACT_ROOT") or (HOME / "mlartifacts").as_uri(),
    ]
    env = {
        **os.environ,
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": password,  # read only while the user store is empty
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secret("mlflow_flask_secret"),
        # MLflow's job runner (GenAI judges, trace rollups: a process per kind of job) runs nothing of ours
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    return command, env


def services(password: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each process group ``make up`` starts: its command and environment."""
    airflow = str(BIN / "airflow")
    env = {
        **airflow_environment(AIRFLOW_HOST, AIRFLOW_PORT, AIRFLOW_URL),
        **mlflow_client_environment(password),
        # where the Models page (plugins/models_page.py) links to MLflow
        "MLFLOW_UI_URL": os.environ.get("MLFLOW_UI_URL") or MLFLOW_URL,
    }
    commands = {f"airflow-{name}": [airflow, name] for name in AIRFLOW_COMPONENTS}
    if os.environ.get("AIRFLOW__CORE__EXECUTOR") == "CeleryExecutor":
        commands["airflow-celery-worker"] = [airflow, "celery", "worker", "--concurrency", "2"]
    return {**{name: (command, env) for name, command in commands.items()}, "mlflow": mlflow_server(password)}


def members(pgid: int) -> list[str]:
    """The processes of group ``pgid`` that are not zombies, as ``pid command`` lines.

    Read from ``/proc``: a killed process whose parent never reaps it (an orphan under a container's PID 1 that
    reaps nothing) stays a zombie in its group, but runs nothing, holds no port and is not left behind."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, os.WNOHANG)  # a leader that is our own exited child
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        state, _ppid, group = stat[stat.rindex(")") + 2 :].split()[:3]
        if int(group) == pgid and state != "Z":
            found.append(f"{proc.name} {cmdline[:160]}")
    return found


def alive(pgid: int) -> bool:
    """Whether any process of the group is left that is not a zombie."""
    return bool(members(pgid))


def running(prefix: str = "") -> list[str]:
    """Names of the process groups started on this state folder that are still alive."""
    pidfiles = sorted(RUN.glob(f"{prefix}*.pid")) if RUN.exists() else []
    return [p.stem for p in pidfiles if alive(int(p.read_text()))]


def start(name: str, command: list[str], env: dict[str, str]) -> int:
    """Start ``command`` in a process group of its own, logging to ``$PIPELINES_HOME/logs/<name>.log``."""
    LOGS.mkdir(parents=True, exist_ok=True)
    with (LOGS / f"{name}.log").open("a") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    (RUN / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def stop(*names: str) -> dict[str, int]:
    """Stop process groups started by ``start``, all at once (SIGTERM, SIGKILL after 20 s); returns the ids of
    those that were alive, by name."""
    groups = {}
    for name in names:
        pidfile = RUN / f"{name}.pid"
        groups[name] = int(pidfile.read_text())
        pidfile.unlink()
    stopping = {name: pgid for name, pgid in groups.items() if alive(pgid)}
    for pgid in stopping.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while any(alive(pgid) for pgid in stopping.values()) and time.monotonic() < deadline:
        time.sleep(0.5)
    for pgid in stopping.values():
        if alive(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(alive(pgid) for pgid in stopping.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return stopping


def wait_for(url: str, seconds: int, headers: dict[str, str] | None = None) -> bool:
    """Whether ``url`` answers 2xx within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=3):
                return True
        except OSError:
            time.sleep(2)
    return False


def basic_auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def migrate(env: dict[str, str]) -> bool:
    """``airflow db migrate``; False (and one line saying where the log is) when it fails."""
    LOGS.mkdir(parents=True, exist_ok=True)
    with (LOGS / "airflow-db-migrate.log").open("w") as log:
        failed = subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"], stdout=log, stderr=subprocess.STDOUT, env=env
        ).returncode
    if failed:
        print(f"airflow db migrate failed: see {LOGS / 'airflow-db-migrate.log'}")
    return not failed


def admin_login(airflow_home: Path) -> str:
    """The Airflow users and passwords the simple auth manager generated, as one line."""
    passwords = airflow_home / "simple_auth_manager_passwords.json.generated"
    users = json.loads(passwords.read_text()) if passwords.exists() else {}
    return ", ".join(f"user {user} password {password}" for user, password in users.items())


def up() -> int:
    if importlib.util.find_spec("flask_wtf") is None:
        print("MLflow's basic-auth app needs Flask-WTF (pinned in requirements.txt), not installed: run make install")
        return 1
    if demo := running(DEMO_PREFIX):
        print(f"make demo is running on {HOME} ({', '.join(demo)}): wait for it to finish, or make down")
        return 1
    password = secret("mlflow_admin_password")
    todo = services(password)
    print("migrating the Airflow metadata database ...", flush=True)
    if not migrate(airflow_environment(AIRFLOW_HOST, AIRFLOW_PORT, AIRFLOW_URL)):
        return 1
    for name, (command, env) in todo.items():
        pidfile = RUN / f"{name}.pid"
        if pidfile.exists() and alive(int(pidfile.read_text())):
            print(f"{name} already running (process group {pidfile.read_text().strip()})")
            continue
        pgid = start(name, command, env)
        print(f"started {name} (process group {pgid}), log {LOGS / f'{name}.log'}", flush=True)
    airflow_check = local_url(AIRFLOW_HOST, AIRFLOW_PORT) + urlsplit(AIRFLOW_URL).path.rstrip("/")
    if not wait_for(f"{airflow_check}/api/v2/version", 180):
        print(f"the Airflow api-server did not answer within 180 s: see {LOGS / 'airflow-api-server.log'}")
        return 1
    models = f"{MLFLOW_LOCAL_URL}/api/2.0/mlflow/registered-models/search?max_results=1"
    if not wait_for(models, 120, basic_auth(MLFLOW_ADMIN, password)):
        print(
            f"MLflow did not accept its admin login within 120 s: see {LOGS / 'mlflow.log'} (a user store "
            f"{HOME / 'mlflow_auth.db'} left from an older password: delete it and {RUN / 'mlflow_admin_password'})"
        )
        return 1
    if dead := [name for name in todo if name not in running()]:
        print(f"exited soon after start: {', '.join(dead)}; see their logs in {LOGS}")
        return 1
    login = admin_login(Path(os.environ["AIRFLOW_HOME"]))
    print(f"Airflow UI: {AIRFLOW_URL}  ({login or 'login: see the api-server log'})")
    print(f"MLflow UI:  {MLFLOW_URL}  (user {MLFLOW_ADMIN} password {password})")
    print(
        f"Listening on {AIRFLOW_HOST}:{AIRFLOW_PORT} (Airflow) and {MLFLOW_HOST}:{MLFLOW_PORT} (MLflow); "
        "AIRFLOW_HOST, AIRFLOW_PORT, MLFLOW_HOST, MLFLOW_PORT change them"
    )
    return 0


def down() -> int:
    names = [pidfile.stem for pidfile in sorted(RUN.glob("*.pid"))] if RUN.exists() else []
    left = []
    for name, pgid in stop(*names).items():
        if survivors := members(pgid):
            left.append(f"{name} (process group {pgid}): " + "; ".join(survivors))
        else:
            print(f"stopped {name} (process group {pgid})")
    for line in left:
        print(f"still running after SIGKILL: {line}", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    raise SystemExit({"up": up, "down": down}[sys.argv[1]]())
