"""How the gate runs GX: a cheap first pass, examples only for a failing suite, timestamps GX compares vectorized."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipelines.quality.gx_runner import run_suite, with_nanosecond_timestamps
from pipelines.quality.report import QualityReport


def write_suite(folder: Path) -> None:
    suite = {
        "expectations": [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "x", "min_value": 0, "max_value": 10},
                "meta": {"severity": "critical"},
            },
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {
                    "column": "ts",
                    "min_value": "2026-01-01T00:00:00",
                    "max_value": "2026-02-01T00:00:00",
                    "strict_max": True,
                },
                "meta": {"severity": "critical"},
            },
        ]
    }
    (folder / "s.json").write_text(json.dumps(suite))


def run(tmp_path: Path, frame: pd.DataFrame) -> tuple[QualityReport, dict]:
    report, full, _ = run_suite("s", frame, "asset", tmp_path / "gx")
    return report, full["result"]


@pytest.fixture
def suites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIPELINES_EXPECTATIONS_DIR", str(tmp_path))
    write_suite(tmp_path)
    return tmp_path


def test_a_passing_suite_keeps_no_examples_and_a_failing_one_names_its_values(suites: Path) -> None:
    stamps = pd.Series(pd.to_datetime(["2026-01-05", "2026-01-06", "2026-01-07"])).astype("datetime64[us]")
    clean = pd.DataFrame({"x": [1.0, 2.0, 3.0], "ts": stamps})

    passed, passed_result = run(suites, clean)
    failed, failed_result = run(suites, clean.assign(x=[1.0, 99.0, 3.0], ts=stamps.where(stamps.index < 2)))

    assert passed.success and not any(r["result"] for r in passed_result["results"])
    assert not failed.success
    by_column = {r["expectation_config"]["kwargs"]["column"]: r for r in failed_result["results"]}
    assert by_column["x"]["result"]["partial_unexpected_list"] == [99.0]
    assert by_column["ts"]["success"], "a missing timestamp is the null check's business, not the range's"


def test_a_timestamp_out_of_the_window_fails_at_microsecond_resolution(suites: Path) -> None:
    stamps = pd.Series(pd.to_datetime(["2026-01-05", "2026-02-01"])).astype("datetime64[us]")

    report, _ = run(suites, pd.DataFrame({"x": [1.0, 2.0], "ts": stamps}))

    assert [(c.expectation, c.column) for c in report.critical] == [("expect_column_values_to_be_between", "ts")]


def test_timestamps_become_nanoseconds_where_they_fit_and_stay_otherwise() -> None:
    frame = pd.DataFrame(
        {
            "us": pd.Series(pd.to_datetime(["2026-01-05"])).astype("datetime64[us]"),
            "ancient": pd.Series([pd.Timestamp("1000-01-01").as_unit("s")]),
            "x": [1.0],
        }
    )

    converted = with_nanosecond_timestamps(frame)

    assert converted.dtypes.astype(str).to_dict() == {
        "us": "datetime64[ns]",
        "ancient": "datetime64[s]",
        "x": "float64",
    }
    assert converted["us"].iloc[0] == frame["us"].iloc[0]
    assert with_nanosecond_timestamps(converted) is converted


def test_nothing_of_the_validated_frame_is_held_once_the_suite_has_run(suites: Path) -> None:
    import gc
    import weakref

    # Given: a frame validated with failures (the SUMMARY pass computes and keeps the most metrics)
    rows = 50_000
    frame = pd.DataFrame({"x": [float(i % 20) for i in range(rows)], "ts": pd.Timestamp("2026-01-05")})
    report, _ = run(suites, frame)
    assert not report.success
    held = weakref.ref(frame)

    # When: the caller lets go of it
    del frame
    gc.collect()

    # Then: neither the frame nor any column or metric series of its length outlives the run
    assert held() is None
    assert not [o for o in gc.get_objects() if isinstance(o, pd.Series | pd.DataFrame) and len(o) >= rows / 2]


@pytest.mark.parametrize(("median_range", "passes"), [([-1, 1], True), ([5, 6], False)])
def test_a_suite_with_quantile_bounds_runs_and_reports_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, median_range: list[int], passes: bool
) -> None:
    # GX's own quantile check gives NumPy bools its result store cannot write: the gate raised a TypeError
    monkeypatch.setenv("PIPELINES_EXPECTATIONS_DIR", str(tmp_path))
    bounds = {"quantiles": [0.1, 0.5], "value_ranges": [[-5, 5], median_range]}
    check = {
        "type": "expect_column_quantile_values_to_be_between",
        "kwargs": {"column": "x", "quantile_ranges": bounds},
    }
    (tmp_path / "q.json").write_text(json.dumps({"expectations": [{**check, "meta": {"severity": "critical"}}]}))
    frame = pd.DataFrame({"x": [float(i % 9) - 4 for i in range(900)]})

    report, full, _ = run_suite("q", frame, "asset", tmp_path / "gx")

    assert report.success is passes
    if not passes:  # only a failing suite keeps its results' details (SUMMARY): the median's verdict
        assert full["result"]["results"][0]["result"]["details"]["success_details"] == [True, False]
