"""Batch scoring with the champion: the days before a date, read and scored in bounded batches, written to the
predictions table as one replacement of that window (``predictions.replace_window``).

Rows are read as ingest reads them: a PostgreSQL source streams Arrow record batches over binary COPY, other
sources are read one day at a time. Either way each piece is cut into ``scoring.batch_rows`` rows, scored with
the champion's own categories (unseen values scored as missing and counted, as at evaluation) and written
before the next is read, so memory follows the batch size, not the window. A missing column stops the run
before anything is written; any failure leaves the window's earlier predictions as they were.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from pipelines.config.data_sections import SourceConfig
from pipelines.config.model import ModelConfig
from pipelines.data.adbc_url import use_arrow
from pipelines.data.source_errors import safe_url
from pipelines.data.sources import make_engine, read_window
from pipelines.data.windows import Window
from pipelines.errors import NoData
from pipelines.model.scoring import Unseen, score, unseen_line
from pipelines.performance.predictions import replace_window, row_ids
from pipelines.registry import versions as registry
from pipelines.registry.versions import NoChampion

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ScoreResult:
    """One scoring run: which champion scored which days, how many rows went where; ``outside`` counts rows the
    source returned stamped outside the window (a query's ``BETWEEN``, text timestamps), which are not written:
    the next window's run would not replace them.
    """

    model: str
    version: int
    window_start: str
    window_end: str
    rows: int
    batches: int
    target: str
    table: str
    run_id: str
    seconds: float
    unseen: list[str] = field(default_factory=list)
    outside: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The run's fields as a plain dict."""
        return asdict(self)


def scoring_window(cfg: ModelConfig, as_of: date) -> Window:
    """The days one scoring run covers: the ``scoring.window_days`` before ``as_of``."""
    assert cfg.scoring is not None
    start = as_of - timedelta(days=cfg.scoring.window_days)
    return Window(start, as_of, as_of)


def score_window(
    cfg: ModelConfig,
    as_of: date,
    source_url: str,
    target_url: str,
    run_id: str,
    progress: Progress | None = None,
) -> ScoreResult:
    """Score the window before ``as_of`` with the champion and replace that window's predictions.

    Raises ``NoChampion`` without a champion, ``NoData`` when the window has no rows (nothing is replaced),
    ``FeatureError`` when a column the model needs is missing (before anything is written).
    """
    if cfg.scoring is None:
        raise NoData(f"{cfg.name}: the config has no scoring section")
    champion = registry.by_alias(cfg.name, registry.CHAMPION)
    if champion is None:
        raise NoChampion(f"{cfg.name}: no champion yet, nothing to score with")
    model = registry.load_model(cfg.name, champion.version)
    window = scoring_window(cfg, as_of)
    source = cfg.scored_source
    began = time.monotonic()
    unseen: Unseen = {}
    counted = {"batches": 0}
    scored_at = datetime.now(UTC)

    start, end = window.bounds()
    outside = {"rows": 0}

    def scored() -> Iterator[pd.DataFrame]:
        for read in _batches(cfg, source, window, source_url, cfg.scoring.batch_rows):  # type: ignore[union-attr]
            stamps = pd.to_datetime(read[cfg.columns.timestamp])
            inside = (stamps >= start) & (stamps < end)
            outside["rows"] += int((~inside).sum())
            rows = read[inside.to_numpy()].reset_index(drop=True)
            if rows.empty:
                continue
            result = score(model, rows, cfg)
            for name, values in result.unseen.items():
                merged = unseen.setdefault(name, {})
                for value, count in values.items():
                    merged[value] = merged.get(value, 0) + count
            counted["batches"] += 1
            yield _prediction_rows(cfg, rows, result.scores, champion.version, run_id, scored_at)
            if progress is not None:
                progress(f"score: batch {counted['batches']}, {len(rows)} rows")
        if counted["batches"] == 0:  # raised inside the transaction: the window's earlier predictions stay
            raise NoData(f"{cfg.name}: no rows in {window.start}..{window.last_day} to score")

    engine = make_engine(target_url)
    try:
        written = replace_window(engine, cfg.scoring.target.table, cfg.name, start, end, scored())
    finally:
        engine.dispose()
    return ScoreResult(
        model=cfg.name,
        version=champion.version,
        window_start=window.start.isoformat(),
        window_end=window.end.isoformat(),
        rows=written,
        batches=counted["batches"],
        target=safe_url(target_url),
        table=cfg.scoring.target.table,
        run_id=run_id,
        seconds=round(time.monotonic() - began, 3),
        unseen=[unseen_line(name, values) for name, values in unseen.items()],
        outside=outside["rows"],
    )


def _batches(
    cfg: ModelConfig, source: SourceConfig, window: Window, url: str, batch_rows: int
) -> Iterator[pd.DataFrame]:
    """The window's rows in pieces of at most ``batch_rows``: Arrow batches for PostgreSQL, days otherwise."""
    columns = cfg.columns
    if use_arrow(url):
        from pipelines.data.adbc_window import open_window

        with open_window(
            url, source, columns.timestamp, columns.entity_key, window, zone=columns.timestamp_timezone
        ) as stream:
            for batch in stream.batches:
                yield from _cut(batch.to_pandas(), batch_rows)
        return
    day = window.start
    while day < window.end:
        one_day = Window(day, day + timedelta(days=1), day + timedelta(days=1))
        yield from _cut(
            read_window(url, source, columns.timestamp, one_day, zone=columns.timestamp_timezone), batch_rows
        )
        day += timedelta(days=1)


def _cut(frame: pd.DataFrame, rows: int) -> Iterator[pd.DataFrame]:
    for first in range(0, len(frame), rows):
        yield frame.iloc[first : first + rows].reset_index(drop=True)


def _prediction_rows(
    cfg: ModelConfig, rows: pd.DataFrame, scores: np.ndarray, version: int, run_id: str, scored_at: datetime
) -> pd.DataFrame:
    """The predictions table's rows of one scored batch."""
    key = cfg.columns.entity_key
    entity = rows[key].astype("string") if key else pd.Series(pd.NA, index=rows.index, dtype="string")
    predicted = (scores >= 0.5).astype("int64") if cfg.task == "binary" else None
    return pd.DataFrame(
        {
            "model": cfg.name,
            "row_id": row_ids(rows, cfg),
            "entity_key": entity,
            "event_ts": pd.to_datetime(rows[cfg.columns.timestamp]).astype("datetime64[us]"),
            "score": scores,
            "predicted_class": pd.array(predicted, dtype="Int64") if predicted is not None else pd.NA,
            "model_version": version,
            "run_id": run_id,
            "scored_at": scored_at,
        }
    )
