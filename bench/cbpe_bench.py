"""CBPE vs NannyML's on the demo model: estimated ROC AUC per week, side by side and against the realized one.

    .venv/bin/python bench/cbpe_bench.py

Trains the demo model the pipeline's way on days 0-41 of the seeded demo data (whose concept shifts slowly, so
the real AUC decays), calibrates on the holdout (days 42-48) if calibrating helps, then estimates each later week
without its labels; NannyML decides whether to calibrate too, and each is also run with the other's choice.
NannyML 0.13.1 needs pandas<3, so it runs in its own virtual environment, ``.local/venv-nannyml`` (git-ignored)
(created on the first run), on the same scores handed over as a parquet file.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.side_venv import ensure_venv  # noqa: E402
from pipelines.config.loading import load_model  # noqa: E402
from pipelines.config.model import ModelConfig  # noqa: E402
from pipelines.data.windows import Window  # noqa: E402
from pipelines.demo.seed import generate  # noqa: E402
from pipelines.model.features import labels, split  # noqa: E402
from pipelines.model.metrics import roc_auc  # noqa: E402
from pipelines.model.scoring import score  # noqa: E402
from pipelines.model.train import fit  # noqa: E402
from pipelines.performance.cbpe import Calibration, estimate, fit_calibration, fit_isotonic  # noqa: E402

NANNYML_VENV = ROOT / ".local" / "venv-nannyml"
# nannyml imports statsmodels without declaring it; pandas 3 is refused by its code
NANNYML_PACKAGES = ["nannyml==0.13.1", "pandas<3", "statsmodels", "pyarrow"]
START, DAYS, ROWS_PER_DAY, SEED = date(2026, 1, 1), 120, 400, 7
TRAIN_DAYS, HOLDOUT_DAYS, WEEK = 42, 7, 7
TOLERANCE, BOOTSTRAP, CONFIDENCE = 0.02, 200, 0.95

NANNYML_SCRIPT = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
import nannyml as nml
import nannyml.performance_estimation.confidence_based.cbpe as nml_cbpe
from nannyml.chunk import Chunk, Chunker

class WeekChunker(Chunker):
    def _split(self, data):
        return [Chunk(key=str(week), data=rows) for week, rows in data.groupby("week", sort=True)]

data = pd.read_parquet(sys.argv[1])
reference = data[data["week"] < 0]
analysis = data[data["week"] >= 0].drop(columns="y")

def run():
    cbpe = nml.CBPE(
        metrics=["roc_auc", "accuracy"], y_pred_proba="score", y_pred="pred", y_true="y",
        problem_type="classification_binary", chunker=WeekChunker(),
    )
    start = time.perf_counter()
    cbpe.fit(reference)
    fitted = time.perf_counter()
    result = cbpe.estimate(analysis).filter(period="analysis").to_df()
    return cbpe, result, fitted - start, time.perf_counter() - fitted

run()  # warm-up: lazy imports, as for ours
cbpe, result, fit_seconds, estimate_seconds = run()
nml_cbpe.needs_calibration = lambda **_: True
_, calibrated, _, _ = run()
nml_cbpe.needs_calibration = lambda **_: False
_, raw, _, _ = run()
print(json.dumps({
    "weeks": [int(k) for k in result[("chunk", "key")]],
    "roc_auc": result[("roc_auc", "value")].tolist(),
    "accuracy": result[("accuracy", "value")].tolist(),
    "roc_auc_calibrated": calibrated[("roc_auc", "value")].tolist(),
    "roc_auc_raw": raw[("roc_auc", "value")].tolist(),
    "needs_calibration": bool(cbpe.needs_calibration),
    "fit_seconds": fit_seconds,
    "estimate_seconds": estimate_seconds,
}))
"""


