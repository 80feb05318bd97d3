"""Running suites through a file-based GX context: suites synced from their JSON, checkpoints, Data Docs."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from pipelines.quality.day_checks import DAILY_COLUMNS
from pipelines.quality.gx_results import suite_report, with_day_results
from pipelines.quality.report import QualityReport
from pipelines.quality.suites import SuiteError, daily_suite_dict, load_suite_dict, with_unique_key


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
) -> tuple[QualityReport, dict[str, Any], str | None]:
    """Run one suite on a dataframe, and the generated per-day suite on ``days`` (a ``day_checks`` frame),
    through a file-based GX context in ``project_dir``. With ``unique`` (``columns.unique_key``), the suite
    also checks that no two rows share those columns' values.

    The suite runs first with GX's ``BOOLEAN_ONLY`` results (no examples of failing values: a third of the
    time at a million rows); only when it fails does it run again with ``SUMMARY`` results, whose examples the
    report and Data Docs show.

    Returns the compact report, GX's full results as JSON (``result``, ``day_result``) and the suite's Data
    Docs page (``project_dir/data_docs``).
    """
    with quiet_gx():
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="file", project_root_dir=str(project_dir))
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        built: list[Any] = []  # what Data Docs renders: the new results, and suites stored anew
        suite = with_unique_key(load_suite_dict(suite_name), unique)
        frame = with_nanosecond_timestamps(frame)
        identifier, result = _run_checkpoint(context, asset_name, suite, frame, "BOOLEAN_ONLY", built, parameters)
        if not result.success:  # again with examples of the failing values, for the report and Data Docs
            built.remove(identifier)
            identifier, result = _run_checkpoint(context, asset_name, suite, frame, "SUMMARY", built, parameters)
        report = suite_report(suite_name, result)
        full = {"result": result.to_json_dict()}
        if days is not None and len(days):
            day_suite = daily_suite_dict(suite_name, day_severity)
            day_format = {"result_format": "COMPLETE", "unexpected_index_column_names": list(DAILY_COLUMNS)}
            _, day_result = _run_checkpoint(context, f"{asset_name}_days", day_suite, days, day_format, built)
            report = with_day_results(report, day_result, len(days))
            full["day_result"] = day_result.to_json_dict()
        site = _docs_site(context, project_dir)
        context.build_data_docs(site_names=[site], resource_identifiers=built)
        urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=site)
    docs_path = next((u["site_url"] for u in urls if u.get("site_url")), None)
    return report, full, docs_path


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


def _docs_site(context: Any, project_dir: Path) -> str:
    site = "snapshot_data_docs"
    if site not in context.get_site_names():
        context.add_data_docs_site(
            site_name=site,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(project_dir / "data_docs"),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return site


def _run_checkpoint(
    context: Any,
    asset_name: str,
    suite_dict: dict[str, Any],
    frame: pd.DataFrame,
    result_format: Literal["BOOLEAN_ONLY", "SUMMARY", "COMPLETE"] | dict[str, Any],
    built: list[Any],
    parameters: dict[str, Any] | None = None,
) -> tuple[Any, Any]:
    """Validate ``frame`` with the suite through a checkpoint; returns GX's result identifier and result, and
    appends what Data Docs must render to ``built``.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    suite, stored_anew = _synced_suite(context, suite_dict)
    if stored_anew:
        built.append(ExpectationSuiteIdentifier(name=suite.name))
    datasource = context.data_sources.add_or_update_pandas("snapshots")
    asset = next((a for a in datasource.assets if a.name == asset_name), None) or (
        datasource.add_dataframe_asset(asset_name)
    )
    batch = next((b for b in asset.batch_definitions if b.name == "snapshot"), None) or (
        asset.add_batch_definition_whole_dataframe("snapshot")
    )
    name = f"{asset_name}__{suite.name}"
    definition = _stored(context.validation_definitions, name)
    if definition is None or definition.suite.id != suite.id:
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
    checkpoint = _stored(context.checkpoints, name)
    if (
        checkpoint is None
        or [d.id for d in checkpoint.validation_definitions] != [definition.id]
        or checkpoint.result_format != result_format
        or checkpoint.actions  # one written before Data Docs were built once for both results
    ):
        checkpoint = context.checkpoints.add_or_update(
            gx.Checkpoint(name=name, validation_definitions=[definition], result_format=result_format)
        )
    outcome = checkpoint.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters or {})
    (identifier, result), *_ = outcome.run_results.items()
    built.append(identifier)
    return identifier, result


def _stored(factory: Any, name: str) -> Any:
    """The object of that name in a GX factory (suites, validation definitions, checkpoints), or None when
    there is none or it no longer loads (then it is written anew).
    """
    from great_expectations.exceptions import DataContextError

    try:
        return factory.get(name)
    except (DataContextError, ValueError):  # pydantic's ValidationError is a ValueError
        return None


def _synced_suite(context: Any, suite_dict: dict[str, Any]) -> tuple[Any, bool]:
    """The context's copy of the suite, and whether it was stored anew: replaced only when the JSON changed
    (GX's own update compares every expectation with every stored one: seconds for a large suite).
    """
    from great_expectations.core import ExpectationSuite

    digest = hashlib.sha256(json.dumps(suite_dict, sort_keys=True, default=str).encode()).hexdigest()
    stored = _stored(context.suites, suite_dict["name"])
    if stored is not None and (stored.meta or {}).get("source_sha256") == digest:
        return stored, False
    if stored is not None:
        context.suites.delete(suite_dict["name"])
    meta = {**suite_dict.get("meta", {}), "source_sha256": digest}
    suite = ExpectationSuite(**{**suite_dict, "meta": meta})
    known = {expectation.expectation_type for expectation in suite.expectations}
    if unknown := [e.get("type") for e in suite_dict.get("expectations", []) if e.get("type") not in known]:
        # GX logs an unknown type and drops it: the gate would pass without the check the suite asks for
        raise SuiteError(
            f"suite {suite_dict['name']!r} names expectations GX does not know: {', '.join(map(str, unknown))}"
        )
    return context.suites.add(suite), True
