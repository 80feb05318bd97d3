"""The retrain chain at 1M rows, stage by stage, next to the raw work each stage cannot avoid.

    .venv/bin/python bench/retrain_bench.py                 # 1,000,000 rows a window, ~4 min
    .venv/bin/python bench/retrain_bench.py --rows 200000   # a quick look

Makes a database of its own on the local PostgreSQL server (dropped at the end) holding the demo table, about
``--rows`` rows in each 49-day window, and a config of its own: the demo config with its row-count bounds scaled to
the rows (what a user with this much data would write). Then, in one process as the CLI runs them (the registry
pinged first, so imports are not counted in a stage):

1. a first retrain as of day D-1, which makes the champion;
2. a second retrain as of day D, timed stage by stage with each stage's peak resident memory: ingest, validate,
   train, evaluate (challenger against that champion), model card, promote;
3. the raw work of the same stages on the second run's snapshot: an ADBC fetch of the same query written to
   parquet (ingest); reading the snapshot, the same split and XGBoost fit with the same parameters and early
   stopping, and scoring the validation rows (train); scoring the holdout with two models and the same paired
   bootstrap (evaluate);
4. ``python -m pipelines retrain`` as of day D+1 in a process of its own, whole, with its peak memory, against
   the sum of the raw stage work.

Each ratio is printed with its target and "met" or "NOT met".

With ``--only-cli`` (the 10M-row run) only whole CLI retrains run: one as of day D (``training.memory: auto``)
and one as of D+1 with ``PIPELINES_TRAINING_MEMORY_BYTES=1`` (auto forced to external memory), each with its
wall time, peak memory, the path the version records, and its peak over the snapshot's in-memory size (the sum
of its day frames' ``memory_usage(deep=True)``), judged against 2x.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest_bench import DEFAULT_ADMIN, PEAK, child, load, scratch_database  # noqa: E402
from pipelines.demo.seed import DEFAULT_START, generate  # noqa: E402

WINDOW_DAYS = 49
TARGETS = {  # stage: (what it is compared with, at most this ratio)
    "ingest": ("raw ADBC fetch + parquet write", 1.3),
    "train": ("raw XGBoost on the same split", 1.25),
    "evaluate": ("scoring the holdout twice + the bootstrap", 1.5),
    "model_card": ("the train stage", 0.5),
}
GATE_SECONDS_PER_MILLION = 2.0
WHOLE_VS_RAW = 1.5
CLI = (
    PEAK + 'import runpy\nsys.argv = ["pipelines", *sys.argv[1:]]\nrunpy.run_module("pipelines", run_name="__main__")\n'
)


@dataclass(frozen=True)
class Timed:
    """Wall seconds and peak resident MiB of one piece of work."""

    seconds: float
    peak_mib: float


def measured(fn: Callable[[], Any]) -> tuple[Any, Timed]:
    """Run ``fn`` with this process's peak-RSS mark reset first (Linux ``clear_refs``)."""
    Path("/proc/self/clear_refs").write_text("5")
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    status = Path("/proc/self/status").read_text().splitlines()
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    return result, Timed(seconds, peak / 1024)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in a 49-day window (default 1M)")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN, help="SQLAlchemy URL of a database to create ours from")
    parser.add_argument("--only-cli", action="store_true", help="whole CLI retrains only, auto then external memory")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="retrain-bench-"))
    os.environ.update(
        PIPELINES_HOME=str(home / "state"), PIPELINES_CONFIGS_DIR=str(home / "configs"), GX_ANALYTICS_ENABLED="False"
    )
    with scratch_database(args.admin_url, home) as url:
        met = run_cli_only(url, args.rows, home) if args.only_cli else run(url, args.rows, home)
    return 0 if met else 1


