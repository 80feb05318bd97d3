"""The warm CLI server of ``tests/warm_cli.py`` answers every run, also runs that arrive together."""

from __future__ import annotations

import os

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
