"""``python -m pipelines`` as processes forked from one warm interpreter, for tests that start many of them.

A retrain process spends most of its life on a small window importing GX, MLflow, XGBoost and Matplotlib. The
server started here imports them once; each ``run`` forks it into a new process with the given environment,
arguments and working folder, which then runs ``pipelines.cli.main`` exactly as ``python -m pipelines`` does
and exits with its status, or dies by a signal: a stop point's SIGKILL reaches only that process. The server
holds no thread, no open store and no state of the pipeline's, so a child starts as a fresh process would,
minus the imports. ``python -m pipelines`` itself is started fresh by the CLI's own tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

from tests.conftest import ROOT

SERVER = """
import atexit, json, os, select, sys, threading, traceback
sys.path.insert(0, sys.argv[1])
from pipelines.jobs.warm_imports import preload
preload()
import pipelines.cli
if threading.active_count() != 1:
    raise SystemExit(f"a warm-up import started threads: {threading.enumerate()}")
print(json.dumps({"ready": os.getpid()}), flush=True)


def child(request):
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
    sys.argv = ["pipelines", *request["args"]]
    code = 1
    try:
        code = pipelines.cli.main(request["args"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


# Requests are read with os.read, never a buffered readline: lines a buffer took in would wait unseen by select.
running, pending, stdin = {}, b"", sys.stdin.fileno()
while True:
    ready, _, _ = select.select([stdin], [], [], 0.05)
    if ready:
        chunk = os.read(stdin, 1 << 16)
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\\n")
        for line in lines:
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                child(request)
            running[pid] = request["id"]
            print(json.dumps({"id": request["id"], "pid": pid}), flush=True)
    while running:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            break
        print(json.dumps({"id": running.pop(pid), "returncode": os.waitstatus_to_exitcode(status)}), flush=True)
"""


class WarmCli:
    """A server of warm ``python -m pipelines`` processes; ``run`` is ``subprocess.run`` for the CLI (a run past
    its timeout is killed and raises ``subprocess.TimeoutExpired``).
    """

    def __init__(self) -> None:
        self._server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(ROOT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self._server.stdin and self._server.stdout
        self._requests: IO[str] = self._server.stdin
        self._answers: IO[str] = self._server.stdout
        first = self._answers.readline()
        if not first:
            raise RuntimeError(f"the warm CLI server did not start (exit {self._server.wait()})")
        self._folder = tempfile.TemporaryDirectory(prefix="warm-cli-")
        self._waiting: dict[int, Future[int]] = {}
        self._pids: dict[int, int] = {}
        self._lock = threading.Lock()
        self._count = 0
        threading.Thread(target=self._read_answers, daemon=True).start()

    def run(
        self, args: list[str], env: dict[str, str], timeout: float, cwd: Path = ROOT
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python -m pipelines *args`` in a forked process; its output captured, as ``subprocess.run``."""
        return self.run_all([(args, env)], timeout, cwd)[0]

    def run_all(
        self, runs: list[tuple[list[str], dict[str, str]]], timeout: float, cwd: Path = ROOT
    ) -> list[subprocess.CompletedProcess[str]]:
        """Start every run (arguments, environment) at the same moment, one process each, and wait for all."""
        started = []
        with self._lock:
            lines = []
            for args, env in runs:
                self._count += 1
                out, err = (Path(self._folder.name) / f"{self._count}.{kind}" for kind in ("out", "err"))
                answer: Future[int] = Future()
                self._waiting[self._count] = answer
                started.append((self._count, args, answer, out, err))
                request = {"id": self._count, "args": args, "env": env, "cwd": str(cwd)}
                lines.append(json.dumps({**request, "stdout": str(out), "stderr": str(err)}) + "\n")
            self._requests.write("".join(lines))
            self._requests.flush()
        deadline = time.monotonic() + timeout
        done = []
        for _, args, answer, out, err in started:
            command = ["python", "-m", "pipelines", *args]
            try:
                code = answer.result(timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                self._kill([number for number, *_ in started])
                raise subprocess.TimeoutExpired(command, timeout) from None
            done.append(subprocess.CompletedProcess(command, code, out.read_text(), err.read_text()))
        return done

    def _kill(self, numbers: list[int]) -> None:
        """SIGKILL the runs still going, as ``subprocess.run`` kills its child on a timeout."""
        with self._lock:
            pids = [self._pids[n] for n in numbers if n in self._pids and n in self._waiting]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        """Stop the server (children still running are left to finish) and delete the captured output."""
        self._requests.close()
        self._server.wait(timeout=60)
        self._folder.cleanup()

    def _read_answers(self) -> None:
        for line in self._answers:
            answer: dict[str, Any] = json.loads(line)
            with self._lock:
                if "pid" in answer:
                    self._pids[answer["id"]] = answer["pid"]
                    continue
                self._pids.pop(answer["id"], None)
                future = self._waiting.pop(answer["id"])
            future.set_result(answer["returncode"])
        with self._lock:
            for future in self._waiting.values():
                future.set_exception(RuntimeError("the warm CLI server stopped"))