def scored_data(cfg: ModelConfig) -> tuple[pd.DataFrame, float]:
    """Every row after training with its day, label and the model's score; and the training seconds."""
    frame = generate(start=START, days=DAYS, rows_per_day=ROWS_PER_DAY, seed=SEED)
    day = (frame[cfg.columns.timestamp] - pd.Timestamp(START)).dt.days.to_numpy()
    window = Window.for_as_of(START + timedelta(days=TRAIN_DAYS + HOLDOUT_DAYS), cfg.windows)
    splits = split(frame[day < TRAIN_DAYS + HOLDOUT_DAYS], cfg, window)
    started = time.perf_counter()
    model = fit(cfg, splits)
    train_seconds = time.perf_counter() - started
    later = frame[day >= TRAIN_DAYS]
    later_day = day[day >= TRAIN_DAYS]
    scored = pd.DataFrame(
        {
            "day": later_day,
            # week -1 is the holdout; day 119 alone is not a whole week and is left out
            "week": np.where(
                later_day < TRAIN_DAYS + HOLDOUT_DAYS, -1, (later_day - TRAIN_DAYS - HOLDOUT_DAYS) // WEEK
            ),
            "y": labels(later, cfg),
            "score": score(model, later, cfg).scores,
        }
    )
    whole = scored["day"] < TRAIN_DAYS + HOLDOUT_DAYS + (DAYS - TRAIN_DAYS - HOLDOUT_DAYS) // WEEK * WEEK
    return scored[whole].reset_index(drop=True), train_seconds


def ours(
    scored: pd.DataFrame, fitter: Callable[[np.ndarray, np.ndarray], Calibration] = fit_calibration
) -> tuple[Calibration, dict[int, dict[str, float]]]:
    holdout = scored[scored["week"] < 0]
    calibration = fitter(holdout["y"].to_numpy(), holdout["score"].to_numpy())
    return calibration, {
        int(week): estimate(calibration, rows["score"].to_numpy(), ("roc_auc", "accuracy"))
        for week, rows in scored[scored["week"] >= 0].groupby("week")
    }


def raw_scores(y: np.ndarray, scores: np.ndarray) -> Calibration:
    """The identity: what ``fit_calibration`` returns when calibrating does not help."""
    return Calibration((0.0, 1.0), (0.0, 1.0), len(y), int(y.sum()))


def calibrates(calibration: Calibration) -> bool:
    return (calibration.knots_x, calibration.knots_y) != ((0.0, 1.0), (0.0, 1.0))


def realized_band(y: np.ndarray, s: np.ndarray, seed: int) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    samples = [roc_auc(y[idx], s[idx]) for idx in rng.integers(0, len(y), (BOOTSTRAP, len(y)))]
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.nanpercentile(samples, [tail, 100 - tail])
    return roc_auc(y, s), float(low), float(high)


