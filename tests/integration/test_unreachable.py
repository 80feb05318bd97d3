"""Every verb that talks to MLflow ends in one ``error:`` line within 60 s when its store is closed or silent.

"Closed" is a port nobody listens on; "silent" accepts TCP connections and never answers. Both an MLflow
tracking server (HTTP) and a PostgreSQL MLflow store (which also holds the ledger) are tried, with the
pipeline's default timeouts. Each run is a real CLI process; several run at once to keep the test short.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

DEADLINE_SECONDS = 60
VERBS = {
    "status": ["status"],
    "retrain": ["retrain", "--as-of", "2026-03-01"],
    "rollback": ["rollback"],
    "promote": ["promote", "--version", "1", "--reason", "test"],
    "drift": ["drift", "--as-of", "2026-03-01"],
}


@pytest.fixture(scope="module")
def ports() -> Iterator[dict[str, int]]:
    """A closed port and a silent one (listening, never accepting, never answering) on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(128)
    try:
        yield {"closed": closed, "silent": silent.getsockname()[1]}
    finally:
        silent.close()


def run(verb: list[str], store: str, home: Path, source: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """One CLI run in a state folder of its own (a shared one would add waits for the promotion lock)."""
    home.mkdir(parents=True)
    env = {
        **os.environ,
        "PIPELINES_HOME": str(home),
        "PIPELINES_SOURCE_URL": source,
        "MLFLOW_TRACKING_URI": store,
        "MLFLOW_REGISTRY_URI": store,
    }
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", *verb, "--model", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=3 * DEADLINE_SECONDS,
        cwd=ROOT,
    )
    return time.monotonic() - start, done


def test_every_verb_fails_fast_with_one_line_when_mlflow_is_closed_or_silent(
    ports: dict[str, int], seeded_source: str, home: Path
) -> None:
    stores = {
        f"{kind} {scheme}": url.format(port=port)
        for kind, port in ports.items()
        for scheme, url in (
            ("http", "http://127.0.0.1:{port}"),
            ("postgresql", "postgresql+psycopg2://postgres@127.0.0.1:{port}/mlflow"),
        )
    }
    cases = [(name, store, verb) for name, store in stores.items() for verb in VERBS]
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(
            pool.map(
                lambda n_case: run(VERBS[n_case[1][2]], n_case[1][1], home / str(n_case[0]), seeded_source),
                enumerate(cases),
            )
        )
    for (name, _, verb), (elapsed, done) in zip(cases, results, strict=True):
        where = f"{verb} with MLflow {name}: {elapsed:.0f} s, exit {done.returncode}\n{done.stderr[-1500:]}"
        assert done.returncode == 1, where
        assert elapsed < DEADLINE_SECONDS, where
        assert "Traceback" not in done.stderr, where
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, where
