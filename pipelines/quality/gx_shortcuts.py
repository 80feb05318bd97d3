"""Three narrow overrides of GX internals that cost time or memory for nothing.

GX offers no setting for any of them, so each replaces one GX function or method, once, with one that defers
to GX's own wherever it does not apply:

- ``batch_fingerprint``: GX's pandas engine hashes every row of a frame under 1 GB into the batch marker
  ``pandas_data_fingerprint`` (``hash_pandas_dataframe``); inside the context the frame given takes the
  fingerprint given instead (the snapshot's content hash: it names the very rows validated). Other frames,
  and every frame outside the context, are hashed by GX.
- ``skip_decimal_scan``: GX's ``column.mean`` looks for ``Decimal`` values one Python object per row before
  averaging; a column of a numpy numeric or datetime dtype cannot hold one, so it is passed through as GX
  would pass it; any other column goes through GX's scan.
- ``column_domains_alone``: GX's pandas engine gives a column's metric the whole frame, and a column map
  metric then drops the column's missing values with a boolean mask over it: a copy of every column of the
  window, one per metric (a second copy of the window at the gate's peak). Inside the context a column domain's
  frame is that column alone (the only one such a metric reads; rows kept and unexpected-index columns come
  from GX's own ``get_domain_records``, untouched), so the mask copies one column.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import pandas as pd

_KNOWN: ContextVar[tuple[pd.DataFrame, str] | None] = ContextVar("gx_batch_fingerprint", default=None)
_COLUMN_ALONE: ContextVar[bool] = ContextVar("gx_column_domains_alone", default=False)


@contextmanager
def batch_fingerprint(frame: pd.DataFrame, fingerprint: str | None) -> Iterator[None]:
    """While inside, GX's batch fingerprint of ``frame`` (this very object) is ``fingerprint`` (None: GX's)."""
    if fingerprint is None:
        yield
        return
    from great_expectations.execution_engine import pandas_execution_engine as engine

    if not hasattr(engine.hash_pandas_dataframe, "gx_hash"):
        engine.hash_pandas_dataframe = _known_or_hashed(engine.hash_pandas_dataframe)
    token = _KNOWN.set((frame, fingerprint))
    try:
        yield
    finally:
        _KNOWN.reset(token)


def skip_decimal_scan() -> None:
    """Let GX's ``column.mean`` skip its per-row ``Decimal`` scan of numpy numeric and datetime columns."""
    from great_expectations.expectations.metrics.column_aggregate_metrics import column_mean

    scan = column_mean.convert_pandas_series_decimal_to_float_dtype
    if hasattr(scan, "gx_scan"):
        return

    def numeric_or_scanned(data: pd.Series, inplace: bool = False) -> pd.Series | None:
        if isinstance(data.dtype, np.dtype) and data.dtype.kind in "biufmM":
            return None if inplace else data
        return scan(data, inplace=inplace)

    numeric_or_scanned.gx_scan = scan  # type: ignore[attr-defined]
    column_mean.convert_pandas_series_decimal_to_float_dtype = numeric_or_scanned


@contextmanager
def column_domains_alone() -> Iterator[None]:
    """While inside, a column domain's compute frame in GX's pandas engine holds that column only."""
    from great_expectations.execution_engine.pandas_execution_engine import PandasExecutionEngine

    compute = PandasExecutionEngine.get_compute_domain
    if not hasattr(compute, "gx_compute"):
        PandasExecutionEngine.get_compute_domain = _column_alone(compute)  # type: ignore[method-assign]
    token = _COLUMN_ALONE.set(True)
    try:
        yield
    finally:
        _COLUMN_ALONE.reset(token)


def _column_alone(compute: Any) -> Any:
    from great_expectations.core.metric_domain_types import MetricDomainTypes

    def column_alone(self: Any, domain_kwargs: dict, domain_type: Any, accessor_keys: Any = None) -> Any:
        data, compute_kwargs, accessor = compute(self, domain_kwargs, domain_type, accessor_keys)
        column = accessor.get("column")
        if _COLUMN_ALONE.get() and MetricDomainTypes(domain_type) is MetricDomainTypes.COLUMN and column in data:
            data = data[[column]]
        return data, compute_kwargs, accessor

    column_alone.gx_compute = compute  # type: ignore[attr-defined]
    return column_alone


def _known_or_hashed(gx_hash: Any) -> Any:
    def known_or_hashed(df: pd.DataFrame) -> str:
        known = _KNOWN.get()
        return known[1] if known is not None and known[0] is df else str(gx_hash(df))

    known_or_hashed.gx_hash = gx_hash  # type: ignore[attr-defined]
    return known_or_hashed
