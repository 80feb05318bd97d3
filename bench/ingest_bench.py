"""Our ingest stage vs a raw ADBC fetch vs pandas.read_sql, on the same PostgreSQL window.

    .venv/bin/python bench/ingest_bench.py                 # 1,000,000 rows x 23 columns, ~3 min
    .venv/bin/python bench/ingest_bench.py --rows 100000   # a quick look

Makes a database of its own on the local PostgreSQL server (dropped at the end), loads the demo table
(``pipelines.demo.seed.generate``) once with ADBC bulk ingest (binary COPY), spread over the demo model's 49 days
so that the demo config's own window holds every row. Then, side by side on the same window and the same
SQL text (the one ``ingest`` runs: the window's bounds and future rows; ingest orders the rows itself):

1. in-process, median of ``--repeats`` rounds, interleaved (each contender goes first once): our ``ingest``
   (snapshot deleted before each run so it really writes), a raw ADBC fetch into an Arrow table,
   ``pandas.read_sql`` via SQLAlchemy;
2. as subprocesses, all paying the interpreter start: ``python -m pipelines ingest --model demo --as-of D
   --source-url URL`` (run as ``python -c`` with ``runpy.run_module("pipelines")``, which is what ``-m``
   does, plus an exit hook reporting the peak memory) vs two scripts doing only the raw ADBC fetch: the
   usual one through the driver's DB-API module (``adbc_driver_postgresql.dbapi``, which imports pandas)
   and a stricter one through the driver's low-level API (no pandas, as our ingest).

Every ratio is computed from the medians of this run and checked against its target; the client CPU
seconds (user + system of this process or of the child) are printed too: the machine's other jobs move
wall times far more than CPU times.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.config.loading import load_model  # noqa: E402
from pipelines.data.adbc_query import spans_query  # noqa: E402
from pipelines.data.adbc_url import libpq_uri  # noqa: E402
from pipelines.data.ingest import _utc_now, ingest  # noqa: E402
from pipelines.data.windows import Window  # noqa: E402
from pipelines.demo.seed import DEFAULT_START, generate  # noqa: E402

DEFAULT_ADMIN = os.environ.get("PIPELINES_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
TARGET_VS_RAW = 1.3
TARGET_VS_READ_SQL = 5.0

# Each child reports its own peak resident memory (VmHWM, fresh since exec; ru_maxrss would include this
# process's memory inherited through fork) on exit.
PEAK = """
import atexit, sys
atexit.register(lambda: sys.stderr.write(next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))))
"""
CLI_SCRIPT = (
    PEAK
    + """
import runpy
sys.argv = ["pipelines", *sys.argv[1:]]
runpy.run_module("pipelines", run_name="__main__", alter_sys=True)  # what python -m pipelines does
"""
)
RAW_FETCH_SCRIPT = (
    PEAK
    + """
import adbc_driver_postgresql.dbapi as dbapi
with dbapi.connect(sys.argv[1], autocommit=True) as conn, conn.cursor() as cursor:
    cursor.execute(sys.argv[2])
    print(cursor.fetch_arrow_table().num_rows)
"""
)
RAW_LOW_LEVEL_SCRIPT = (
    PEAK
    + """
