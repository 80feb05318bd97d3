"""Nightly ingest on PostgreSQL grows with the new day: a 49-day window, the day ledger in the pipeline's own
PostgreSQL database, late rows and updated values found by the days' fingerprints, and ingests killed mid-way.

Each test has a source database and a pipeline database of its own on 127.0.0.1:5432.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from pipelines.config.model import ModelConfig
from pipelines.data.arrow_digest import ArrowDigest
from pipelines.data.day_ledger import SNAPSHOT_DAYS, DayLedger
from pipelines.data.ingest import ingest, load
from pipelines.data.snapshot import Snapshot
from pipelines.data.snapshot_store import TEMP_NAME
from pipelines.demo.seed import seed
from pipelines.registry import db
from tests.conftest import ROOT
from tests.helpers import execute

pytestmark = pytest.mark.postgres

AS_OF = date(2026, 3, 1)  # demo window: [2026-01-11, 2026-03-01), 49 days
NEXT = AS_OF + timedelta(days=1)
ROWS_PER_DAY = 150
WINDOW_ROWS = 49 * ROWS_PER_DAY
LATE_ROW = (
    "INSERT INTO customer_events (customer_id, event_ts, plan, churned, age) "
    "VALUES (7, '2026-01-20 10:00:00', 'basic', 0, 33)"
)
INGEST = (
    "import sys\n"
    "from datetime import date\n"
    "from pipelines.config.loading import load_model\n"
    "from pipelines.data.day_ledger import DayLedger\n"
    "from pipelines.data.ingest import ingest\n"
    "from pipelines.registry import db\n"
    "ingest(load_model('demo'), date.fromisoformat(sys.argv[1]), sys.argv[2], ledger=DayLedger(db.engine(sys.argv[3])))\n"
)


@pytest.fixture
def pg_source(postgres_databases: Callable[[], str], home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo table in a PostgreSQL database of this test's own: 2026-01-01 .. 2026-03-31, 150 rows a day."""
    monkeypatch.delenv("PIPELINES_INGEST_ENGINE", raising=False)
    url = postgres_databases()
    seed(url, date(2026, 1, 1), days=90, rows_per_day=ROWS_PER_DAY, seed=3)
    return url


@pytest.fixture
def pipeline_db(postgres_databases: Callable[[], str]) -> str:
    """The pipeline's own database (the day ledger's), on PostgreSQL."""
    return postgres_databases()


@pytest.fixture
def ledger(pipeline_db: str) -> DayLedger:
    """The day ledger in the pipeline's database."""
    return DayLedger(db.engine(pipeline_db))


def test_the_next_night_reads_a_49th_of_the_rows_and_composes_the_full_read(
    demo_cfg: ModelConfig, pg_source: str, ledger: DayLedger
) -> None:
    # given the first night, which reads the whole 49-day window over binary COPY
    first = ingest(demo_cfg, AS_OF, pg_source, ledger=ledger)
    assert (first.rows_read, first.rows_reused) == (WINDOW_ROWS, 0)
    # when the next night runs
    second = ingest(demo_cfg, NEXT, pg_source, ledger=ledger)
    # then it read one day from the source: 1/49 of what the full read did
    assert (second.rows_read, second.rows_reused) == (ROWS_PER_DAY, WINDOW_ROWS - ROWS_PER_DAY)
    assert second.rows_read * 49 == first.rows_read
    # and it counted, without reading them, the newer rows of 2026-03-02 .. 2026-03-31
    assert (first.rows_after_window, second.rows_after_window) == (31 * ROWS_PER_DAY, 30 * ROWS_PER_DAY)
    # and its snapshot is a full read's of the same window: hash, files and frame
    full = ingest(demo_cfg, NEXT, pg_source)
    assert full.rows_read == WINDOW_ROWS
    assert second.content_hash == full.content_hash and second == full and second.files() == full.files()
    pd.testing.assert_frame_equal(load(second), load(full))


def test_a_late_row_and_an_updated_value_are_found_and_their_days_read_again(
    demo_cfg: ModelConfig, pg_source: str, ledger: DayLedger
) -> None:
    # given a window ingested with the ledger
    ingest(demo_cfg, AS_OF, pg_source, ledger=ledger)
    # when a row arrives late in a day read three weeks earlier
    execute(pg_source, LATE_ROW)
    late = ingest(demo_cfg, AS_OF, pg_source, ledger=ledger)
    # then that day, and only it, is read again, late row and all
    assert (late.rows_read, late.rows_reused) == (ROWS_PER_DAY + 1, WINDOW_ROWS - ROWS_PER_DAY)
    assert late == ingest(demo_cfg, AS_OF, pg_source)
    assert (load(late)["customer_id"] == 7).sum() == 1
    # when a feature of one row of another day is corrected (count and timestamps unchanged)
    execute(pg_source, "UPDATE customer_events SET age = 99 WHERE customer_id = 30000005")  # a row of 2026-01-30
    updated = ingest(demo_cfg, AS_OF, pg_source, ledger=ledger)
    # then the row's new version (xmin) changes its day's fingerprint: that day is read again
    assert (updated.rows_read, updated.rows_reused) == (ROWS_PER_DAY, WINDOW_ROWS - ROWS_PER_DAY + 1)
    frame = load(updated)
    assert frame.loc[frame["customer_id"] == 30000005, "age"].tolist() == [99.0]
    assert updated == ingest(demo_cfg, AS_OF, pg_source)


