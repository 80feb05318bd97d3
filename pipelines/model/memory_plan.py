"""Whether the local engine trains in memory or in XGBoost's external memory (``training.memory``).

``auto`` compares an estimate of what in-memory training needs with a budget. The estimate: the window's rows
(the snapshot's manifest) times its bytes per row as pandas holds them (measured on the first file's first
batch, ``memory_usage(deep=True)``), times ``NEED_PER_WINDOW_BYTE``. The budget: ``PIPELINES_TRAINING_MEMORY_BYTES``
when set, else ``BUDGET_SHARE`` of the machine's available memory (``MemAvailable`` in /proc/meminfo, else
``os.sysconf``'s available pages).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from pipelines.config.model import ModelConfig
from pipelines.data.snapshot import Snapshot
from pipelines.data.snapshot_reader import file_frames, layout
from pipelines.errors import InputError

MEMORY_ENV = "PIPELINES_TRAINING_MEMORY_BYTES"
BUDGET_SHARE = 0.5
NEED_PER_WINDOW_BYTE = 2.5
"""In-memory training's peak over the window's size as pandas holds it, with room to spare: measured on the demo
data 3.0x at 1M rows (598 MiB; the process's own ~200 MiB weigh there) and 1.8x at 10M rows (3654 MiB)."""
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemoryPlan:
    """Which matrix the local engine trains on, and what ``auto`` weighed (zeros when the config chose)."""

    external: bool
    need_bytes: int
    budget_bytes: int

    def describe(self) -> str:
        """The choice in one line, with the estimate and the budget when they decided it."""
        kind = "external memory" if self.external else "in memory"
        if not self.budget_bytes:
            return f"training {kind} (training.memory)"
        return f"training {kind}: estimated need {self.need_bytes:,} bytes, budget {self.budget_bytes:,} bytes"


def plan(cfg: ModelConfig, snapshot: Snapshot) -> MemoryPlan:
    """The config's choice, or ``auto``'s (see the module docstring)."""
    if cfg.training.memory != "auto":
        return MemoryPlan(cfg.training.memory == "external", 0, 0)
    need, budget = round(window_bytes(snapshot) * NEED_PER_WINDOW_BYTE), budget_bytes()
    chosen = MemoryPlan(need > budget, need, budget)
    log.info("%s: %s", cfg.name, chosen.describe())
    return chosen


def window_bytes(snapshot: Snapshot) -> int:
    """The window's estimated size as one pandas frame: its rows times the first batch's bytes per row."""
    found = layout(snapshot)
    rows = sum(file.rows for file in found.files)
    first = next((f for f in found.files if f.rows), None)
    if first is None:
        return 0
    batch = next(file_frames(first.path, found.casts))
    return round(rows * int(batch.memory_usage(deep=True).sum()) / max(len(batch), 1))


def budget_bytes() -> int:
    """``PIPELINES_TRAINING_MEMORY_BYTES``, else ``BUDGET_SHARE`` of the available memory."""
    text = os.environ.get(MEMORY_ENV)
    if text:
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value < 0:
            raise InputError(f"{MEMORY_ENV} must be a whole number of bytes, got {text!r}")
        return value
    return round(available_bytes() * BUDGET_SHARE)


def available_bytes() -> int:
    """The memory available to new work: ``MemAvailable`` of /proc/meminfo, else ``os.sysconf``'s pages."""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
