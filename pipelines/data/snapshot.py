"""A snapshot: the immutable, content-addressed data of one window, as XCom and lineage tags refer to it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from pipelines.config import settings
from pipelines.data.windows import Window


@dataclass(frozen=True)
class Snapshot:
    """A written snapshot: what XCom and lineage tags carry instead of data.

    ``path`` identifies it: the manifest of its day files (``snapshot_parts``), or, for a snapshot written
    before day files, its one parquet file. ``rows_read`` and ``rows_reused`` say how many of its rows the
    ingest that returned it read from the source and how many it took from days stored earlier (None in older
    payloads); ``rows_after_window``, how many rows of a table source were stamped after the window's end and
    before the read (newer data this window leaves out; None when not counted). They describe that run, not the
    data, so two snapshots of the same data compare equal.
    """

    model: str
    path: str
    rows: int
    content_hash: str
    window_start: str
    holdout_start: str
    window_end: str
    rows_read: int | None = field(default=None, compare=False)
    rows_reused: int | None = field(default=None, compare=False)
    rows_after_window: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, object]:
        """The snapshot's fields as a plain dict."""
        return asdict(self)

    def local_folder(self) -> Path:
        """The local folder for what is written about this snapshot (gate results, Data Docs): the folder of its
        manifest when it is on this disk, else its window's folder under ``settings.snapshots_dir()`` (a snapshot
        in an object store, ``PIPELINES_SNAPSHOT_URL``).
        """
        from pipelines.data.snapshot_store import is_url

        if not is_url(self.path):
            return Path(self.path).parent
        return settings.snapshots_dir() / self.model / f"window={self.window_start}_{self.window_end}"

    def files(self) -> tuple[str, ...]:
        """The snapshot's parquet files (paths or URLs), oldest rows first: one per day."""
        from pipelines.data.snapshot_parts import snapshot_files

        return snapshot_files(self.path)

    @property
    def window(self) -> Window:
        """The data window the snapshot holds."""
        return Window(
            date.fromisoformat(self.window_start),
            date.fromisoformat(self.holdout_start),
            date.fromisoformat(self.window_end),
        )