@pytest.mark.parametrize("engine", ["sqlalchemy", "adbc"])
def test_a_query_source_reads_incrementally_on_both_engines(
    demo_cfg: ModelConfig, pg_source: str, ledger: DayLedger, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a query source, read one run of days at a time
    data = demo_cfg.model_dump(by_alias=True)
    query = (
        "SELECT * FROM customer_events WHERE plan <> 'family' AND event_ts >= :window_start AND event_ts < :window_end"
    )
    cfg = ModelConfig.model_validate({**data, "source": {"url_env": "PIPELINES_SOURCE_URL", "query": query}})
    monkeypatch.setenv("PIPELINES_INGEST_ENGINE", engine)
    first = ingest(cfg, AS_OF, pg_source, ledger=ledger)
    # when a late row lands in an old day and the next night runs
    execute(pg_source, LATE_ROW)
    second = ingest(cfg, NEXT, pg_source, ledger=ledger)
    # then it read the new day and the late one (two runs of days), and equals a full read
    assert 0 < second.rows_read < first.rows_read / 10
    assert second == ingest(cfg, NEXT, pg_source)
    pd.testing.assert_frame_equal(load(second), load(ingest(cfg, NEXT, pg_source)))


def killed_ingest(home: Path, as_of: date, source: str, pipeline_db: str, stop_at: str) -> None:
    """Run an ingest in a process of its own, killed (SIGKILL) at the stop point ``stop_at``."""
    env = {**os.environ, "PIPELINES_HOME": str(home), "PIPELINES_STOP_AT": stop_at}
    done = subprocess.run(
        [sys.executable, "-c", INGEST, as_of.isoformat(), source, pipeline_db],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -9, done.stderr[-2000:]


def trusted_days(pipeline_db: str, home: Path) -> int:
    """The ledger's records, each checked against its file: there, of the recorded size, rows and digest."""
    with db.engine(pipeline_db).connect() as conn:
        records = conn.execute(sa.select(SNAPSHOT_DAYS)).mappings().all()
    for record in records:
        path = home / "snapshots" / "demo" / record["file"]
        table = pq.read_table(path)
        digest = ArrowDigest(table.schema)
        for batch in table.to_batches():
            digest.update(batch)
        assert path.stat().st_size == record["bytes"] and table.num_rows == record["rows"], record["file"]
        assert digest.hexdigest() == record["digest"], record["file"]
    return len(records)


def day_files(home: Path) -> tuple[int, int]:
    """The day files in place and the temp files of writers, under the model's day folders."""
    found = list((home / "snapshots" / "demo" / "days").glob("*/.*")) + list(
        (home / "snapshots" / "demo" / "days").glob("*/*.parquet")
    )
    temps = sum(1 for p in found if TEMP_NAME.fullmatch(p.name))
    return len(found) - temps, temps


@pytest.mark.slow
def test_an_ingest_killed_anywhere_leaves_nothing_trusted_wrongly(
    demo_cfg: ModelConfig, pg_source: str, pipeline_db: str, home: Path
) -> None:
    reference = ingest(demo_cfg, AS_OF, pg_source)  # the window read whole, no ledger
    for path in (home / "snapshots").rglob("*"):  # start from an empty store
        if path.is_file():
            path.unlink()
    # when the first night is killed while streaming (a day's temp file written, none in place)
    killed_ingest(home, AS_OF, pg_source, pipeline_db, "ingest_day_streamed")
    # then nothing is recorded and no day file is in place: only the dead writer's temp files
    assert trusted_days(pipeline_db, home) == 0
    placed, temps = day_files(home)
    assert placed == 0 and temps >= 1
    # when it is killed after placing the day files, before recording them
    killed_ingest(home, AS_OF, pg_source, pipeline_db, "ingest_days_written")
    # then the files are whole but not recorded, and the dead writer's temp files are gone
    assert trusted_days(pipeline_db, home) == 0
    assert day_files(home) == (49, 0)
    # when it is killed after recording them, before the manifest
    killed_ingest(home, AS_OF, pg_source, pipeline_db, "ingest_days_recorded")
    # then every record is of a whole file with its digest, and no snapshot exists yet
    assert trusted_days(pipeline_db, home) == 49
    assert not list((home / "snapshots" / "demo").glob("window=*/*.json"))
    # when the night runs to the end, then it reuses the recorded days and gives the whole read's snapshot
    finished = ingest(demo_cfg, AS_OF, pg_source, ledger=DayLedger(db.engine(pipeline_db)))
    assert (finished.rows_read, finished.rows_reused) == (0, WINDOW_ROWS)
    assert finished == reference
    pd.testing.assert_frame_equal(load(finished), load(reference))
    # when the next night, with a late row in an old day, is killed while streaming, then re-run
    execute(pg_source, LATE_ROW)
    killed_ingest(home, NEXT, pg_source, pipeline_db, "ingest_day_streamed")
    assert trusted_days(pipeline_db, home) == 49
    second: Snapshot = ingest(demo_cfg, NEXT, pg_source, ledger=DayLedger(db.engine(pipeline_db)))
    # then the late day and the new day were read, and the snapshot is a full read's
    assert (second.rows_read, second.rows_reused) == (2 * ROWS_PER_DAY + 1, WINDOW_ROWS - 2 * ROWS_PER_DAY)
    assert second == ingest(demo_cfg, NEXT, pg_source)
    assert trusted_days(pipeline_db, home) == 50 and day_files(home)[1] == 0
