"""Arrow batches from the ADBC driver cast to the types the SQLAlchemy path gives pandas.

So pandas reads the parquet with the dtypes the SQLAlchemy path gives: the timestamp column becomes naive
UTC (``timestamptz`` converted to UTC, ``date`` widened), smaller integers become int64, ``real`` becomes
float64, ``numeric`` (which the driver returns as text) becomes float64 (as ``pandas.read_sql`` does with
``coerce_float``), other extension types (json, uuid) become their storage type, and the driver's field
metadata is dropped.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.data.source_errors import SourceSchemaError, first_line, zoned_column_error

Converter = Callable[[pa.Array], pa.Array]


class Normaliser:
    """Casts each batch to the types the SQLAlchemy path gives pandas (see the module docstring).

    A timestamp column without a zone holds wall-clock times of ``zone``: they become naive UTC too.
    """

    def __init__(self, schema: pa.Schema, timestamp: str, what: str, zone: str = "UTC") -> None:
        self._what = what
        self._converters: list[Converter | None] = []
        fields = []
        for field in schema:
            target, converter = _plan(field, field.name == timestamp, what, zone)
            fields.append(pa.field(field.name, target))
            self._converters.append(converter)
        self.schema = pa.schema(fields)

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch cast to ``schema``; a column that does not convert is a ``SourceSchemaError``."""
        columns = []
        for field, column, convert in zip(self.schema, batch.columns, self._converters, strict=True):
            try:
                columns.append(column if convert is None else convert(column))
            except pa.ArrowInvalid as exc:
                raise SourceSchemaError(
                    f"cannot read {self._what}: column {field.name!r} does not convert to {field.type}: "
                    f"{first_line(exc)}"
                ) from None
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)


def _plan(field: pa.Field, is_timestamp: bool, what: str, zone: str) -> tuple[pa.DataType, Converter | None]:
    kind = field.type
    if is_timestamp and zone != "UTC" and pa.types.is_timestamp(kind) and kind.tz is not None:
        raise zoned_column_error(what, field.name, zone)
    steps: list[Converter] = []
    if isinstance(kind, pa.BaseExtensionType):
        numeric = getattr(kind, "type_name", None) == "numeric"
        steps.append(lambda column: column.storage)
        kind = kind.storage_type
        if numeric:
            steps.append(lambda column: pc.cast(column, pa.float64()))
            kind = pa.float64()
    target = _target(kind, is_timestamp)
    if target is None:
        raise SourceSchemaError(
            f"cannot read {what}: the timestamp column {field.name!r} has type {field.type}, not a timestamp or date"
        )
    if target != kind:
        steps.append(lambda column: pc.cast(column, target))
    if is_timestamp and zone != "UTC":
        steps.append(lambda column: utc_from_wall_clock(column, zone))
    if not steps:
        return target, None

    def convert(column: pa.Array) -> pa.Array:
        for step in steps:
            column = step(column)
        return column

    return target, convert


def utc_from_wall_clock(column: pa.Array, zone: str) -> pa.Array:
    """Naive wall-clock times in ``zone`` as naive UTC instants, read as PostgreSQL's ``AT TIME ZONE`` reads them.

    A time in the hour that repeats when clocks go back is read as standard time (the later instant); a time
    in the hour skipped when clocks go forward, with the offset before the change. Both engines use this.
    """
    instants = pc.assume_timezone(column, zone, ambiguous="latest", nonexistent="earliest")
    naive = instants.cast(pa.timestamp(column.type.unit))
    # A skipped time came back as the last instant before the change: add how far past that wall time it was.
    return pc.add(naive, pc.subtract(column, pc.local_timestamp(instants)))


def _target(kind: pa.DataType, is_timestamp: bool) -> pa.DataType | None:
    if is_timestamp:
        if pa.types.is_timestamp(kind):
            return pa.timestamp(kind.unit)  # timestamptz arrives as UTC: dropping the zone keeps UTC
        if pa.types.is_date(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return pa.timestamp("us")
        return None
    if pa.types.is_integer(kind) and kind.bit_width < 64:
        return pa.int64()
    if pa.types.is_floating(kind) and kind.bit_width < 64:
        return pa.float64()
    return kind