def run(url: str, rows: int, home: Path) -> bool:
    day = seed_source(url, rows, home)

    from pipelines.config.loading import load_model
    from pipelines.jobs import steps
    from pipelines.registry import versions as registry
    from pipelines.registry.lineage import Lineage

    cfg = load_model("demo")
    registry.ping()
    for as_of in (day - timedelta(days=1), day):
        snapshot, stages = retrain_in_process(cfg, as_of, url, steps, Lineage())
        print(f"retrain as of {as_of}: " + ", ".join(f"{k} {v.seconds:.1f} s" for k, v in stages.items()), flush=True)
    raw = raw_stages(cfg, snapshot, url)
    whole = child(
        [
            sys.executable,
            "-c",
            CLI,
            "retrain",
            "--model",
            "demo",
            "--as-of",
            str(day + timedelta(days=1)),
            "--source-url",
            url,
        ],
        dict(os.environ),
    )
    return report(cfg, snapshot.rows, stages, raw, Timed(whole.wall, whole.peak_mib))


def seed_source(url: str, rows: int, home: Path) -> Any:
    """The demo table and config for ``rows`` a window; the first day D a retrain is run as of."""
    per_day = math.ceil(rows / WINDOW_DAYS)
    write_config(home / "configs", per_day)
    frame = generate(DEFAULT_START - timedelta(days=1), WINDOW_DAYS + 2, per_day, seed=11)
    load(url, pa.Table.from_pandas(frame, preserve_index=False), "customer_events")
    print(f"source: {len(frame):,} rows over {WINDOW_DAYS + 2} days ({per_day:,} a day)")
    return DEFAULT_START + timedelta(days=WINDOW_DAYS)


def run_cli_only(url: str, rows: int, home: Path) -> bool:
    """Whole CLI retrains as of D (memory auto) and D+1 (a budget of 1 byte: external memory)."""
    from pipelines.registry import versions as registry

    day = seed_source(url, rows, home)
    verdicts = []
    for as_of, budget in ((day, None), (day + timedelta(days=1), "1")):
        env = {**os.environ, **({"PIPELINES_TRAINING_MEMORY_BYTES": budget} if budget else {})}
        command = [sys.executable, "-c", CLI, "retrain", "--model", "demo", "--as-of", str(as_of), "--source-url", url]
        whole = child(command, env)
        info = max(registry.all_versions("demo"), key=lambda v: v.version)
        frames, arrow = snapshot_size(info.tags["snapshot_path"])
        print(
            f"CLI retrain as of {as_of} (PIPELINES_TRAINING_MEMORY_BYTES={budget or 'unset'}): {whole.wall:.1f} s, "
            f"peak {whole.peak_mib:.0f} MiB, v{info.version} training_engine={info.tags['training_engine']}, "
            f"{info.tags['training_rows']} training rows"
        )
        print(f"  snapshot in memory: {frames / 2**20:.0f} MiB as pandas day frames, {arrow / 2**20:.0f} MiB as Arrow")
        verdicts.append(verdict("peak / snapshot's pandas size", whole.peak_mib * 2**20 / frames, 2.0))
    return all(verdicts)


def snapshot_size(manifest: str) -> tuple[int, int]:
    """The snapshot's day frames' summed ``memory_usage(deep=True)`` and Arrow ``nbytes``, a day at a time."""
    import pyarrow.parquet as pq

    from pipelines.data.snapshot_parts import part_path, read_manifest

    frames = arrow = 0
    for part in read_manifest(manifest).parts:
        table = pq.read_table(part_path(manifest, part))
        arrow += table.nbytes
        frames += int(table.to_pandas().memory_usage(deep=True).sum())
    return frames, arrow


def retrain_in_process(cfg: Any, as_of: Any, url: str, steps: Any, lineage: Any) -> tuple[Any, dict[str, Timed]]:
    snapshot, ingest = measured(lambda: steps.ingest(cfg, as_of, url))
    _, validate = measured(lambda: steps.validate(cfg, snapshot, lineage))
    trained, train = measured(lambda: steps.train(cfg, snapshot, lineage))
    decision, evaluate = measured(lambda: steps.evaluate(cfg, snapshot, trained.version))
    _, card = measured(lambda: steps.model_card(cfg, snapshot, decision))
    _, promote = measured(lambda: steps.promote(cfg, decision, lineage))
    stages = {"ingest": ingest, "validate": validate, "train": train, "evaluate": evaluate}
    return snapshot, {**stages, "model_card": card, "promote": promote}


