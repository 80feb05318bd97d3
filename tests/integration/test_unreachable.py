"""Every verb ends in one ``error:`` line within 60 s when a store it needs is closed or silent.

"Closed" is a port nobody listens on; "silent" accepts TCP connections and never answers. Tried with the
pipeline's default timeouts: an MLflow tracking server (HTTP) and a PostgreSQL MLflow store (which also holds
the ledger) for every verb that talks to MLflow, the ledger database alone for the verbs that move the
champion, and the PostgreSQL source for ``retrain`` and ``cadence`` (which replays models on it). Each run is a
CLI process of its own, forked from a warm interpreter that has imported the libraries once (``warm_cli``);
several run at once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.warm_cli import WarmCli

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("heavy")]  # one at a time: they load both cores

DEADLINE_SECONDS = 60
VERBS = {
    "status": ["status"],
    "retrain": ["retrain", "--as-of", "2026-03-01"],
    "rollback": ["rollback"],
    "promote": ["promote", "--version", "1", "--reason", "test"],
    "drift": ["drift", "--as-of", "2026-03-01"],
    "score": ["score", "--as-of", "2026-03-01"],
    "performance": ["performance", "--as-of", "2026-03-01"],
    "cadence": ["cadence", "--as-of", "2026-04-01", "--weeks", "2", "--models", "2"],
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


def run(
    cli: WarmCli, verb: list[str], settings: dict[str, str], home: Path
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """One CLI run in a state folder of its own (a shared one would add waits for the promotion lock)."""
    home.mkdir(parents=True)
    mlflow = f"sqlite:///{home / 'mlflow.db'}"
    env = {**os.environ, "PIPELINES_HOME": str(home), "MLFLOW_TRACKING_URI": mlflow, "MLFLOW_REGISTRY_URI": mlflow}
    env.update(settings)
    start = time.monotonic()
    done = cli.run([*verb, "--model", "demo"], env, timeout=3 * DEADLINE_SECONDS)
    return time.monotonic() - start, done


def test_every_verb_fails_fast_with_one_line_when_a_store_is_closed_or_silent(
    ports: dict[str, int], seeded_source: str, home: Path, warm_cli: WarmCli
) -> None:
    cases = []
    for kind, port in ports.items():
        postgres = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/db"
        for scheme, mlflow in (("http", f"http://127.0.0.1:{port}"), ("postgresql", postgres)):
            store = {
                "MLFLOW_TRACKING_URI": mlflow,
                "MLFLOW_REGISTRY_URI": mlflow,
                "PIPELINES_SOURCE_URL": seeded_source,
            }
            cases += [(f"MLflow {kind} {scheme}", store, verb) for verb in VERBS if verb != "cadence"]
        ledger = {"PIPELINES_LEDGER_URL": postgres, "PIPELINES_SOURCE_URL": seeded_source}
        cases += [(f"ledger {kind}", ledger, verb) for verb in ("status", "promote")]
        cases += [(f"source {kind}", {"PIPELINES_SOURCE_URL": postgres}, verb) for verb in ("retrain", "cadence")]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(
                lambda n_case: run(warm_cli, VERBS[n_case[1][2]], n_case[1][1], home / str(n_case[0])), enumerate(cases)
            )
        )
    for (name, _, verb), (elapsed, done) in zip(cases, results, strict=True):
        where = f"{verb} with the {name}: {elapsed:.0f} s, exit {done.returncode}\n{done.stderr[-1500:]}"
        assert done.returncode == 1, where
        assert elapsed < DEADLINE_SECONDS, where
        assert "Traceback" not in done.stderr, where
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, where
