"""GX suites: loading a model's suite from ``expectations/``, the unique-key check added to it, the generated
per-day suite ``<suite>__daily``, and the values of the suite's ``$PARAMETER`` placeholders.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipelines.config import settings
from pipelines.config.model import ModelConfig
from pipelines.data.snapshot import Snapshot
from pipelines.errors import PipelinesError


class SuiteNotFound(PipelinesError, FileNotFoundError):
    """The suite named in a model config has no JSON file in the expectations folder."""


class SuiteError(PipelinesError, ValueError):
    """A suite file that is not valid JSON, or names an expectation GX does not know."""


def suite_path(name: str) -> Path:
    """The JSON file of the suite ``name`` in the expectations folder."""
    return settings.expectations_dir() / f"{name}.json"


def load_suite_dict(name: str) -> dict[str, Any]:
    """The suite ``name`` as GX expects it (named after its file, without a stored id); ``SuiteNotFound`` without it."""
    path = suite_path(name)
    if not path.exists():
        raise SuiteNotFound(f"no suite {name!r}: expected {path}")
    try:
        suite = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SuiteError(f"suite {name!r} in {path} is not valid JSON: {exc}") from None
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations", []), list):
        raise SuiteError(f"suite {name!r} in {path} is not a GX suite: expected an object with an expectations list")
    suite["name"] = name
    suite.pop("id", None)
    return dict(suite)


def daily_suite_dict(name: str, severity: str) -> dict[str, Any]:
    """The generated suite of ``day_checks`` frames: each row's observed value lies within its bounds."""
    meta = {"severity": severity}
    return {
        "name": f"{name}__daily",
        "meta": {"description": "Generated per-day checks (pipelines.quality.day_checks): low <= observed <= high."},
        "expectations": [
            {
                "type": "expect_column_pair_values_a_to_be_greater_than_b",
                "kwargs": {"column_A": "observed", "column_B": "low", "or_equal": True},
                "meta": {**meta, "notes": "not below the lower bound"},
            },
            {
                "type": "expect_column_pair_values_a_to_be_greater_than_b",
                "kwargs": {"column_A": "high", "column_B": "observed", "or_equal": True},
                "meta": {**meta, "notes": "not above the upper bound"},
            },
        ],
    }


def with_unique_key(suite: dict[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    """The suite with a critical check that no two rows share the values of ``columns`` (none without
    columns, or when the suite has that very check already).
    """
    if not columns:
        return suite
    check: dict[str, Any] = (
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": columns[0]}}
        if len(columns) == 1
        else {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": list(columns)}}
    )
    expectations = suite.get("expectations", [])
    if any(e.get("type") == check["type"] and e.get("kwargs") == check["kwargs"] for e in expectations):
        return suite
    meta = {"severity": "critical", "notes": "columns.unique_key (default: the entity key): no two rows share it"}
    return {**suite, "expectations": [*expectations, {**check, "meta": meta}]}


def suite_parameters(cfg: ModelConfig, snapshot: Snapshot) -> dict[str, Any]:
    """Values for the suite's ``$PARAMETER`` placeholders, derived from the snapshot's window and the config."""
    window = snapshot.window
    start, end = window.bounds()
    days = (window.end - window.start).days
    quality = cfg.quality
    return {
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "fresh_after": (end - timedelta(hours=quality.max_staleness_hours)).isoformat(),
        "min_rows": days * quality.min_rows_per_day,
        "max_rows": days * quality.max_rows_per_day,
    }
