"""Quality gate: run a model's GX Core suite (from ``expectations/``) on a snapshot, and per-day checks.

Suites are versioned in git as JSON; each run loads the suite into an in-memory GX context and validates
the snapshot as an in-memory dataframe. Severity comes from the
expectation's ``meta.severity`` (or GX's own ``severity`` field): ``critical`` blocks, ``warning``
is reported.

Per-day checks (``day_checks``) validate a small per-day aggregate of the snapshot with a generated suite
``<suite>__daily``, so a problem confined to the window's last day is not hidden by the window's average.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path, PurePosixPath

from pipelines.config.model import ModelConfig
from pipelines.data.ingest import load
from pipelines.data.snapshot import Snapshot
from pipelines.quality.day_stats_store import DayStatsStore
from pipelines.quality.gx_runner import run_suite
from pipelines.quality.report import QualityReport
from pipelines.quality.snapshot_checks import snapshot_day_checks
from pipelines.quality.suites import suite_parameters

log = logging.getLogger(__name__)


def result_path(cfg: ModelConfig, snapshot: Snapshot) -> Path:
    """Where ``validate`` writes the snapshot's report and full GX result (JSON, next to a local snapshot's
    manifest; for one in an object store, in its window's local folder).
    """
    return snapshot.local_folder() / f"{PurePosixPath(snapshot.path).stem}.{cfg.quality.suite}.validation.json"


def saved_report(cfg: ModelConfig, snapshot: Snapshot) -> QualityReport | None:
    """The report ``validate`` saved for this snapshot, or None when it was never validated."""
    path = result_path(cfg, snapshot)
    return QualityReport.from_dict(json.loads(path.read_text())["report"]) if path.exists() else None


def validate(cfg: ModelConfig, snapshot: Snapshot, day_stats: DayStatsStore | None = None) -> QualityReport:
    """Validate the snapshot against the model's suite and its per-day checks; never raises for failed checks.

    The GX context is in memory and the run's own, so concurrent runs never share GX state. The full
    validation results are written next to the snapshot and rendered into Data Docs (``<window folder>/data_docs``); the report carries both paths. With ``day_stats``,
    the per-day aggregates of day files validated before are reused, and only new days are aggregated.
    """
    frame = load(snapshot)
    days = snapshot_day_checks(cfg, snapshot, day_stats, frame)
    result_file = result_path(cfg, snapshot)
    result_file.parent.mkdir(parents=True, exist_ok=True)
    report, full_result, docs_path = run_suite(
        cfg.quality.suite,
        frame,
        cfg.name,
        snapshot.local_folder(),
        suite_parameters(cfg, snapshot),
        days=days,
        day_severity=cfg.quality.daily.severity,
        unique=cfg.columns.unique_columns,
        fingerprint=snapshot.content_hash,
    )
    report = replace(report, result_path=str(result_file), docs_path=docs_path)
    result_file.write_text(json.dumps({"report": report.to_dict(), **full_result}, indent=2, default=str))
    log.info(
        "quality gate %s: suite %s, %d expectations and %d per-day checks, %d critical and %d warning(s) failed%s",
        "passed" if report.success else "FAILED",
        report.suite,
        report.evaluated,
        report.day_checks,
        len(report.critical),
        len(report.warnings),
        f"; {snapshot.rows_after_window} newer rows, stamped after the window's end, were not checked"
        if snapshot.rows_after_window
        else "",
    )
    return report
