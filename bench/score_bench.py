"""Batch scoring into PostgreSQL: our predictions write vs a raw bulk COPY of the same rows, and the whole scoring
run's time and peak memory.

    .venv/bin/python bench/score_bench.py                      # 1,000,000 rows, ~3 min
    .venv/bin/python bench/score_bench.py --rows 10000000      # 10M rows: peak memory stays near the 1M run's

Makes a database of its own on the local PostgreSQL server (dropped at the end) holding the demo table spread over
the scoring window, and a champion trained on a small demo source in a throw-away state folder. Then:

1. in-process, the same prediction rows (a scored frame, cut in ``--batch-rows`` batches) written, interleaved,
   median of ``--repeats``: by ``predictions.replace_window`` (delete of the window, one COPY per batch, one
   transaction; each round first deletes the previous round's rows, as a re-run does) and by a raw bulk COPY
   (pandas ``to_csv`` of the whole frame, one ``COPY ... FROM STDIN`` into an empty table of the same columns and
   index). Target: ours within 1.5x the raw COPY.
2. as a subprocess, ``score_window`` end to end (read in Arrow batches, score, write), with its peak resident
   memory (VmHWM), so runs at 1M and 10M rows show memory following the batch size, not the window.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest_bench import DEFAULT_ADMIN, load  # noqa: E402
from pipelines.demo.seed import generate  # noqa: E402

TARGET_VS_RAW = 1.5
AS_OF = date(2026, 6, 1)
SCORED_DAYS = 10
TRAINED_AS_OF = date(2026, 3, 1)

CHILD = """
import atexit, json, sys
from datetime import date
atexit.register(lambda: sys.stderr.write(next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))))
from pipelines.config.loading import load_model
from pipelines.performance.batch_score import score_window
cfg = load_model("demo")
cfg = cfg.model_copy(update={"scoring": cfg.scoring.model_copy(update={"window_days": int(sys.argv[2]),
                                                                       "batch_rows": int(sys.argv[3])})})
result = score_window(cfg, date.fromisoformat(sys.argv[4]), sys.argv[1], sys.argv[1], run_id="bench")
print(json.dumps(result.to_dict()))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN, help="SQLAlchemy URL of a database to create ours from")
    args = parser.parse_args()
    admin = sa.create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    name = f"pipelines_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    home = Path(tempfile.mkdtemp(prefix="score-bench-"))
    try:
        run(url, args, home)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(home, ignore_errors=True)
    return 0


def run(url: str, args: argparse.Namespace, home: Path) -> None:
    os.environ.update(
        {
            "PIPELINES_HOME": str(home),
            "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
            "PIPELINES_LEDGER_URL": f"sqlite:///{home / 'ledger.db'}",
        }
    )
    from pipelines.config.loading import load_model
    from pipelines.demo.seed import seed
    from pipelines.jobs.retrain import retrain

    cfg = load_model("demo")
    small = f"sqlite:///{home / 'train.db'}"
    seed(small, date(2026, 1, 1), days=60, rows_per_day=200, seed=3)
    champion = retrain(cfg, TRAINED_AS_OF, small)
    print(f"champion: v{champion.version} ({champion.status}), trained on a small demo source")

    start = AS_OF - timedelta(days=SCORED_DAYS)
    frame = generate(start, SCORED_DAYS, math.ceil(args.rows / SCORED_DAYS), seed=11).head(args.rows)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    began = time.perf_counter()
    load(url, table, cfg.source.table or "customer_events")
    print(
        f"source: {table.num_rows:,} rows over {start}..{AS_OF - timedelta(days=1)}, loaded in {time.perf_counter() - began:.1f} s"
    )
    del table

    rows = prediction_rows(frame)
    del frame
    engine = sa.create_engine(url)
    ours, raw = [], []
    for round_ in range(args.repeats):
        contenders = [
            ("ours", ours, lambda: write_ours(engine, rows, args.batch_rows)),
            ("raw", raw, lambda: raw_copy(engine, rows)),
        ]
        for _, times, fn in contenders if round_ % 2 == 0 else reversed(contenders):
            times.append(fn())
    engine.dispose()
    ratio = statistics.median(ours) / statistics.median(raw)
    print(
        f"\nwrite {len(rows):,} predictions: ours {statistics.median(ours):.2f} s (batches of {args.batch_rows:,}), "
        f"raw bulk COPY {statistics.median(raw):.2f} s; ratio {ratio:.2f}x (target <= {TARGET_VS_RAW}x): "
        f"{'met' if ratio <= TARGET_VS_RAW else 'not met'}  (medians of {args.repeats}; ours {fmt(ours)}, raw {fmt(raw)})"
    )
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(SCORED_DAYS), str(args.batch_rows), AS_OF.isoformat()],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    peak = next(line for line in done.stderr.splitlines() if line.startswith("VmHWM")).split()[1]
    print(
        f"score_window end to end ({len(rows):,} rows read from PostgreSQL, scored, written): {result['seconds']:.1f} s "
        f"in {result['batches']} batches ({took:.1f} s with the interpreter's start); "
        f"peak RSS {int(peak) / 1024:.0f} MiB"
    )


def prediction_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the predictions table's shape, with stand-in scores (the write does not look at them)."""
    rng = np.random.default_rng(0)
    scores = rng.random(len(frame))
    return pd.DataFrame(
        {
            "model": "demo",
            "row_id": rng.integers(-(2**62), 2**62, len(frame)),
            "entity_key": frame["customer_id"].astype("string"),
            "event_ts": frame["event_ts"].astype("datetime64[us]"),
            "score": scores,
            "predicted_class": pd.array((scores >= 0.5).astype("int64"), dtype="Int64"),
            "model_version": 1,
            "run_id": "bench",
            "scored_at": datetime.now(UTC),
        }
    )


def write_ours(engine: sa.Engine, rows: pd.DataFrame, batch_rows: int) -> float:
    from pipelines.data.windows import Window
    from pipelines.performance.predictions import replace_window

    start, end = Window(AS_OF - timedelta(days=SCORED_DAYS), AS_OF, AS_OF).bounds()
    batches = (rows.iloc[i : i + batch_rows] for i in range(0, len(rows), batch_rows))
    began = time.perf_counter()
    written = replace_window(engine, "pipelines_predictions", "demo", start, end, batches)
    took = time.perf_counter() - began
    assert written == len(rows)
    return took


def raw_copy(engine: sa.Engine, rows: pd.DataFrame) -> float:
    """The plain way: one CSV of the whole frame, one COPY into an empty table of the same columns."""
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS raw_predictions"))
        conn.execute(sa.text("CREATE TABLE raw_predictions (LIKE pipelines_predictions INCLUDING ALL)"))
    began = time.perf_counter()
    buffer = io.StringIO()
    rows.to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.copy_expert(f"COPY raw_predictions ({', '.join(rows.columns)}) FROM STDIN WITH (FORMAT csv)", buffer)
        cursor.close()
    return time.perf_counter() - began


def fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    raise SystemExit(main())
