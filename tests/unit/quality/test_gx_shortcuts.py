"""The two GX overrides: the snapshot's hash as the batch fingerprint, and means without a per-row Decimal scan."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from pipelines.quality.gx_runner import run_suite
from pipelines.quality.gx_shortcuts import batch_fingerprint, skip_decimal_scan


@pytest.fixture
def suites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIPELINES_EXPECTATIONS_DIR", str(tmp_path))
    suite = {
        "expectations": [
            {
                "type": "expect_column_mean_to_be_between",
                "kwargs": {"column": "x", "min_value": 1, "max_value": 3},
                "meta": {"severity": "critical"},
            }
        ]
    }
    (tmp_path / "s.json").write_text(json.dumps(suite))
    return tmp_path


def fingerprint(full: dict, key: str = "result") -> str:
    return full[key]["meta"]["batch_markers"]["pandas_data_fingerprint"]


def test_the_given_fingerprint_stands_in_for_gx_hashing_only_that_frame(suites: Path) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    days = pd.DataFrame({"check": ["window"], "day": ["d"], "column": ["*"], "statistic": ["rows"]}).assign(
        observed=3, low=1, high=5, typical=float("nan")
    )

    _, given, _ = run_suite("s", frame, "a", suites / "gx", fingerprint="snapshot-hash", days=days)
    _, hashed, _ = run_suite("s", frame, "a", suites / "gx", days=days)

    assert fingerprint(given) == "snapshot-hash"
    assert len(fingerprint(hashed)) == 32 and fingerprint(hashed) != "snapshot-hash"  # GX's md5 of the rows
    assert fingerprint(given, "day_result") == fingerprint(hashed, "day_result")  # the day frame: GX's own


def test_outside_the_context_gx_hashes_every_frame() -> None:
    from great_expectations.execution_engine import pandas_execution_engine as engine

    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with batch_fingerprint(frame, "known"):
        assert engine.hash_pandas_dataframe(frame) == "known"
        assert engine.hash_pandas_dataframe(frame.copy()) != "known"
    assert engine.hash_pandas_dataframe(frame) != "known"


@pytest.mark.parametrize(
    ("values", "mean"),
    [([1, 2, 3], 2.0), ([1.0, 2.0, 6.0], 3.0), ([Decimal("1.5"), Decimal("2.5")], 2.0), ([True, False], 0.5)],
)
def test_means_are_gx_s_with_or_without_the_decimal_scan(values: list, mean: float) -> None:
    from great_expectations.expectations.metrics.column_aggregate_metrics import column_mean

    skip_decimal_scan()
    scan = column_mean.convert_pandas_series_decimal_to_float_dtype
    series = pd.Series(values)

    assert scan.gx_scan(pd.Series(values), inplace=False).mean() == mean  # type: ignore[attr-defined]
    assert scan(series, inplace=True) is None and series.mean() == mean
    assert scan(pd.Series(values)).mean() == mean


def test_data_docs_pages_are_rendered_with_templates_compiled_once_per_process(suites: Path) -> None:
    from pipelines.quality.gx_views import _COMPILED

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    _, _, first = run_suite("s", frame, "a", suites / "one")
    compiled = dict(_COMPILED._code)
    _, _, second = run_suite("s", frame, "a", suites / "two")

    assert compiled and _COMPILED._code == compiled  # the second context compiled nothing
    for page in (first, second):
        assert (
            page is not None
            and "mean must be greater than or equal to" in Path(page.removeprefix("file://")).read_text()
        )
