"""Quality gate: run a model's GX Core suite (from ``expectations/``) on a snapshot.

Suites are versioned in git as JSON; each run syncs the suite into a file-based GX context in the
state folder and validates the snapshot as an in-memory dataframe. Severity comes from the
expectation's ``meta.severity`` (or GX's own ``severity`` field): ``critical`` blocks, ``warning``
is reported.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines import settings
from pipelines.config import ModelConfig
from pipelines.ingest import Snapshot, load


class SuiteNotFound(FileNotFoundError):
    """The suite named in a model config has no JSON file in the expectations folder."""


@dataclass(frozen=True)
class CheckResult:
    """One expectation that did not pass."""

    expectation: str
    column: str | None
    severity: str
    observed: str

    def __str__(self) -> str:
        where = f" on {self.column}" if self.column else ""
        return f"{self.expectation}{where}: observed {self.observed}"


@dataclass(frozen=True)
class QualityReport:
    suite: str
    success: bool
    evaluated: int
    critical: list[CheckResult] = field(default_factory=list)
    warnings: list[CheckResult] = field(default_factory=list)
    result_path: str | None = None
    docs_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityReport:
        checks = {key: [CheckResult(**c) for c in data.get(key, [])] for key in ("critical", "warnings")}
        return cls(**{**data, **checks})


class QualityGateFailed(RuntimeError):
    """A critical expectation failed: the run must stop before training."""

    def __init__(self, report: QualityReport) -> None:
        self.report = report
        lines = "\n".join(f"  - {c}" for c in report.critical)
        docs = f"\nData Docs: {report.docs_path}" if report.docs_path else ""
        super().__init__(
            f"quality gate failed: {len(report.critical)} critical expectation(s) of suite "
            f"{report.suite!r} failed:\n{lines}{docs}"
        )


def suite_path(name: str) -> Path:
    return settings.expectations_dir() / f"{name}.json"


def load_suite_dict(name: str) -> dict[str, Any]:
    path = suite_path(name)
    if not path.exists():
        raise SuiteNotFound(f"no suite {name!r}: expected {path}")
    suite = json.loads(path.read_text())
    suite["name"] = name
    suite.pop("id", None)
    return dict(suite)


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


def result_path(cfg: ModelConfig, snapshot: Snapshot) -> Path:
    """Where ``validate`` writes the snapshot's report and full GX result (JSON, next to the snapshot)."""
    return Path(snapshot.path).with_suffix(f".{cfg.quality.suite}.validation.json")


def saved_report(cfg: ModelConfig, snapshot: Snapshot) -> QualityReport | None:
    """The report ``validate`` saved for this snapshot, or None when it was never validated."""
    path = result_path(cfg, snapshot)
    return QualityReport.from_dict(json.loads(path.read_text())["report"]) if path.exists() else None


def validate(cfg: ModelConfig, snapshot: Snapshot) -> QualityReport:
    """Validate the snapshot against the model's suite; never raises for failed expectations.

    The GX file context lives next to the snapshot, in its window's folder, so concurrent runs of other
    windows or models never share GX state. The full validation result is written next to the snapshot and
    rendered into Data Docs (``<window folder>/data_docs``); the report carries both paths.
    """
    frame = load(snapshot)
    result_file = result_path(cfg, snapshot)
    report, full_result, docs_path = run_suite(
        cfg.quality.suite, frame, cfg.name, Path(snapshot.path).parent, suite_parameters(cfg, snapshot)
    )
    report = replace(report, result_path=str(result_file), docs_path=docs_path)
    result_file.write_text(json.dumps({"report": report.to_dict(), "result": full_result}, indent=2, default=str))
    return report


def run_suite(
    suite_name: str,
    frame: pd.DataFrame,
    asset_name: str,
    project_dir: Path,
    parameters: dict[str, Any] | None = None,
) -> tuple[QualityReport, dict[str, Any], str | None]:
    """Run one suite on a dataframe through a file-based GX context in ``project_dir``.

    Returns the compact report, GX's full result as JSON and its Data Docs page (``project_dir/data_docs``).
    """
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(project_dir))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    suite = context.suites.add_or_update(ExpectationSuite(**load_suite_dict(suite_name)))
    datasource = context.data_sources.add_or_update_pandas("snapshots")
    asset = next((a for a in datasource.assets if a.name == asset_name), None) or (
        datasource.add_dataframe_asset(asset_name)
    )
    batch = next((b for b in asset.batch_definitions if b.name == "snapshot"), None) or (
        asset.add_batch_definition_whole_dataframe("snapshot")
    )
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{asset_name}__{suite_name}", data=batch, suite=suite)
    )
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
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"{asset_name}__{suite_name}",
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="data_docs", site_names=[site])],
            result_format="SUMMARY",
        )
    )
    outcome = checkpoint.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters or {})
    (identifier, result), *_ = outcome.run_results.items()
    urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=site)
    docs_path = next((u["site_url"] for u in urls if u.get("site_url")), None)
    return _report(suite_name, result), result.to_json_dict(), docs_path


def _report(suite_name: str, result: Any) -> QualityReport:
    critical: list[CheckResult] = []
    warnings: list[CheckResult] = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        severity = str((config.meta or {}).get("severity") or getattr(config, "severity", "critical"))
        check = CheckResult(
            expectation=config.type,
            column=config.kwargs.get("column"),
            severity=severity,
            observed=_observed(item),
        )
        (critical if severity == "critical" else warnings).append(check)
    critical.sort(key=_structural_first)
    warnings.sort(key=_structural_first)
    return QualityReport(
        suite=suite_name, success=not critical, evaluated=len(result.results), critical=critical, warnings=warnings
    )


def _structural_first(check: CheckResult) -> tuple[int, str]:
    """Missing columns and table-level problems explain the rest, so they are listed first."""
    order = {"expect_column_to_exist": 0, "expect_table_row_count_to_be_between": 1}
    return order.get(check.expectation, 2), check.column or ""


def _exception_message(info: dict[str, Any]) -> str | None:
    """GX reports an expectation it could not evaluate either flat or per metric; find the message."""
    candidates = [info, *(v for v in info.values() if isinstance(v, dict))]
    for candidate in candidates:
        if candidate.get("raised_exception") or (candidate is not info and candidate.get("exception_message")):
            message = str(candidate.get("exception_message") or "could not be evaluated").strip()
            return message.splitlines()[0] if message else "could not be evaluated"
    return None


def _observed(item: Any) -> str:
    if item.expectation_config.type == "expect_column_to_exist":
        return "column not found"
    error = _exception_message(item.exception_info or {})
    if error:
        return f"error: {error}"
    res = item.result or {}
    if res.get("observed_value") is not None:
        return str(res["observed_value"])
    if res.get("partial_missing_list"):
        return f"missing values {res['partial_missing_list']}"
    if res.get("unexpected_count"):
        sample = res.get("partial_unexpected_list") or []
        shown = ", ".join(str(v) for v in sample[:5])
        return f"{res['unexpected_count']} unexpected ({res.get('unexpected_percent', 0):.2f}%)" + (
            f", e.g. {shown}" if shown else ""
        )
    return "no value (no rows to evaluate)"
