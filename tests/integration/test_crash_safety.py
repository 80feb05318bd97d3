"""Fault injection: a real ``retrain`` process is SIGKILLed at every step boundary, then re-run.

Each kill uses a named stop point (``PIPELINES_STOP_AT``), so it lands exactly there without timing luck. Each
run is a process of its own, forked from a warm interpreter that has imported the libraries once (``warm_cli``).
Two models run side by side: one retrained on ever newer dates (every run promotes, so every promotion step
is reached), one whose champion is newer than every date it is retrained on (every run is blocked). After
each recovery the invariants of trust must hold: the champion's window never gets older, every champion
move has exactly one ledger entry, ``status`` explains the champion, no version without complete lineage is
ever champion, and the same data, config and code were trained once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import zip_longest

import pytest
import yaml

from tests.conftest import ROOT
from tests.warm_cli import WarmCli

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("heavy")]  # one at a time: they load both cores

NEWER_POINTS = (
    "ingested",
    "validated",
    "version_created",
    "evaluated",
    "intent_written",
    "previous_champion_moved",
    "champion_moved",
    "ledger_written",
    "challenger_moved",
)
OLDER_POINTS = ("ingested", "validated", "version_created", "evaluated", "ledger_written", "challenger_moved")
FIRST_DAY, DAYS = date(2026, 1, 1), 75


@dataclass
class Chain:
    """One model in a state folder of its own, and its champions as observed after each recovery."""

    model: str
    env: dict[str, str]
    cli: WarmCli
    champions: list[int] = field(default_factory=list)
    windows: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory, warm_cli: WarmCli) -> dict[str, Chain]:
    """Per model a state folder with the seeded SQLite source and a fast-training config."""
    from pipelines.demo.seed import seed

    root = tmp_path_factory.mktemp("crash")
    seeded = root / "source.db"
    seed(f"sqlite:///{seeded}", FIRST_DAY, days=DAYS, rows_per_day=150, seed=5)
    demo = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    found = {}
    for name in ("newer", "older"):
        home, configs = root / name / "home", root / name / "configs"
        home.mkdir(parents=True)
        configs.mkdir()
        shutil.copyfile(seeded, home / "source.db")
        cfg = {
            **demo,
            "name": name,
            "windows": {"training_days": 21, "holdout_days": 7, "validation_fraction": 0.2},
            "xgboost": {
                **demo["xgboost"],
                "num_boost_round": 60,
                "params": {**demo["xgboost"]["params"], "nthread": 1},
            },
            # every newer challenger is promoted, so every promotion step is reached
            "policy": {
                **demo["policy"],
                "floor": 0.5,
                "min_improvement": -1.0,
                "guards": {},
                "slices": {"columns": []},
            },
        }
        (configs / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
        env = {
            "PIPELINES_HOME": str(home),
            "PIPELINES_CONFIGS_DIR": str(configs),
            "PIPELINES_SOURCE_URL": f"sqlite:///{home / 'source.db'}",
            "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
            "MLFLOW_REGISTRY_URI": f"sqlite:///{home / 'mlflow.db'}",
        }
        found[name] = Chain(name, env, warm_cli)
    return found


@contextmanager
def using(chain: Chain) -> Iterator[None]:
    """This process reads the chain's stores (for the checks) while the block runs."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in chain.env.items():
            patch.setenv(key, value)
        yield


