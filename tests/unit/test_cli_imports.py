"""The CLI answers in about a second when a verb needs no data: parsing imports no heavy library, and ``status`` and
``rollback`` on a SQLite store never import MLflow, Great Expectations or XGBoost (each checked in a fresh process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import ROOT

HEAVY = {"pandas", "mlflow", "great_expectations", "xgboost"}
NOT_FOR_HELP = HEAVY | {"numpy", "sqlalchemy", "pydantic"}
PROBE = """
import json, runpy, sys
sys.argv = ["python -m pipelines", *json.loads(sys.argv[1])]
try:
    runpy.run_module("pipelines", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
print("\\n" + json.dumps({"code": code, "loaded": sorted({name.split(".")[0] for name in sys.modules})}))
"""


def run_cli(argv: list[str]) -> tuple[int, set[str], str]:
    """``python -m pipelines ARGV`` in a fresh process: its exit code, the top-level packages it imported, stdout."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=dict(os.environ),
    )
    head, _, last = done.stdout.rstrip("\n").rpartition("\n")
    report = json.loads(last)
    return report["code"], set(report["loaded"]), head + done.stderr


@pytest.mark.parametrize("argv", [["--help"], ["status", "--help"], ["rollback", "--help"], ["retrain", "--help"]])
def test_help_imports_no_heavy_library(home: Path, argv: list[str]) -> None:
    code, loaded, output = run_cli(argv)
    assert code == 0, output
    assert loaded & NOT_FOR_HELP == set()
    assert "usage: python -m pipelines" in output


def test_parsing_every_verb_imports_no_heavy_library() -> None:
    verbs = [
        ["status", "--model", "demo", "--json"],
        ["rollback", "--to-version", "1", "--reason", "x"],
        ["retrain", "--as-of", "2026-03-01", "--dry-run"],
        ["backfill", "--from", "2026-03-01", "--to", "2026-03-02"],
        ["seed", "--days", "3"],
        ["score", "--as-of", "2026-03-01"],
    ]
    code = (
        "import json, sys\nfrom pipelines.cli import build_parser\n"
        f"for argv in {verbs!r}:\n    build_parser().parse_args(argv)\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) & HEAVY == set()


@pytest.fixture
def two_versions(registry_home: Path) -> Path:
    """v1 then v2 made champion by hand, measured performance, a cadence and a monitor run: every part of status."""
    from pipelines.decision.manual import move_champion
    from pipelines.performance import store
    from pipelines.performance.measure import Measurement
    from pipelines.registry import versions as registry

    client = registry.client()
    client.create_registered_model("demo")
    lineage = {key: "x" for key in registry.LINEAGE_KEYS} | {"window_start": "2026-01-11"}
    for end in ("2026-03-01", "2026-03-08"):
        client.create_model_version("demo", "file:///nowhere", tags={**lineage, "window_end": end})
    move_champion("demo", 1, "first", actor="test")
    move_champion("demo", 2, "second", actor="test")
    days = [(date(2026, 3, 9) + timedelta(days=i)).isoformat() for i in range(8)]
    store.save("demo", [Measurement(d, 2, "realized", "", "roc_auc", 0.8 - i / 100, 10) for i, d in enumerate(days)])
    store.save_cadence("demo", "replay", 5.0, {"recommended_days": 5.0})
    experiment = client.create_experiment("demo")
    client.create_run(experiment, tags={"stage": "monitor", "drift": "True", "drifted": "age"})
    return registry_home


def test_status_and_rollback_import_no_heavy_library(two_versions: Path) -> None:
    code, loaded, output = run_cli(["status", "--json"])
    assert code == 0, output
    report = json.loads(output[: output.rindex("}") + 1])
    assert (report["champion"]["version"], report["previous_champion"]["version"]) == (2, 1)
    assert report["drift"]["features"] == ["age"] and report["performance"]["trend_per_week"] == pytest.approx(-0.07)
    assert loaded & HEAVY == set()
    code, loaded, output = run_cli(["rollback", "--reason", "too slow"])
    assert code == 0, output
    assert "rolled back from v2 to v1: too slow" in output
    assert loaded & HEAVY == set()
    code, loaded, output = run_cli(["status"])
    assert "champion now: v1 (data before 2026-03-01)" in output
    assert loaded & HEAVY == set()
