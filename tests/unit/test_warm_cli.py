"""The warm CLI server of ``tests/warm_cli.py`` answers every run, also runs that arrive together."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from tests.warm_cli import WarmCli


def test_runs_sent_in_one_write_all_finish_each_with_its_own_output() -> None:
    cli = WarmCli()
    try:
        # three requests written at once: the server must read every line, not only the first
        runs = [(["--help"], dict(os.environ)), (["status", "--model", "nope"], dict(os.environ))]
        helped, failed, again = cli.run_all([*runs, runs[0]], timeout=120)
    finally:
        cli.close()
    assert helped.returncode == again.returncode == 0
    assert "usage: python -m pipelines" in helped.stdout and helped.stdout == again.stdout
    assert failed.returncode == 1 and failed.stderr.startswith("error:"), failed.stderr[-2000:]


def test_a_run_past_its_timeout_is_killed_and_raises_as_subprocess_run_does() -> None:
    # a backfill against a silent port waits on it far longer than the run's timeout
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    env = {**os.environ, "AIRFLOW_API_URL": f"http://127.0.0.1:{silent.getsockname()[1]}", "AIRFLOW_API_PASSWORD": "x"}
    cli = WarmCli()
    try:
        args = ["backfill", "--from", "2026-03-01", "--to", "2026-03-01", "--timeout", "600"]
        with pytest.raises(subprocess.TimeoutExpired):
            cli.run(args, env, timeout=5)
        # the timed-out run is gone: the server reaps it and answers the next run
        assert cli.run(["--help"], dict(os.environ), timeout=60).returncode == 0
        assert not cli._pids
    finally:
        cli.close()
        silent.close()
