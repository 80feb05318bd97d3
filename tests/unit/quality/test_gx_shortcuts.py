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


@pytest.fixture
def wide_suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A suite of column map, aggregate, conditional and multi-column expectations over ``wide_frame``."""
    monkeypatch.setenv("PIPELINES_EXPECTATIONS_DIR", str(tmp_path))
    expectations = [
        ("expect_column_values_to_not_be_null", {"column": "c0"}),
        ("expect_column_values_to_be_between", {"column": "c1", "min_value": -1, "max_value": 1}),
        ("expect_column_values_to_be_in_set", {"column": "plan", "value_set": ["a", "b"]}),
        ("expect_column_values_to_be_unique", {"column": "key"}),
        ("expect_column_values_to_match_regex", {"column": "plan", "regex": "^[ab]$"}),
        ("expect_column_mean_to_be_between", {"column": "c2", "min_value": -0.1, "max_value": 0.1}),
        ("expect_column_stdev_to_be_between", {"column": "c3", "min_value": 0.9, "max_value": 1.1}),
        (
            "expect_column_values_to_be_between",
            {
                "column": "c4",
                "min_value": 0,
                "max_value": 9,
                "row_condition": 'plan=="a"',
                "condition_parser": "pandas",
            },
        ),
        ("expect_compound_columns_to_be_unique", {"column_list": ["key", "plan"]}),
        ("expect_column_pair_values_a_to_be_greater_than_b", {"column_A": "c5", "column_B": "c6", "or_equal": True}),
    ]
    suite = {"expectations": [{"type": t, "kwargs": k, "meta": {"severity": "critical"}} for t, k in expectations]}
    (tmp_path / "wide.json").write_text(json.dumps(suite))
    return tmp_path


def wide_frame(rows: int, columns: int = 20) -> pd.DataFrame:
    """Float columns with missing values and out-of-range values, a text column with unknown values, a key."""
    import numpy as np

    rng = np.random.default_rng(3)
    data = {f"c{i}": rng.normal(size=rows) for i in range(columns)}
    frame = pd.DataFrame(data).assign(
        plan=rng.choice(["a", "b", "z", None], size=rows), key=np.arange(rows) % (rows - 5)
    )
    frame.loc[::7, "c0"] = np.nan
    frame.loc[::11, "c1"] = np.nan
    return frame


def _compared(full: dict, key: str = "result") -> list:
    """Each expectation's configuration, success and result; what does not vary from run to run."""
    results = full[key]["results"]
    configs = [{k: v for k, v in r["expectation_config"].items() if k != "id"} for r in results]
    return [(c, r["success"], r["result"]) for c, r in zip(configs, results, strict=True)]


def test_column_domains_alone_give_gx_s_own_results(
    wide_suite: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from contextlib import nullcontext

    from pipelines.quality import gx_runner

    frame = wide_frame(3000)
    days = pd.DataFrame({"check": ["window"], "day": ["2026-03-01"], "column": ["*"], "statistic": ["rows"]}).assign(
        observed=3, low=5, high=9, typical=float("nan")
    )
    narrowed, narrowed_full, _ = run_suite("wide", frame, "a", tmp_path / "narrowed", days=days)
    monkeypatch.setattr(gx_runner, "column_domains_alone", nullcontext)
    whole, whole_full, _ = run_suite("wide", frame, "a", tmp_path / "whole", days=days)

    assert not narrowed.success and len(narrowed.critical) >= 6  # failures, with their SUMMARY examples
    assert narrowed == whole
    assert _compared(narrowed_full) == _compared(whole_full)
    assert _compared(narrowed_full, "day_result") == _compared(whole_full, "day_result")  # COMPLETE, index columns


def test_column_metrics_no_longer_copy_the_whole_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tracemalloc
    from contextlib import nullcontext

    from pipelines.quality import gx_runner

    # Given: a wide frame with missing values and a passing suite of column map metrics, which drop them first
    monkeypatch.setenv("PIPELINES_EXPECTATIONS_DIR", str(tmp_path))
    checks = [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": c, "min_value": -9, "max_value": 9}}
        for c in ("c0", "c1", "c2")
    ]
    (tmp_path / "passing.json").write_text(json.dumps({"expectations": checks}))
    frame = wide_frame(200_000, columns=40)
    size = int(frame.memory_usage(deep=True).sum())

    def peak() -> int:
        tracemalloc.start()
        report, _, _ = run_suite("passing", frame, "a", tmp_path / "peak")
        found = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert report.success
        return found

    # When: it is validated with column domains alone (after a first run, which imports and caches), then as GX would
    run_suite("passing", frame.head(100), "a", tmp_path / "first")
    narrowed = peak()
    monkeypatch.setattr(gx_runner, "column_domains_alone", nullcontext)
    whole = peak()

    # Then: GX's way copies the rows kept (6 in 7 of them for c0) of every column; alone, of one column
    assert whole - narrowed > size * 0.75, (narrowed / size, whole / size)
