"""From GX validation results to a ``QualityReport``: failed expectations and per-day checks, with what was observed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np

from pipelines.quality.report import CheckResult, QualityReport


def suite_report(suite_name: str, result: Any) -> QualityReport:
    """The report of a suite's GX result: its failed expectations by severity, structural problems first."""
    critical: list[CheckResult] = []
    warnings: list[CheckResult] = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        check = CheckResult(
            expectation=config.type,
            column=config.kwargs.get("column"),
            severity=_severity(config),
            observed=_observed(item),
        )
        (critical if check.severity == "critical" else warnings).append(check)
    critical.sort(key=_structural_first)
    warnings.sort(key=_structural_first)
    return QualityReport(
        suite=suite_name, success=not critical, evaluated=len(result.results), critical=critical, warnings=warnings
    )


def _severity(config: Any) -> str:
    return str((config.meta or {}).get("severity") or getattr(config, "severity", "critical"))


def with_day_results(report: QualityReport, result: Any, evaluated: int) -> QualityReport:
    """The report with the per-day checks that failed appended after the suite's: window-wide first, then the
    newest increment, then earlier days, most recent first.
    """
    failed: dict[tuple[Any, ...], CheckResult] = {}
    for item in result.results:
        if item.success:
            continue
        severity = _severity(item.expectation_config)
        error = _exception_message(item.exception_info or {})
        if error:
            failed[(0, 0, item.expectation_config.kwargs["column_B"], "")] = CheckResult(
                "per-day checks", None, severity, f"error: {error}"
            )
        for row in (item.result or {}).get("unexpected_index_list") or []:
            rank, name = _SCOPES[row["check"]]
            newest_first = -date.fromisoformat(str(row["day"])[-10:]).toordinal()
            failed[(rank, newest_first, str(row["column"]), str(row["statistic"]))] = _day_check(row, name, severity)
    checks = [failed[key] for key in sorted(failed)]
    critical = [c for c in checks if c.severity == "critical"]
    warnings = [c for c in checks if c.severity != "critical"]
    return replace(
        report,
        success=report.success and not critical,
        critical=report.critical + critical,
        warnings=report.warnings + warnings,
        day_checks=evaluated,
    )


_SCOPES = {"window": (1, "window"), "newest": (2, "newest"), "day": (3, "daily")}


def _day_check(row: dict[str, Any], scope: str, severity: str) -> CheckResult:
    low, high, observed = float(row["low"]), float(row["high"]), float(row["observed"])
    if row["check"] == "window":
        bound = f"at least {_fmt(low)}"
    else:
        bound = f"{_fmt(low)} to {_fmt(high)}" if low < high else f"exactly {_fmt(low)}"
    typical = float(row.get("typical", np.nan))
    context = f", typical {_fmt(typical)}" if np.isfinite(typical) else ""
    return CheckResult(
        expectation=f"{scope} {row['statistic']}",
        column=None if row["column"] == "*" else str(row["column"]),
        severity=severity,
        observed=f"{_fmt(observed)} on {row['day']} (allowed {bound}{context})",
        statistic=str(row["statistic"]),
        day=str(row["day"]),
        bound=bound,
    )


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"


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