import adbc_driver_manager as adbc, adbc_driver_postgresql, pyarrow as pa
database = adbc_driver_postgresql.connect(sys.argv[1])
connection = adbc.AdbcConnection(database)
statement = adbc.AdbcStatement(connection)
statement.set_sql_query(sys.argv[2])
stream, _ = statement.execute_query()
print(pa.RecordBatchReader.from_stream(stream).read_all().num_rows)
"""
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="in-process rounds (median), default 3")
    parser.add_argument("--cli-repeats", type=int, default=3, help="subprocess rounds (median), default 3")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN, help="SQLAlchemy URL of a database to create ours from")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    os.environ["PIPELINES_HOME"] = str(home)
    os.environ.pop("PIPELINES_INGEST_ENGINE", None)
    with scratch_database(args.admin_url, home) as url:
        run(url, args, home)
    return 0


@contextmanager
def scratch_database(admin_url: str, home: Path) -> Iterator[str]:
    """A new database on the server of ``admin_url`` (its URL), with the load average printed before and after;
    the database is dropped and ``home`` deleted at the end, whatever happened.
    """
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"pipelines_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    print(f"load average before: {load_average()}")
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        print(f"load average after: {load_average()}")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(home, ignore_errors=True)


def run(url: str, args: argparse.Namespace, home: Path) -> None:
    cfg = load_model("demo")
    days = cfg.windows.training_days + cfg.windows.holdout_days
    as_of = DEFAULT_START + timedelta(days=days)
    window = Window.for_as_of(as_of, cfg.windows)
    assert window.start == DEFAULT_START

    started = time.perf_counter()
    frame = generate(DEFAULT_START, days, math.ceil(args.rows / days), seed=11).head(args.rows)
    generated = time.perf_counter() - started
    table = pa.Table.from_pandas(frame, preserve_index=False)
    del frame
    started = time.perf_counter()
    load(url, table, cfg.source.table or "customer_events")
    loaded = time.perf_counter() - started
    print(
        f"PostgreSQL source: {table.num_rows:,} rows x {table.num_columns} columns, {table.nbytes / 2**20:.0f} MiB "
        f"in Arrow; generated in {generated:.1f} s, loaded with ADBC bulk ingest (COPY) in {loaded:.1f} s"
    )
    del table

    query = spans_query(cfg.source, cfg.columns.timestamp, [window], _utc_now())
    uri = libpq_uri(url)
    snapshots = home / "snapshots"
    print(f"window {window.start} .. {window.last_day} (as of {as_of}); the query:\n  {' '.join(query.split())}\n")

    def our_ingest() -> int:
        return ingest(cfg, as_of, url).rows

    def raw_adbc() -> int:
        import adbc_driver_postgresql.dbapi as dbapi

        with dbapi.connect(uri, autocommit=True) as conn, conn.cursor() as cursor:
            cursor.execute(query)
            return int(cursor.fetch_arrow_table().num_rows)

    def read_sql() -> int:
        import pandas as pd

        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                return len(pd.read_sql(sa.text(query), conn))
        finally:
            engine.dispose()

    contenders: dict[str, Callable[[], int]] = {
        "our ingest (ADBC -> parquet)": our_ingest,
        "raw ADBC fetch -> Arrow table": raw_adbc,
        "pandas.read_sql (SQLAlchemy)": read_sql,
    }
    times: dict[str, list[Run]] = {label: [] for label in contenders}
    labels = list(contenders)
    print(f"in-process rounds (load average {load_average()})")
    for round_ in range(args.repeats):
        for label in labels[round_ % 3 :] + labels[: round_ % 3]:  # each goes first once: no order bias
            fn = contenders[label]
            shutil.rmtree(snapshots, ignore_errors=True)  # so that ingest really writes
            cpu, started = process_cpu(), time.perf_counter()
            rows = fn()
            times[label].append(Run(time.perf_counter() - started, process_cpu() - cpu))
            assert rows == args.rows, f"{label} read {rows} rows, expected {args.rows}"
        print(f"  round {round_ + 1}: " + ", ".join(f"{t[-1].wall:.2f} s" for t in times.values()), flush=True)
    snapshot = ingest(cfg, as_of, url)
    size = sum(Path(f).stat().st_size for f in snapshot.files()) / 2**20
    median = {label: statistics.median(r.wall for r in runs) for label, runs in times.items()}
    ours, raw, pandas_time = median.values()

    print(f"\nin-process, median of {args.repeats} (wall seconds of every run / median client CPU seconds)")
    for label, runs in times.items():
        print(f"  {label:<32} {median[label]:6.2f} s   runs: {describe(runs)}")
    print(f"  snapshot: {snapshot.rows:,} rows, {size:.0f} MiB parquet, hash {snapshot.content_hash[:16]}")
    verdicts = [
        verdict("ingest / raw ADBC fetch", ours / raw, TARGET_VS_RAW, at_most=True),
        verdict("read_sql / ingest", pandas_time / ours, TARGET_VS_READ_SQL, at_most=False),
    ]
    print(f"  (read_sql / raw ADBC fetch = {pandas_time / raw:.2f}x: the ceiling for any ingest that writes a file)")

    env = {**os.environ, "PIPELINES_HOME": str(home)}
    commands = {
        "python -m pipelines ingest": [
            *(sys.executable, "-c", CLI_SCRIPT, "ingest", "--model", "demo", "--as-of", as_of.isoformat()),
            *("--source-url", url),
        ],
        "raw fetch script, DB-API": [sys.executable, "-c", RAW_FETCH_SCRIPT, uri, query],
        "raw fetch script, low-level": [sys.executable, "-c", RAW_LOW_LEVEL_SCRIPT, uri, query],
    }
    runs: dict[str, list[Run]] = {label: [] for label in commands}
    names = list(commands)
    print(f"\nsubprocess rounds (load average {load_average()})")
    for round_ in range(args.cli_repeats):
        for label in names[round_ % 3 :] + names[: round_ % 3]:
            shutil.rmtree(snapshots, ignore_errors=True)
            runs[label].append(child(commands[label], env))
        print(f"  round {round_ + 1}: " + ", ".join(f"{r[-1].wall:.2f} s" for r in runs.values()), flush=True)
    walls = {label: statistics.median(r.wall for r in result) for label, result in runs.items()}
    cli, dbapi_script, low_level_script = walls.values()
    print(f"\nsubprocesses (interpreter start and imports included), median of {args.cli_repeats}")
    for label, result in runs.items():
        peak = max(r.peak_mib for r in result)
        print(f"  {label:<32} {walls[label]:6.2f} s   peak RSS {peak:.0f} MiB   runs: {describe(result)}")
    verdicts += [
        verdict("CLI ingest / raw DB-API script", cli / dbapi_script, TARGET_VS_RAW, at_most=True),
        verdict("CLI ingest / raw low-level script", cli / low_level_script, TARGET_VS_RAW, at_most=True),
    ]
    print(f"\n{sum(verdicts)} of {len(verdicts)} targets met in this run (load average {load_average()})")


@dataclass(frozen=True)
class Run:
    """One timed run: wall seconds, client CPU seconds (user + system) and, for a child, its peak memory."""

    wall: float
    cpu: float
    peak_mib: float = 0.0


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def describe(runs: list[Run]) -> str:
    cpu = statistics.median(r.cpu for r in runs)
    return f"{' '.join(f'{r.wall:.2f}' for r in runs)}   CPU {cpu:.2f} s"


def load_average() -> str:
    return f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"


def load(url: str, table: pa.Table, name: str) -> None:
    """The demo table, as ``pipelines.demo.seed.write_table`` makes it (same column types, index on the timestamp)."""
    import adbc_driver_postgresql.dbapi as dbapi

    with dbapi.connect(libpq_uri(url)) as conn:
        with conn.cursor() as cursor:
            cursor.adbc_ingest(name, table, mode="create")
            index = postgresql.dialect().identifier_preparer.quote
            cursor.execute(f"CREATE INDEX {index('ix_' + name + '_ts')} ON {index(name)} (event_ts)")
            cursor.execute(f"ANALYZE {index(name)}")
        conn.commit()


def child(command: list[str], env: dict[str, str]) -> Run:
    """One subprocess (one of the scripts above), which must succeed: wall and CPU seconds, peak resident MiB."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)  # reaps the child: its own CPU time
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read().decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{command[3:6]} failed ({process.returncode}): {text[-2000:]!r}")
    peak = [line for line in text.splitlines() if line.startswith("VmHWM")]
    return Run(wall, usage.ru_utime + usage.ru_stime, int(peak[-1].split()[1]) / 1024)


def verdict(what: str, ratio: float, target: float, *, at_most: bool) -> bool:
    """Print a measured ratio against its target; whether it is met."""
    met = ratio <= target if at_most else ratio >= target
    print(f"  {what:<34} = {ratio:5.2f}x   target {'<=' if at_most else '>='} {target}x: {'met' if met else 'NOT met'}")
    return met


if __name__ == "__main__":
    raise SystemExit(main())