def run_nannyml(python: Path, scored: pd.DataFrame) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cbpe-bench-") as tmp:
        data, script = Path(tmp) / "scored.parquet", Path(tmp) / "nannyml_cbpe.py"
        scored.assign(pred=(scored["score"] >= 0.5).astype("int64")).to_parquet(data)
        script.write_text(NANNYML_SCRIPT)
        env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"}
        done = subprocess.run([str(python), str(script), str(data)], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"NannyML failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    nannyml_python = ensure_venv(NANNYML_VENV, NANNYML_PACKAGES)
    bench_start = time.perf_counter()
    cfg = load_model("demo")
    scored, train_seconds = scored_data(cfg)
    holdout = scored[scored["week"] < 0]
    print(
        f"data: demo seed {SEED}, {DAYS} days x {ROWS_PER_DAY} rows; model trained on days 0-{TRAIN_DAYS - 1} "
        f"in {train_seconds:.1f} s; calibrated on days {TRAIN_DAYS}-{TRAIN_DAYS + HOLDOUT_DAYS - 1} "
        f"({len(holdout)} rows, {int(holdout['y'].sum())} positive, holdout AUC "
        f"{roc_auc(holdout['y'].to_numpy(), holdout['score'].to_numpy()):.3f})"
    )

    ours(scored)  # warm-up
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        calibration, mine = ours(scored)
        timings.append(time.perf_counter() - started)
    print("running NannyML CBPE in its own venv ...", flush=True)
    theirs = run_nannyml(nannyml_python, scored)
    nml_auc = dict(zip(theirs["weeks"], theirs["roc_auc"], strict=True))
    nml_accuracy = dict(zip(theirs["weeks"], theirs["accuracy"], strict=True))

    print()
    print(f"{'week':>4} {'days':>8} {'ours':>7} {'NannyML':>7} {'realized':>8} {'95% band':>15} {'|diff|':>7}  ok?")
    diffs, agree, inside = [], [], []
    for week, estimated in mine.items():
        rows = scored[scored["week"] == week]
        real, low, high = realized_band(rows["y"].to_numpy(), rows["score"].to_numpy(), seed=week)
        first = TRAIN_DAYS + HOLDOUT_DAYS + WEEK * week
        diff = abs(estimated["roc_auc"] - nml_auc[week])
        diffs.append(diff)
        agree.append(diff <= TOLERANCE)
        inside.append(low <= estimated["roc_auc"] <= high)
        print(
            f"{week:>4} {f'{first}-{first + WEEK - 1}':>8} {estimated['roc_auc']:>7.4f} {nml_auc[week]:>7.4f} "
            f"{real:>8.4f} {f'[{low:.4f}, {high:.4f}]':>15} {diff:>7.4f}  "
            f"{'agree' if agree[-1] else 'DISAGREE'}, {'in band' if inside[-1] else 'OUT of band'}"
        )
    accuracy_diff = max(abs(mine[w]["accuracy"] - nml_accuracy[w]) for w in mine)
    forced = {"calibrated": (fit_isotonic, "roc_auc_calibrated"), "raw scores": (raw_scores, "roc_auc_raw")}
    same_choice = {}
    for name, (fitter, key) in forced.items():
        found = ours(scored, fitter)[1]
        same_choice[name] = max(abs(found[w]["roc_auc"] - v) for w, v in zip(theirs["weeks"], theirs[key], strict=True))
    ours_calibrates, nml_calibrates = calibrates(calibration), theirs["needs_calibration"]
    print()
    print(
        f"calibrate? ours {ours_calibrates} ({len(calibration.knots_x)} knots), NannyML {nml_calibrates}: "
        f"{'same decision' if ours_calibrates == nml_calibrates else 'DIFFERENT decisions'}"
    )
    gaps = "; ".join(f"{name} {gap:.2e}" for name, gap in same_choice.items())
    print(f"same choice forced on both, ROC AUC max |ours - NannyML|: {gaps}")
    print(f"accuracy (raw score >= 0.5 judged by p): max |ours - NannyML, each as it chose| {accuracy_diff:.4f}")
    our_seconds = statistics.median(timings)
    nml_seconds = theirs["fit_seconds"] + theirs["estimate_seconds"]
    print(
        f"time, calibrate + estimate {len(mine)} weeks: ours {our_seconds * 1000:.1f} ms (median of 5), NannyML "
        f"{nml_seconds:.2f} s (fit {theirs['fit_seconds']:.2f} s + estimate {theirs['estimate_seconds']:.2f} s), "
        f"{nml_seconds / our_seconds:.0f}x"
    )
    print(f"whole bench (venv present): {time.perf_counter() - bench_start:.0f} s")
    print(
        f"summary: within {TOLERANCE} of NannyML every week: {'met' if all(agree) else 'not met'} "
        f"(max |diff| {max(diffs):.4f}); within the realized {CONFIDENCE:.0%} band every week: "
        f"{'met' if all(inside) else 'not met'} ({sum(inside)} of {len(inside)} weeks); whether to calibrate: "
        f"{'matches' if ours_calibrates == nml_calibrates else 'differs from'} NannyML's "
        f"({'calibrate' if nml_calibrates else 'raw scores'})"
    )


if __name__ == "__main__":
    main()
