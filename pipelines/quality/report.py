"""What the quality gate reports: the checks that failed, the report of one validation, the error that stops a run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pipelines.errors import PipelinesError


@dataclass(frozen=True)
class CheckResult:
    """One expectation that did not pass; per-day checks also name the statistic, the day and the bounds."""

    expectation: str
    column: str | None
    severity: str
    observed: str
    statistic: str | None = None
    day: str | None = None
    bound: str | None = None

    def __str__(self) -> str:
        where = f" on {self.column}" if self.column else ""
        return f"{self.expectation}{where}: observed {self.observed}"


@dataclass(frozen=True)
class QualityReport:
    """One validation of a snapshot: the failed checks by severity, how many ran, and where the full results
    and Data Docs are.
    """

    suite: str
    success: bool
    evaluated: int
    critical: list[CheckResult] = field(default_factory=list)
    warnings: list[CheckResult] = field(default_factory=list)
    result_path: str | None = None
    docs_path: str | None = None
    day_checks: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The report's fields as a plain dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityReport:
        """The report ``to_dict`` gave."""
        checks = {key: [CheckResult(**c) for c in data.get(key, [])] for key in ("critical", "warnings")}
        return cls(**{**data, **checks})


class QualityGateFailed(PipelinesError, RuntimeError):
    """A critical expectation failed: the run must stop before training."""

    def __init__(self, report: QualityReport) -> None:
        self.report = report
        lines = "\n".join(f"  - {c}" for c in report.critical)
        docs = f"\nData Docs: {report.docs_path}" if report.docs_path else ""
        super().__init__(
            f"quality gate failed: {len(report.critical)} critical expectation(s) of suite "
            f"{report.suite!r} failed:\n{lines}{docs}"
        )
