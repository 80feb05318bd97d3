"""Running suites through an ephemeral GX context: suites from their JSON, checkpoints, Data Docs on disk."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from pipelines.quality.day_checks import DAILY_COLUMNS
from pipelines.quality.gx_fixes import quantile_verdicts_as_bools
from pipelines.quality.gx_results import suite_report, with_day_results
from pipelines.quality.gx_shortcuts import batch_fingerprint, column_domains_alone, skip_decimal_scan
from pipelines.quality.report import QualityReport
from pipelines.quality.suites import SuiteError, daily_suite_dict, load_suite_dict, with_unique_key

DOCS_SITE = "snapshot_data_docs"


@contextmanager
def quiet_gx() -> Iterator[None]:
    """GX logs hundreds of INFO lines per validation (registrations at import, config dumps): while inside,
    only its warnings and errors get through.
    """
    logger = logging.getLogger("great_expectations")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def run_suite(
    suite_name: str,
    frame: pd.DataFrame,
    asset_name: str,
    project_dir: Path,
    parameters: dict[str, Any] | None = None,
    days: pd.DataFrame | None = None,
    day_severity: str = "critical",
    unique: Sequence[str] = (),
    fingerprint: str | None = None,
) -> tuple[QualityReport, dict[str, Any], str | None]:
    """Run one suite on a dataframe, and the generated per-day suite on ``days`` (a ``day_checks`` frame),
    through an ephemeral GX context whose Data Docs are written to ``project_dir/data_docs``. With ``unique``
    (``columns.unique_key``), the suite also checks that no two rows share those columns' values. With
    ``fingerprint`` (the snapshot's content hash), GX records it as the frame's batch fingerprint instead of
    hashing every row (``gx_shortcuts``).

    The context keeps nothing between runs (the suite is git's JSON, the full results are returned to be
    written next to the snapshot): a file-based context spent half a second per run reading and rewriting
    its own YAML and stores. The suite runs first with GX's ``BOOLEAN_ONLY`` results (no examples of failing
    values: a third of the time at a million rows); only when it fails does it run again with ``SUMMARY``
    results, whose examples the report and Data Docs show.

    Returns the compact report, GX's full results as JSON (``result``, ``day_result``) and the suite's Data
    Docs page.
    """
    with quiet_gx(), _released_context(project_dir) as context:
        datasource = context.data_sources.add_pandas("snapshots")
        suite = _suite(context, with_unique_key(load_suite_dict(suite_name), unique))
        frame = with_nanosecond_timestamps(frame)
        skip_decimal_scan()
        quantile_verdicts_as_bools()
        with batch_fingerprint(frame, fingerprint), column_domains_alone():
            identifier, result = _validate(context, datasource, asset_name, suite, frame, "BOOLEAN_ONLY", parameters)
            if not result.success:  # again with examples of the failing values, for the report and Data Docs
                identifier, result = _validate(context, datasource, asset_name, suite, frame, "SUMMARY", parameters)
        report = suite_report(suite_name, result)
        full = {"result": result.to_json_dict()}
        built = [identifier]
        if days is not None and len(days):
            day_suite = _suite(context, daily_suite_dict(suite_name, day_severity))
            day_format = {"result_format": "COMPLETE", "unexpected_index_column_names": list(DAILY_COLUMNS)}
            day_identifier, day_result = _validate(
                context, datasource, f"{asset_name}_days", day_suite, days, day_format
            )
            report = with_day_results(report, day_result, len(days))
            full["day_result"] = day_result.to_json_dict()
            built.append(day_identifier)
        context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=built)
        urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=DOCS_SITE)
    docs_path = next((u["site_url"] for u in urls if u.get("site_url")), None)
    return report, full, docs_path


@contextmanager
def _released_context(project_dir: Path) -> Iterator[Any]:
    """An ephemeral context (``_context_config``), let go of when the block ends: GX keeps the last context it
    built as its project (``project_manager``), and with it the batch's frame and the metrics computed on it
    (a window's worth of columns), until another is built: through training, in a process that runs on.
    """
    import great_expectations as gx
    from great_expectations.data_context.data_context.context_factory import project_manager

    try:
        yield gx.get_context(mode="ephemeral", project_config=_context_config(project_dir))
    finally:
        project_manager.set_project(None)


def with_nanosecond_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its naive timestamp columns as ``datetime64[ns]`` where their values fit: GX compares
    those vectorized, and any other resolution one Python call per row (seconds per million rows).
    """
    converted = {}
    for name, dtype in frame.dtypes.items():
        if pd.api.types.is_datetime64_dtype(dtype) and dtype != "datetime64[ns]":
            try:
                converted[name] = frame[name].astype("datetime64[ns]")
            except (OverflowError, ValueError):  # outside 1677..2262: GX's slower path still checks them
                continue
    return frame.assign(**converted) if converted else frame


def _context_config(project_dir: Path) -> Any:
    """An in-memory context without progress bars whose only Data Docs site is ``project_dir/data_docs``, rendered
    by GX's page views with their templates compiled once per process (``gx_views``).
    """
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    page = {"view": {"module_name": "pipelines.quality.gx_views", "class_name": "PageView"}}
    site = {
        "class_name": "SiteBuilder",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(project_dir / "data_docs"),
        },
        "site_section_builders": {section: page for section in ("expectations", "validations", "profiling")},
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "view": {"module_name": "pipelines.quality.gx_views", "class_name": "IndexPageView"},
        },
    }
    return DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={DOCS_SITE: site},
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )


def _suite(context: Any, suite_dict: dict[str, Any]) -> Any:
    """The suite added to the context; SuiteError when it names an expectation type GX does not know (GX
    would log it and drop it: the gate would pass without the check the suite asks for).
    """
    from great_expectations.core import ExpectationSuite

    suite = ExpectationSuite(**suite_dict)
    known = {expectation.expectation_type for expectation in suite.expectations}
    if unknown := [e.get("type") for e in suite_dict.get("expectations", []) if e.get("type") not in known]:
        raise SuiteError(
            f"suite {suite_dict['name']!r} names expectations GX does not know: {', '.join(map(str, unknown))}"
        )
    return context.suites.add(suite)


def _validate(
    context: Any,
    datasource: Any,
    asset_name: str,
    suite: Any,
    frame: pd.DataFrame,
    result_format: Literal["BOOLEAN_ONLY", "SUMMARY", "COMPLETE"] | dict[str, Any],
    parameters: dict[str, Any] | None = None,
) -> tuple[Any, Any]:
    """Validate ``frame`` with the suite through a checkpoint; returns GX's result identifier and result."""
    import great_expectations as gx

    asset = next((a for a in datasource.assets if a.name == asset_name), None) or (
        datasource.add_dataframe_asset(asset_name)
    )
    batch = next((b for b in asset.batch_definitions if b.name == "snapshot"), None) or (
        asset.add_batch_definition_whole_dataframe("snapshot")
    )
    name = f"{asset_name}__{suite.name}__{len(context.checkpoints.all())}"
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name=name, validation_definitions=[definition], result_format=result_format)
    )
    outcome = checkpoint.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters or {})
    (identifier, result), *_ = outcome.run_results.items()
    return identifier, result
