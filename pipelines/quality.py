"""Quality gate: run a model's GX Core suite (from ``expectations/``) on a snapshot.

Suites are versioned in git as JSON; each run syncs the suite into a file-based GX context in the
state folder and validates the snapshot as an in-memory dataframe. Severity comes from the
expectation's ``meta.severity`` (or GX's own ``severity`` field): ``critical`` blocks, ``warning``
is reported.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class QualityGateFailed(RuntimeError):
    """A critical expectation failed: the run must stop before training."""

    def __init__(self, report: QualityReport) -> None:
        self.report = report
        lines = "\n".join(f"  - {c}" for c in report.critical)
        super().__init__(
            f"quality gate failed: {len(report.critical)} critical expectation(s) of suite "
            f"{report.suite!r} failed:\n{lines}"
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


def validate(cfg: ModelConfig, snapshot: Snapshot) -> QualityReport:
    """Validate the snapshot against the model's suite; never raises for failed expectations."""
    frame = load(snapshot)
    result_file = Path(snapshot.path).with_suffix(f".{cfg.quality.suite}.validation.json")
    report = replace(run_suite(cfg.quality.suite, frame, cfg.name), result_path=str(result_file))
    result_file.write_text(json.dumps(report.to_dict(), indent=2, default=str))
    return report


def run_suite(suite_name: str, frame: pd.DataFrame, asset_name: str) -> QualityReport:
    """Run one suite on a dataframe through a file-based GX context in the state folder."""
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=str(settings.home()))
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
    result = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
    return _report(suite_name, result)


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
    return QualityReport(
        suite=suite_name, success=not critical, evaluated=len(result.results), critical=critical, warnings=warnings
    )


def _observed(item: Any) -> str:
    info = item.exception_info or {}
    if info.get("raised_exception"):
        message = str(info.get("exception_message") or "could not be evaluated")
        return f"error: {message.splitlines()[0]}"
    res = item.result or {}
    if res.get("observed_value") is not None:
        return str(res["observed_value"])
    if res.get("unexpected_count") is not None:
        sample = res.get("partial_unexpected_list") or []
        shown = ", ".join(str(v) for v in sample[:5])
        return f"{res['unexpected_count']} unexpected ({res.get('unexpected_percent', 0):.2f}%)" + (
            f", e.g. {shown}" if shown else ""
        )
    return "failed"
