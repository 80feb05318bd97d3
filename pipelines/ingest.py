"""Ingest: read a model's window from its source and write an immutable, content-addressed snapshot."""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from pipelines import settings
from pipelines.config import ModelConfig
from pipelines.sources import read_window
from pipelines.windows import Window


@dataclass(frozen=True)
class Snapshot:
    """A written snapshot: what XCom and lineage tags carry instead of data."""

    model: str
    path: str
    rows: int
    content_hash: str
    window_start: str
    holdout_start: str
    window_end: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def window(self) -> Window:
        return Window(
            date.fromisoformat(self.window_start),
            date.fromisoformat(self.holdout_start),
            date.fromisoformat(self.window_end),
        )


def content_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of column names, dtypes and values, independent of the parquet writer."""
    digest = hashlib.sha256()
    digest.update("|".join(f"{c}:{t}" for c, t in frame.dtypes.astype(str).items()).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def ingest(cfg: ModelConfig, as_of: date, source_url: str, training_days: int | None = None) -> Snapshot:
    """Snapshot the window for ``as_of``; the same data always gives the same path and hash."""
    window = Window.for_as_of(as_of, cfg.windows, training_days)
    frame = read_window(source_url, cfg.source, cfg.columns.timestamp, window, future_after=_utc_now())
    key = [c for c in (cfg.columns.timestamp, cfg.columns.entity_key) if c in frame.columns]
    frame = frame.sort_values(key, kind="stable").reset_index(drop=True)
    digest = content_hash(frame)
    folder = settings.snapshots_dir() / cfg.name / f"window={window.start}_{window.end}"
    path = folder / f"{digest[:16]}.parquet"
    if not path.exists():
        _write_atomically(frame, path)
    return Snapshot(
        model=cfg.name,
        path=str(path),
        rows=len(frame),
        content_hash=digest,
        window_start=window.start.isoformat(),
        holdout_start=window.holdout_start.isoformat(),
        window_end=window.end.isoformat(),
    )


def _utc_now() -> datetime:
    """Wall-clock time, naive UTC: only rows stamped after it (impossible ones) depend on it."""
    return datetime.now(UTC).replace(tzinfo=None)


def load(snapshot: Snapshot) -> pd.DataFrame:
    return pd.read_parquet(snapshot.path)


def _write_atomically(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
