"""Snapshots at any fsspec URL (``PIPELINES_SNAPSHOT_URL``): fsspec's in-process memory store and file:// URLs."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from pipelines.config.model import ModelConfig
from pipelines.data import snapshot_store
from pipelines.data.day_ledger import DayLedger
from pipelines.data.ingest import ingest, load
from pipelines.data.snapshot_reader import iter_frames
from pipelines.registry import db

fsspec = pytest.importorskip("fsspec")

AS_OF = date(2026, 3, 1)
ROWS_PER_DAY = 150


@pytest.fixture
def memory_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A snapshot root of this test's own in fsspec's memory store, removed afterwards."""
    url = f"memory://snapshots-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PIPELINES_SNAPSHOT_URL", url)
    yield url
    memory = fsspec.filesystem("memory")
    if memory.exists(url):
        memory.rm(url, recursive=True)


def test_a_memory_store_holds_the_snapshot_and_serves_the_next_night(
    demo_cfg: ModelConfig, seeded_source: str, home: Path, memory_url: str
) -> None:
    # given the snapshot root in fsspec's memory store, a temp file a dead writer left there, and a day ledger
    ledger = DayLedger(db.engine(f"sqlite:///{home / 'pipeline.db'}"))
    dead = f"{memory_url}/demo/days/2026-01-20/.ingest-{snapshot_store.HOST}-999999999-{'0' * 32}.tmp"
    with fsspec.open(dead, "wb") as handle:
        handle.write(b"PAR1 partial")
    # when two nights are ingested
    first = ingest(demo_cfg, AS_OF, seeded_source, ledger=ledger)
    second = ingest(demo_cfg, AS_OF + timedelta(days=1), seeded_source, ledger=ledger)
    # then the manifests and day files are URLs of that store, nothing is on the local disk, and the second night
    # read one day
    assert first.path.startswith(f"{memory_url}/demo/window=2026-01-11_2026-03-01/")
    assert all(f.startswith(f"{memory_url}/demo/days/") for f in second.files())
    assert fsspec.filesystem("memory").exists(second.files()[-1])
    assert not fsspec.filesystem("memory").exists(dead), "the dead writer's temp file was removed"
    assert not (home / "snapshots").exists()
    assert (second.rows_read, second.rows_reused) == (ROWS_PER_DAY, 48 * ROWS_PER_DAY)
    # and what is written about it (gate results, Data Docs) has a local folder, the one a local snapshot has
    assert second.local_folder() == home / "snapshots" / "demo" / "window=2026-01-12_2026-03-02"
    # and the data are those of a local full read
    os.environ.pop("PIPELINES_SNAPSHOT_URL")
    local = ingest(demo_cfg, AS_OF + timedelta(days=1), seeded_source)
    assert local.content_hash == second.content_hash and not is_url(local.path)
    assert local.local_folder() == second.local_folder() == Path(local.path).parent
    os.environ["PIPELINES_SNAPSHOT_URL"] = memory_url
    pd.testing.assert_frame_equal(load(second), load(local))
    pd.testing.assert_frame_equal(pd.concat(list(iter_frames(second)), ignore_index=True), load(local))


def is_url(path: str) -> bool:
    return snapshot_store.is_url(path)


def test_a_file_url_store_writes_whole_files_and_removes_dead_writers_temp_files(
    demo_cfg: ModelConfig, seeded_source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a file:// snapshot root with a temp file of a dead writer of this host in a day folder
    root = tmp_path / "shared"
    monkeypatch.setenv("PIPELINES_SNAPSHOT_URL", root.as_uri())
    day = root / "demo" / "days" / "2026-01-20"
    day.mkdir(parents=True)
    dead = day / f".ingest-{snapshot_store.HOST}-999999999-{'0' * 32}.tmp"
    dead.write_bytes(b"PAR1 partial")
    # when a window is ingested
    snapshot = ingest(demo_cfg, AS_OF, seeded_source, training_days=7)
    # then the snapshot lives under that URL, as whole files and nothing else, and the dead writer's file is gone
    assert snapshot.path.startswith(root.as_uri() + "/demo/window=2026-02-15_2026-03-01/")
    assert not dead.exists()
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert [p.name.startswith(".") for p in files] == [False] * len(files) and len(files) == 14 + 1
    assert len(load(snapshot)) == 14 * ROWS_PER_DAY
