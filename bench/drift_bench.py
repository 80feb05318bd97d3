"""Drift report vs Evidently's DataDriftPreset on the same data: time, peak memory, flagged columns.

    .venv/bin/python bench/drift_bench.py            # 1,000,000 rows x 20 numeric + 1 categorical
    .venv/bin/python bench/drift_bench.py --rows 100000

Evidently 0.7 needs pandas<3, so it runs in its own virtual environment, ``.local/venv-evidently`` (git-ignored)
(created on the first run), on the same rows handed over as parquet files.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.side_venv import ensure_venv  # noqa: E402
from pipelines.data.profile import build_profile  # noqa: E402
from pipelines.drift.stats import DriftConfig, DriftReport, drift_report  # noqa: E402

EVIDENTLY_VENV = ROOT / ".local" / "venv-evidently"
EVIDENTLY_PACKAGES = ["evidently==0.7.23", "pandas<3", "pyarrow"]
NUMERIC = [f"x{i:02d}" for i in range(20)]
CATEGORICAL = ["cat"]
CATEGORIES = [f"c{i:02d}" for i in range(12)]
SHIFTED = {"x00": "mean +0.8 sd", "x01": "scale x2", "cat": "category shares reversed", "prediction": "via x00"}

EVIDENTLY_SCRIPT = """
import json, sys, time
import pandas as pd
import pyarrow as pa
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

folder, numeric, categorical = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
reference = pd.read_parquet(f"{folder}/reference.parquet")
current = pd.read_parquet(f"{folder}/current.parquet")
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)

def run(ref, cur):
    report = Report([DataDriftPreset()], include_tests=True)
    as_data = lambda frame: Dataset.from_pandas(frame, data_definition=definition)
    return report.run(as_data(cur), as_data(ref)).dict()

run(reference.head(2000), current.head(2000))  # warm-up: lazy imports, as for ours
start = time.perf_counter()
result = run(reference, current)
seconds = time.perf_counter() - start
drifted = [
    t["metric_config"]["params"]["column"]
    for t in result["tests"]
    if t["metric_config"]["params"]["type"].endswith("ValueDrift") and t["status"] == "FAIL"
]
methods = sorted({m["config"]["method"] for m in result["metrics"] if "method" in m["config"]})
print(json.dumps({"seconds": seconds, "drifted": drifted, "methods": methods}))
"""


def make_data(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    """Reference and current features and scores; only the columns in SHIFTED move."""
    rng = np.random.default_rng(seed)

    def frame(current: bool) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for i, name in enumerate(NUMERIC):
            if i < 10:
                data[name] = rng.normal(0.0, 1.0, rows)
            elif i < 15:
                data[name] = rng.lognormal(0.0, 0.5, rows)
            else:
                data[name] = rng.poisson(3.0, rows).astype("float64")
        if current:
            data["x00"] += 0.8
            data["x01"] *= 2.0
        for name in ("x05", "x12"):  # a little missing data, the same rate on both sides
            data[name][rng.random(rows) < 0.01] = np.nan
        shares = np.linspace(2.0, 0.5, len(CATEGORIES))
        shares = shares[::-1] if current else shares
        data["cat"] = pd.Series(rng.choice(CATEGORIES, rows, p=shares / shares.sum()), dtype="str")
        return pd.DataFrame(data)

    def scores(features: pd.DataFrame) -> np.ndarray:
        return 1 / (1 + np.exp(-(1.5 * features["x00"].to_numpy() + 0.5 * features["x02"].to_numpy())))

    reference, current = frame(current=False), frame(current=True)
    return reference, scores(reference), current, scores(current)


def run_evidently(python: Path, folder: Path) -> dict[str, Any]:
    script = folder / "evidently_drift.py"
    script.write_text(EVIDENTLY_SCRIPT)
    columns = [",".join([*NUMERIC, "prediction"]), ",".join(CATEGORICAL)]
    done = subprocess.run([str(python), str(script), str(folder), *columns], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"Evidently failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def flagged(report: DriftReport, cfg: DriftConfig) -> list[str]:
    psi = report.prediction_psi
    return [*report.drifted, *(["prediction"] if psi is not None and psi > cfg.thresholds.prediction_psi_act else [])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of our report (median)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    evidently_python = ensure_venv(EVIDENTLY_VENV, EVIDENTLY_PACKAGES)
    start = time.perf_counter()
    reference, ref_scores, current, cur_scores = make_data(args.rows, args.seed)
    print(f"data: {args.rows:,} rows x {len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical, reference and current")
    print(f"      made in {time.perf_counter() - start:.1f} s; shifted: {SHIFTED}")
    cfg = DriftConfig()

    start = time.perf_counter()
    profile = build_profile(reference, NUMERIC, CATEGORICAL, ref_scores, bins=cfg.bins)
    profile_seconds = time.perf_counter() - start

    def ours() -> DriftReport:
        return drift_report(profile, current, cur_scores, cfg)

    drift_report(profile, current.head(1000), cur_scores[:1000], cfg)  # warm-up: lazy imports
    timings = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        report = ours()
        timings.append(time.perf_counter() - start)
    our_seconds = statistics.median(timings)

    # tracemalloc sees Python, numpy and pandas allocations but not Arrow's memory pool (the string
    # column); the pool's peak since start, less its level before, bounds what Arrow added.
    data_bytes = int(current.memory_usage(deep=True).sum())
    pool = pa.default_memory_pool()
    arrow_before = pool.bytes_allocated()
    tracemalloc.start()
    ours()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    arrow_bound = max(pool.max_memory() - arrow_before, 0)

    with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
        folder = Path(tmp)
        reference.assign(prediction=ref_scores).to_parquet(folder / "reference.parquet")
        current.assign(prediction=cur_scores).to_parquet(folder / "current.parquet")
        print("running Evidently DataDriftPreset in its own venv ...", flush=True)
        evidently = run_evidently(evidently_python, folder)

    ours_flagged, theirs_flagged = flagged(report, cfg), evidently["drifted"]
    both = traced_peak + arrow_bound
    mib = 1024 * 1024
    rows = [
        ("build_profile (reference)", f"{profile_seconds:.2f} s"),
        (
            f"our drift_report (median of {args.repeat})",
            f"{our_seconds:.3f} s  ({', '.join(f'{t:.3f}' for t in timings)})",
        ),
        ("Evidently DataDriftPreset", f"{evidently['seconds']:.2f} s  ({', '.join(evidently['methods'])})"),
        ("speed-up", f"{evidently['seconds'] / our_seconds:.1f} x  (target >= 50 x)"),
        ("current data (memory_usage deep)", f"{data_bytes / mib:.1f} MiB"),
        ("our report: tracemalloc peak", f"{traced_peak / mib:.1f} MiB"),
        ("our report: Arrow pool, at most", f"{arrow_bound / mib:.1f} MiB"),
        (
            "our report: peak memory, at most",
            f"{both / mib:.1f} MiB = {both / data_bytes:.3f} x the data (target <= 2 x)",
        ),
        ("flagged by us", f"{ours_flagged}  (verdict: drift={report.drift})"),
        ("flagged by Evidently", str(theirs_flagged)),
        ("known shifts", str(list(SHIFTED))),
        ("same columns flagged", "yes" if sorted(ours_flagged) == sorted(theirs_flagged) else "NO"),
    ]
    print()
    for label, value in rows:
        print(f"{label:<36} {value}")


if __name__ == "__main__":
    main()