def retrain(chain: Chain, day: date, stop_at: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The arguments and environment of one ``retrain`` of the chain's model."""
    run_env = {**os.environ, **chain.env}
    run_env.pop("PIPELINES_STOP_AT", None)
    if stop_at:
        run_env["PIPELINES_STOP_AT"] = stop_at
    return ["retrain", "--model", chain.model, "--as-of", day.isoformat()], run_env


def both(*runs: tuple[Chain, date, str | None]) -> list[subprocess.CompletedProcess[str]]:
    """Start the retrains at the same moment, one process each, and wait for all."""
    return runs[0][0].cli.run_all([retrain(*run) for run in runs], timeout=300)


def assert_explained(chain: Chain) -> None:
    """``status`` (which reconciles first) names a champion that the newest champion entry explains."""
    from pipelines.registry.ledger import CHAMPION_MOVES
    from pipelines.reports.status import history_lines, status

    with using(chain):
        report = status(chain.model)
    moves = [e for e in report.ledger if e.kind in CHAMPION_MOVES]
    champion = report.champion
    assert champion is not None and moves and moves[0].version == champion.version, report.ledger[:3]
    assert history_lines(report)[-1] == f"champion now: v{champion.version} (data before {champion.window_end})"


def assert_trusted(chain: Chain, when: str) -> None:
    from pipelines.registry import ledger
    from pipelines.registry import versions as registry

    assert_explained(chain)
    with using(chain):
        champion = registry.by_alias(chain.model, registry.CHAMPION)
        moves = [e for e in reversed(ledger.entries(chain.model)) if e.kind in ledger.CHAMPION_MOVES]
        pending = ledger.pending_intents(chain.model)
        versions = registry.all_versions(chain.model)
    assert champion is not None and not champion.missing_lineage, when
    # the champion's window never gets older
    assert champion.window_end is not None
    if chain.windows:
        assert champion.window_end >= chain.windows[-1], f"{when}: v{champion.version} has older data"
    # every champion change seen has exactly one ledger entry, in order, and no entry without a change
    if not chain.champions or chain.champions[-1] != champion.version:
        chain.champions.append(champion.version)
        chain.windows.append(champion.window_end)
    assert [e.version for e in moves] == chain.champions, f"{when}: ledger {[(e.kind, e.version) for e in moves]}"
    assert all(e.kind == "promoted" for e in moves), when
    # every version is born whole, nothing is left half done, and nothing was trained twice
    assert all(not v.missing_lineage for v in versions), when
    assert pending == [], when
    hashes = [v.tags["snapshot_hash"] for v in versions]
    assert len(hashes) == len(set(hashes)), f"{when}: the same snapshot trained twice"


def test_a_kill_at_any_step_never_leaves_a_wrong_champion_or_a_silent_ledger(chains: dict[str, Chain]) -> None:
    newer, older = chains["newer"], chains["older"]
    start = FIRST_DAY + timedelta(days=40)
    newest = FIRST_DAY + timedelta(days=DAYS - 1)
    # given a champion for each: "newer" is then retrained on ever newer days (each promotes), "older" on
    # ever older days than its champion's (each is blocked)
    assert [r.returncode for r in both((newer, start, None), (older, newest, None))] == [0, 0]
    assert_trusted(newer, "baseline")
    assert_trusted(older, "baseline")
    for step, (new_point, old_point) in enumerate(zip_longest(NEWER_POINTS, OLDER_POINTS), start=1):
        planned = [(newer, start + timedelta(days=step), new_point)]
        if old_point is not None:
            planned.append((older, newest - timedelta(days=2 * step), old_point))
        # when each run is SIGKILLed at its stop point
        for (chain, day, point), died in zip(planned, both(*planned), strict=True):
            assert died.returncode == -signal.SIGKILL, f"{chain.model} {day} never reached {point}:\n{died.stderr}"
            if point in {"champion_moved", "ledger_written"}:  # status alone must explain the half-done move
                assert_explained(chain)
        # and run again
        for (chain, day, point), again in zip(planned, both(*[(c, d, None) for c, d, _ in planned]), strict=True):
            assert again.returncode == 0, f"{chain.model} {day} after a kill at {point}:\n{again.stderr[-3000:]}"
            # then every invariant holds
            assert_trusted(chain, f"{chain.model}: after a kill at {point} on {day}")
    assert len(newer.champions) == len(NEWER_POINTS) + 1
    assert len(older.champions) == 1

    from pipelines.registry import ledger

    with using(older):
        blocked = [e for e in ledger.entries("older") if e.kind == "blocked"]
    # one per re-run, plus the entries the runs killed after writing theirs had already made
    assert len(blocked) == len(OLDER_POINTS) + 2
    assert all(any("older window never replaces" in r for r in e.reasons) for e in blocked)
