"""The end-to-end tests' bound on one ``dag.test()`` holds even when the run uses the alarm timer itself, as
Airflow's import timeout does each time a task's DAG file is parsed."""

from __future__ import annotations

import signal
import time
from datetime import date
from typing import Any, ClassVar

import pytest

from tests.e2e import helpers


class HangingDag:
    """Parses "its DAG file" under an alarm, as Airflow does for each task, then waits without end."""

    dag_id = "hanging"
    params: ClassVar[dict[str, Any]] = {}

    def test(self, **_: Any) -> None:
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        signal.setitimer(signal.ITIMER_REAL, 30)
        signal.setitimer(signal.ITIMER_REAL, 0)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(0.1)


def test_a_run_that_never_ends_fails_with_one_line_after_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(helpers, "RUN_SECONDS", 1)
    previous = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError, match=r"dag.test\(\) of hanging for 2026-03-20 did not finish within 1 s"):
            helpers.run_once(HangingDag(), date(2026, 3, 20))
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 10
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
