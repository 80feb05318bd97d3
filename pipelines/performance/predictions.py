"""The predictions table: one row per scored input, and the one way a window of them is replaced.

A row is ``model, row_id, entity_key, event_ts, score, predicted_class, model_version, run_id, scored_at``.
``row_id`` identifies the input whatever the model: a 64-bit hash of its timestamp and entity key, or of its
timestamp and features without an entity key (``row_ids``), so labels that arrive later are joined to it.

``replace_window`` deletes a model's rows of a window and writes the new ones in one transaction: a re-run
leaves exactly one set of rows, and a run that fails midway leaves the previous set. PostgreSQL targets get
each batch by ``COPY`` (psycopg2's ``copy_expert``), other databases by an executemany ``INSERT``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from functools import cache

import numpy as np
import pandas as pd
import sqlalchemy as sa

from pipelines.config.model import ModelConfig
from pipelines.data.source_errors import first_line
from pipelines.errors import PipelinesError
from pipelines.model.features import FeatureError

COLUMNS = (
    "model",
    "row_id",
    "entity_key",
    "event_ts",
    "score",
    "predicted_class",
    "model_version",
    "run_id",
    "scored_at",
)


class PredictionsWriteError(PipelinesError, RuntimeError):
    """The predictions table refused a batch (another schema, a value too long, no privilege)."""


@cache
def predictions_table(name: str) -> sa.Table:
    """The predictions table called ``name`` (a plain identifier, checked by the config)."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("row_id", sa.BigInteger, nullable=False),
        sa.Column("entity_key", sa.String(200)),
        sa.Column("event_ts", sa.DateTime(), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("predicted_class", sa.Integer),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index(f"ix_{name}_model_ts", "model", "event_ts"),
    )


def row_ids(frame: pd.DataFrame, cfg: ModelConfig) -> np.ndarray:
    """A 64-bit id (signed) per row from its timestamp and entity key, or, for a model without an entity key,
    its timestamp and features: the same for the same values however the rows were read (any numeric column
    hashed as float64, so 3 and 3.0 agree when a NULL made one batch float; everything else as text). So labels
    kept apart need only the timestamp, the key and the label.
    """
    columns = cfg.columns
    keyed = [columns.timestamp, *((columns.entity_key,) if columns.entity_key else columns.features)]
    missing = [name for name in keyed if name not in frame.columns]
    if missing:
        raise FeatureError(f"rows lack {', '.join(missing)}, which identify a scored row")
    canonical = pd.DataFrame(index=frame.index)
    for name in keyed:
        values = frame[name]
        if name == columns.timestamp:
            canonical[name] = pd.to_datetime(values).astype("datetime64[us]").astype("int64")
        elif name in columns.numeric or pd.api.types.is_numeric_dtype(values):
            canonical[name] = pd.to_numeric(values, errors="coerce").astype("float64")
        else:
            canonical[name] = values.astype("string")
    return pd.util.hash_pandas_object(canonical, index=False).to_numpy().view(np.int64)


def replace_window(
    engine: sa.Engine, table_name: str, model: str, start: datetime, end: datetime, batches: Iterable[pd.DataFrame]
) -> int:
    """Delete ``model``'s rows with ``start <= event_ts < end`` (naive UTC) and write ``batches`` (frames with
    ``COLUMNS``) in one transaction; returns the rows written. The table is created when missing.
    """
    table = predictions_table(table_name)
    table.create(engine, checkfirst=True)
    written = 0
    with engine.begin() as conn:
        conn.execute(table.delete().where(table.c.model == model, table.c.event_ts >= start, table.c.event_ts < end))
        for batch in batches:
            if conn.dialect.name == "postgresql":
                _copy(conn, table_name, batch)
            elif len(batch):
                conn.execute(table.insert(), _records(batch))
            written += len(batch)
    return written


def read_predictions(engine: sa.Engine, table_name: str, model: str, start: datetime, end: datetime) -> pd.DataFrame:
    """``model``'s predictions with ``start <= event_ts < end`` (naive UTC); empty when the table does not exist."""
    table = predictions_table(table_name)
    if not sa.inspect(engine).has_table(table_name):
        return pd.DataFrame(columns=list(COLUMNS))
    query = sa.select(table).where(table.c.model == model, table.c.event_ts >= start, table.c.event_ts < end)
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    frame["event_ts"] = pd.to_datetime(frame["event_ts"])
    return frame


def _copy(conn: sa.Connection, table_name: str, batch: pd.DataFrame) -> None:
    """One batch by ``COPY ... FROM STDIN`` (CSV) on the transaction's own connection."""
    buffer = io.StringIO()  # pandas writes datetimes as ISO text (with the offset when aware), as COPY reads them
    batch.to_csv(buffer, columns=list(COLUMNS), index=False, header=False, quoting=csv.QUOTE_MINIMAL, na_rep="")
    buffer.seek(0)
    import psycopg2

    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        names = ", ".join(COLUMNS)
        cursor.copy_expert(f'COPY "{table_name}" ({names}) FROM STDIN WITH (FORMAT csv)', buffer)
    except psycopg2.Error as exc:  # not wrapped by SQLAlchemy: say it in one line (the transaction rolls back)
        raise PredictionsWriteError(f"cannot write predictions to {table_name}: {first_line(exc)}") from exc
    finally:
        cursor.close()


def _records(batch: pd.DataFrame) -> list[dict[str, object]]:
    """The batch as parameter dicts with plain Python values (NaN/NA as None)."""
    out = batch.loc[:, list(COLUMNS)].astype(object).where(batch.loc[:, list(COLUMNS)].notna(), None)
    out["event_ts"] = [moment.to_pydatetime() for moment in batch["event_ts"]]
    return out.to_dict("records")
