"""Memory one stage freed goes back to the system before the next stage of the same process."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pyarrow as pa
import pytest

from pipelines.jobs import process_memory

CHILD = """
from pathlib import Path
import numpy as np
import pyarrow as pa
from pipelines.jobs.process_memory import SMALL_WINDOW_CELLS, release_freed_memory

def anon_mib():
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("RssAnon"))
    return int(line.split()[1]) / 1024

start = anon_mib()
# what a stage leaves: Arrow buffers and small NumPy arrays freed, every tenth array still held (a fragmented heap)
arrow = [pa.array(np.arange(25_000, dtype="float64")) for _ in range(1_000)]
small = [np.ones(12_000) for _ in range(3_000)]
kept = small[::10]
del arrow, small
before = anon_mib()
release_freed_memory(SMALL_WINDOW_CELLS - 1)
small_window = anon_mib()
release_freed_memory(SMALL_WINDOW_CELLS)
print(before - start, small_window - start, anon_mib() - start)
"""


def test_what_a_stage_freed_is_given_back_unless_its_window_was_small() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)

    # about 190 MiB of Arrow buffers and 250 MiB of heap were freed but kept; after a small window's stage they
    # stay (no collection is paid for), after a large one's what stays is about the 30 MiB held
    kept, after_small, left = map(float, done.stdout.split())
    assert kept > 300 and after_small > 300 and left < 120, (kept, after_small, left)


def test_without_malloc_trim_only_arrow_memory_is_released(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given: a C library without malloc_trim (not glibc), or none found, and Arrow's pool watched
    released: list[str] = []

    class Pool:
        def release_unused(self) -> None:
            released.append("arrow")

    monkeypatch.setattr(pa, "default_memory_pool", Pool)
    for libc in (None, SimpleNamespace()):
        monkeypatch.setattr(process_memory, "_libc", lambda found=libc: found)
        # When: a stage gives back what it freed
        process_memory.release_freed_memory(process_memory.SMALL_WINDOW_CELLS)
    # Then: Arrow's memory is released each time, and nothing fails for want of malloc_trim
    assert released == ["arrow", "arrow"]