def raw_stages(cfg: Any, snapshot: Any, url: str) -> dict[str, Timed]:
    """The work each stage cannot avoid, on the same snapshot."""
    import adbc_driver_postgresql.dbapi as dbapi
    import pyarrow.parquet as pq

    from pipelines.data.adbc_query import spans_query
    from pipelines.data.adbc_url import libpq_uri
    from pipelines.data.ingest import _utc_now
    from pipelines.data.ingest import load as read_snapshot
    from pipelines.model.features import labels, model_frame, split
    from pipelines.model.metrics import paired_bootstrap_gain
    from pipelines.model.train import fit

    query = spans_query(cfg.source, cfg.columns.timestamp, [snapshot.window], _utc_now())

    def ingest() -> None:
        with dbapi.connect(libpq_uri(url), autocommit=True) as conn, conn.cursor() as cursor:
            cursor.execute(query)
            with tempfile.TemporaryDirectory() as tmp:
                pq.write_table(cursor.fetch_arrow_table(), Path(tmp) / "raw.parquet")

    def train() -> tuple[Any, Any]:
        splits = split(read_snapshot(snapshot), cfg, snapshot.window)
        model = fit(cfg, splits)
        model.predict_proba(model_frame(splits.validation, cfg))
        return model, splits

    _, ingest_time = measured(ingest)
    (model, splits), train_time = measured(train)
    features, y = model_frame(splits.holdout, cfg), labels(splits.holdout, cfg)

    def evaluate() -> None:
        first = model.predict_proba(features)[:, 1]
        second = model.predict_proba(features)[:, 1]
        boot = cfg.policy.bootstrap
        paired_bootstrap_gain(cfg.policy.primary_metric, y, first, second, boot.samples, boot.confidence, 0)

    _, evaluate_time = measured(evaluate)
    return {"ingest": ingest_time, "train": train_time, "evaluate": evaluate_time}


def report(cfg: Any, rows: int, ours: dict[str, Timed], raw: dict[str, Timed], whole: Timed) -> bool:
    print(f"\nsecond retrain: {rows:,} rows in the window; ours vs raw (wall seconds, peak resident MiB)")
    for stage, timed in ours.items():
        base = raw.get(stage)
        against = f"   raw {base.seconds:6.2f} s {base.peak_mib:7.0f} MiB" if base else ""
        print(f"  {stage:<11} {timed.seconds:6.2f} s {timed.peak_mib:7.0f} MiB{against}")
    verdicts = []
    for stage, (what, target) in TARGETS.items():
        base = ours["train"] if stage == "model_card" else raw[stage]
        verdicts.append(verdict(f"{stage} / {what}", ours[stage].seconds / base.seconds, target))
    per_million = ours["validate"].seconds / rows * 1e6
    met = per_million <= GATE_SECONDS_PER_MILLION
    print(
        f"  {'validate per 1M rows':<52} {per_million:5.2f} s   target <= {GATE_SECONDS_PER_MILLION} s: "
        f"{'met' if met else 'NOT met'}"
    )
    verdicts.append(met)
    raw_sum = sum(t.seconds for t in raw.values())
    print(f"  whole `python -m pipelines retrain` (own process): {whole.seconds:.1f} s, peak {whole.peak_mib:.0f} MiB")
    verdicts.append(verdict("whole retrain / sum of the raw stage work", whole.seconds / raw_sum, WHOLE_VS_RAW))
    return all(verdicts)


def verdict(what: str, ratio: float, target: float) -> bool:
    met = ratio <= target
    print(f"  {what:<52} {ratio:5.2f}x  target <= {target}x: {'met' if met else 'NOT met'}")
    return met


def write_config(folder: Path, per_day: int) -> None:
    """The demo config, with the row-count bounds a user with ``per_day`` rows a day would set."""
    cfg = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    cfg["quality"].update(min_rows_per_day=per_day // 2, max_rows_per_day=per_day * 2)
    folder.mkdir(parents=True)
    (folder / "demo.yaml").write_text(yaml.safe_dump(cfg))


if __name__ == "__main__":
    raise SystemExit(main())
