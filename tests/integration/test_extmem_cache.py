"""A cache folder that a killed external-memory training left is removed by the next one in that folder; a live
training's, whose lock is held, never is; an older release's, without a lock file, is stale.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.config.model import ModelConfig
from pipelines.data.ingest import ingest
from pipelines.faults import STOP_ENV
from pipelines.model import extmem_cache, streamed_engine
from tests.conftest import ROOT
from tests.unit.model.test_streamed_engine import AS_OF, cache_folders

TRAIN = """
import sys
from datetime import date
from pipelines.config.loading import load_model
from pipelines.data.ingest import ingest
from pipelines.model import streamed_engine
cfg = load_model("demo")
streamed_engine.fit(cfg, ingest(cfg, date.fromisoformat(sys.argv[1]), sys.argv[2]), external=True)
"""
HOLD = """
import sys, time
from pipelines.model.extmem_cache import cache_folder
with cache_folder(sys.argv[1]) as folder:
    print(folder, flush=True)
    time.sleep(120)
"""


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def test_a_cache_left_by_a_killed_training_is_removed_by_the_next_one(
    home: Path, seeded_source: str, demo_cfg: ModelConfig, caplog: pytest.LogCaptureFixture
) -> None:
    # Given: an external-memory training SIGKILLed once its pages are on disk
    snapshot = ingest(demo_cfg, AS_OF, seeded_source)
    env = {**os.environ, STOP_ENV: "extmem_cached"}
    killed = subprocess.run(
        python(TRAIN, AS_OF.isoformat(), seeded_source), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    [left] = cache_folders(snapshot)
    assert {path.name for path in left.iterdir()} - {extmem_cache.LOCK}, "no cache page was left"

    # When: the next external-memory training runs in the same snapshot
    with caplog.at_level(logging.INFO, logger=extmem_cache.__name__):
        fitted = streamed_engine.fit(demo_cfg, snapshot, external=True)

    # Then: it trained, removed the left folder (one line saying which and how big), and left no cache
    assert fitted.engine == "local-external"
    assert [r.getMessage() for r in caplog.records if str(left) in r.getMessage() and " MB)" in r.getMessage()]
    assert cache_folders(snapshot) == []


def test_a_live_trainings_cache_is_kept_until_its_process_dies(tmp_path: Path) -> None:
    # Given: another process holding a cache folder, as a training does
    holder = subprocess.Popen(python(HOLD, str(tmp_path)), cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        folder = Path(holder.stdout.readline().strip())
        (folder / "cache.page").write_bytes(b"x" * 1000)

        # When: a sweep runs in its folder
        extmem_cache.sweep(tmp_path)

        # Then: the live one stays
        assert folder.is_dir() and (folder / "cache.page").exists()
    finally:
        holder.kill()
        holder.wait()
    # and once its process is gone, it is stale
    extmem_cache.sweep(tmp_path)
    assert not folder.exists()


def test_a_cache_folder_without_a_lock_file_is_stale(tmp_path: Path) -> None:
    # Given: a cache folder an older release left (no lock file), and a file that merely shares the prefix
    old = tmp_path / f"{extmem_cache.CACHE_PREFIX}old"
    old.mkdir()
    (old / "cache.page").write_bytes(b"x" * 1000)
    other = tmp_path / f"{extmem_cache.CACHE_PREFIX}note.txt"
    other.write_text("not a cache")

    # When: a sweep runs
    extmem_cache.sweep(tmp_path)

    # Then: the folder is gone, the file stays
    assert not old.exists() and other.exists()
