"""Quality gate: run a model's GX Core suite (from ``expectations/``) on a snapshot, and per-day checks.

Suites are versioned in git as JSON; each run syncs the suite into a file-based GX context in the
state folder and validates the snapshot as an in-memory dataframe. Severity comes from the
expectation's ``meta.severity`` (or GX's own ``severity`` field): ``critical`` blocks, ``warning``
is reported.

A window's average hides a problem confined to its last day, so the gate also validates a small per-day
aggregate of the snapshot (``day_checks``: one row per day, column and statistic, with its observed value
and the bounds it must lie within) with a generated suite ``<suite>__daily``. What it checks, for every
suite, from the config's column lists and ``quality.daily``:

- no two rows share the values of ``columns.unique_key`` (default: the entity key; added to the suite
  itself, critical);
- every feature and the label has at least one non-null value in the window, and no day has a ±inf value
  in a numeric column (always, critical);
- each day of the window (UTC days, from the first with data): its row count, each column's null rate, each
  numeric column's mean and the label's rate (binary) or mean (regression) against the typical earlier day;
- the newest increment (the last ``newest_days`` days together) against the days before it, with its own
  tolerance (a one-day increment is judged by this check only).

Bounds, per statistic: the typical value is the median of the earlier days (of the same weekday, with
``weekly`` and enough days); a value passes within ``tolerance`` noise units of it, where the noise is the
larger of the days' robust spread (1.4826 x MAD) and the day's own sampling error (rates are compared on
the arcsine-square-root scale, where that error is 1/(2 sqrt n)), or within the minimum change
(``min_rows_change``, ``min_rate_change``, ``min_mean_change``), whichever is wider. A day's row count
also stays within ``min_rows_per_day`` .. ``max_rows_per_day``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from pipelines.config import settings
from pipelines.config.schema import DailyChecksConfig, ModelConfig
from pipelines.data.ingest import Snapshot, load
from pipelines.data.windows import Window
from pipelines.errors import PipelinesError

log = logging.getLogger(__name__)

DAILY_COLUMNS = ("check", "day", "column", "statistic", "observed", "low", "high", "typical")
MIN_REFERENCE_DAYS = 7  # fewer earlier days with data: no relative checks (too little history to judge by)
SAME_WEEKDAY_DAYS = 2  # earlier days of each weekday needed to compare a day with its own weekday
_MAD_TO_SD = 1.4826

Kind = Literal["rows", "rate", "mean"]


class SuiteNotFound(PipelinesError, FileNotFoundError):
    """The suite named in a model config has no JSON file in the expectations folder."""


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
    suite: str
    success: bool
    evaluated: int
    critical: list[CheckResult] = field(default_factory=list)
    warnings: list[CheckResult] = field(default_factory=list)
    result_path: str | None = None
    docs_path: str | None = None
    day_checks: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityReport:
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
    columns, or when the suite has that very check already)."""
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


def result_path(cfg: ModelConfig, snapshot: Snapshot) -> Path:
    """Where ``validate`` writes the snapshot's report and full GX result (JSON, next to the snapshot)."""
    return Path(snapshot.path).with_suffix(f".{cfg.quality.suite}.validation.json")


def saved_report(cfg: ModelConfig, snapshot: Snapshot) -> QualityReport | None:
    """The report ``validate`` saved for this snapshot, or None when it was never validated."""
    path = result_path(cfg, snapshot)
    return QualityReport.from_dict(json.loads(path.read_text())["report"]) if path.exists() else None


def validate(cfg: ModelConfig, snapshot: Snapshot) -> QualityReport:
    """Validate the snapshot against the model's suite and its per-day checks; never raises for failed checks.

    The GX file context lives next to the snapshot, in its window's folder, so concurrent runs of other
    windows or models never share GX state. The full validation results are written next to the snapshot and
    rendered into Data Docs (``<window folder>/data_docs``); the report carries both paths.
    """
    frame = load(snapshot)
    days = day_checks(cfg, frame, snapshot.window)
    result_file = result_path(cfg, snapshot)
    report, full_result, docs_path = run_suite(
        cfg.quality.suite,
        frame,
        cfg.name,
        Path(snapshot.path).parent,
        suite_parameters(cfg, snapshot),
        days=days,
        day_severity=cfg.quality.daily.severity,
        unique=cfg.columns.unique_columns,
    )
    report = replace(report, result_path=str(result_file), docs_path=docs_path)
    result_file.write_text(json.dumps({"report": report.to_dict(), **full_result}, indent=2, default=str))
    log.info(
        "quality gate %s: suite %s, %d expectations and %d per-day checks, %d critical and %d warning(s) failed",
        "passed" if report.success else "FAILED",
        report.suite,
        report.evaluated,
        report.day_checks,
        len(report.critical),
        len(report.warnings),
    )
    return report


@contextmanager
def quiet_gx() -> Iterator[None]:
    """GX logs hundreds of INFO lines per validation (registrations at import, config dumps): while inside,
    only its warnings and errors get through."""
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

    Returns the compact report, GX's full results as JSON (``result``, ``day_result``) and the suite's Data
    Docs page (``project_dir/data_docs``).
    """
    with quiet_gx():
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="file", project_root_dir=str(project_dir))
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        built: list[Any] = []  # what Data Docs renders: the new results, and suites stored anew
        identifier, result = _run_checkpoint(
            context,
            asset_name,
            with_unique_key(load_suite_dict(suite_name), unique),
            frame,
            "SUMMARY",
            built,
            parameters,
        )
        report = _report(suite_name, result)
        full = {"result": result.to_json_dict()}
        if days is not None and len(days):
            day_suite = daily_suite_dict(suite_name, day_severity)
            day_format = {"result_format": "COMPLETE", "unexpected_index_column_names": list(DAILY_COLUMNS)}
            _, day_result = _run_checkpoint(context, f"{asset_name}_days", day_suite, days, day_format, built)
            report = _with_day_results(report, day_result, len(days))
            full["day_result"] = day_result.to_json_dict()
        site = _docs_site(context, project_dir)
        context.build_data_docs(site_names=[site], resource_identifiers=built)
        urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=site)
    docs_path = next((u["site_url"] for u in urls if u.get("site_url")), None)
    return report, full, docs_path


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
    result_format: Literal["SUMMARY", "COMPLETE"] | dict[str, Any],
    built: list[Any],
    parameters: dict[str, Any] | None = None,
) -> tuple[Any, Any]:
    """Validate ``frame`` with the suite through a checkpoint; returns GX's result identifier and result, and
    appends what Data Docs must render to ``built``."""
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
    there is none or it no longer loads (then it is written anew)."""
    from great_expectations.exceptions import DataContextError

    try:
        return factory.get(name)
    except (DataContextError, ValueError):  # pydantic's ValidationError is a ValueError
        return None


def _synced_suite(context: Any, suite_dict: dict[str, Any]) -> tuple[Any, bool]:
    """The context's copy of the suite, and whether it was stored anew: replaced only when the JSON changed
    (GX's own update compares every expectation with every stored one: seconds for a large suite)."""
    from great_expectations.core import ExpectationSuite

    digest = hashlib.sha256(json.dumps(suite_dict, sort_keys=True, default=str).encode()).hexdigest()
    stored = _stored(context.suites, suite_dict["name"])
    if stored is not None and (stored.meta or {}).get("source_sha256") == digest:
        return stored, False
    if stored is not None:
        context.suites.delete(suite_dict["name"])
    meta = {**suite_dict.get("meta", {}), "source_sha256": digest}
    return context.suites.add(ExpectationSuite(**{**suite_dict, "meta": meta})), True


def _report(suite_name: str, result: Any) -> QualityReport:
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


def _with_day_results(report: QualityReport, result: Any, evaluated: int) -> QualityReport:
    """The report with the per-day checks that failed appended after the suite's: window-wide first, then the
    newest increment, then earlier days, most recent first."""
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


# --- per-day checks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Series:
    """One statistic of one column per day of the window: ``numerator / denominator`` (NaN where 0)."""

    column: str
    statistic: str
    kind: Kind
    numerator: np.ndarray
    denominator: np.ndarray
    spread_per_row: float = 0.0  # standard deviation of one value (means): a day's sampling error is it / sqrt(n)

    @property
    def values(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.denominator > 0, self.numerator / np.maximum(self.denominator, 1), np.nan)


def day_checks(cfg: ModelConfig, frame: pd.DataFrame, window: Window) -> pd.DataFrame:
    """The per-day aggregate of a snapshot that the gate validates: one row per check with ``DAILY_COLUMNS``.

    ``check`` is ``window`` (whole window), ``day`` (one day) or ``newest`` (the newest increment as a whole);
    ``day`` the ISO day (or ``first..last``); ``column`` the data column (``*`` for row counts);
    ``statistic`` one of ``rows``, ``null_rate``, ``mean``, ``label_rate``, ``infinite``, ``non_null``; the
    row passes when ``low <= observed <= high``; ``typical`` is what the bounds are centred on. Days run from
    the window's first day with data to its last day: a day without rows inside that span counts as 0 rows.
    Rows outside the window (future timestamps) are left to the suite.
    """
    rows: list[tuple[Any, ...]] = []
    columns = [c for c in (*cfg.columns.features, cfg.columns.label) if c in frame.columns]
    codes = _day_codes(frame, cfg.columns.timestamp, window)
    if codes is not None and (codes < 0).any():
        frame, codes = frame[codes >= 0], codes[codes >= 0]
    span = f"{window.start.isoformat()}..{window.last_day.isoformat()}"
    total = len(frame)
    rows.append(("window", span, "*", "rows", total, 1, max(total, 1), np.nan))
    for column in columns if total else ():
        rows.append(("window", span, column, "non_null", int(frame[column].notna().sum()), 1, total, np.nan))
    if codes is None or not total:
        return pd.DataFrame(rows, columns=list(DAILY_COLUMNS))
    first = int(codes.min())
    index = codes - first
    first_day = window.start + timedelta(days=first)
    n_days = (window.end - first_day).days
    days = [(first_day + timedelta(days=i)).isoformat() for i in range(n_days)]
    counts = np.bincount(index, minlength=n_days).astype(float)
    series = [_Series("*", "rows", "rows", counts, np.ones(n_days))]
    for column in columns:
        values = frame[column]
        nulls = np.bincount(index, weights=values.isna().to_numpy(), minlength=n_days)
        series.append(_Series(column, "null_rate", "rate", nulls, counts))
        if not pd.api.types.is_numeric_dtype(values.dtype):
            continue
        numbers = values.to_numpy(dtype="float64", na_value=np.nan)
        infinite = np.bincount(index, weights=np.isinf(numbers).astype(float), minlength=n_days)
        rows += [("day", days[d], column, "infinite", infinite[d], 0, 0, np.nan) for d in range(n_days) if counts[d]]
        series.append(_mean_series(column, cfg, numbers, index, n_days))
    if cfg.quality.daily.enabled:
        rows += _relative_rows(series, days, first_day, cfg)
    return pd.DataFrame(rows, columns=list(DAILY_COLUMNS))


def _day_codes(frame: pd.DataFrame, timestamp: str, window: Window) -> np.ndarray | None:
    """Each row's day as an offset from the window's start, -1 outside the window; None without timestamps."""
    if timestamp not in frame.columns or not pd.api.types.is_datetime64_any_dtype(frame[timestamp].dtype):
        return None
    stamps = frame[timestamp]
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    day = stamps.to_numpy().astype("datetime64[D]")
    offset = (day - np.datetime64(window.start, "D")).astype("int64")
    valid = ~np.isnat(day) & (offset >= 0) & (offset < (window.end - window.start).days)
    return np.where(valid, offset, -1)


def _mean_series(column: str, cfg: ModelConfig, numbers: np.ndarray, index: np.ndarray, n_days: int) -> _Series:
    """Daily means of the finite values (a binary label's: its rate), with the values' standard deviation."""
    finite = np.isfinite(numbers)
    kept = np.where(finite, numbers, 0.0)
    sums = np.bincount(index, weights=kept, minlength=n_days)
    count = np.bincount(index, weights=finite, minlength=n_days)
    n = count.sum()
    spread = float(np.sqrt(max(np.dot(kept, kept) / n - (sums.sum() / n) ** 2, 0.0))) if n > 1 else 0.0
    binary = column == cfg.columns.label and cfg.task == "binary"
    return _Series(column, "label_rate" if binary else "mean", "rate" if binary else "mean", sums, count, spread)


def _relative_rows(series: list[_Series], days: list[str], first_day: date, cfg: ModelConfig) -> list[tuple[Any, ...]]:
    """Rows comparing each day with the typical earlier day, and the newest increment as a whole with the days
    before it; only the row-count limits when fewer than ``MIN_REFERENCE_DAYS`` earlier days hold data."""
    daily = cfg.quality.daily
    n_days = len(days)
    newest = min(daily.newest_days, n_days)
    earlier = n_days - newest
    weekdays = np.array([(first_day + timedelta(days=i)).weekday() for i in range(n_days)])
    limits = (float(cfg.quality.min_rows_per_day), float(cfg.quality.max_rows_per_day))
    span = days[-1] if newest == 1 else f"{days[earlier]}..{days[-1]}"
    checked_days = earlier if newest == 1 else n_days  # a one-day increment's own check is its day check
    rows: list[tuple[Any, ...]] = []
    for s in series:
        values = s.values
        scaled = _scale(values, s.kind)
        known = np.flatnonzero(np.isfinite(scaled[:earlier]))
        if known.size < MIN_REFERENCE_DAYS:
            if s.kind == "rows":
                rows += [("day", days[d], "*", "rows", values[d], *limits, np.nan) for d in range(n_days)]
            continue
        centres = _centres(scaled, known, weekdays, daily)
        spread = _MAD_TO_SD * float(np.median(np.abs(scaled[known] - centres[known])))
        for d in np.flatnonzero(np.isfinite(scaled[:checked_days])):
            noise = max(spread, _sampling_error(s, s.denominator[d]))
            low, high = _bounds(s.kind, centres[d], daily.tolerance * noise, daily, limits)
            rows.append(("day", days[d], s.column, s.statistic, values[d], low, high, _unscale(centres[d], s.kind)))
        numerator, denominator = s.numerator[earlier:].sum(), s.denominator[earlier:].sum()
        if denominator <= 0:
            continue
        pooled = numerator / denominator
        centre = float(np.mean(centres[earlier:]))
        noise = max(spread / np.sqrt(newest), _sampling_error(s, denominator))
        low, high = _bounds(s.kind, centre, daily.newest_tolerance * noise, daily, limits)
        rows.append(("newest", span, s.column, s.statistic, pooled, low, high, _unscale(centre, s.kind)))
    return rows


def _scale(values: np.ndarray, kind: Kind) -> np.ndarray:
    """Rates on the arcsine-square-root scale, where their sampling error no longer depends on the rate."""
    return np.arcsin(np.sqrt(np.clip(values, 0, 1))) if kind == "rate" else values


def _unscale(value: float, kind: Kind) -> float:
    return float(np.sin(np.clip(value, 0, np.pi / 2)) ** 2) if kind == "rate" else float(value)


def _centres(scaled: np.ndarray, known: np.ndarray, weekdays: np.ndarray, daily: DailyChecksConfig) -> np.ndarray:
    """The typical value for each day: the median of the earlier days, of the same weekday when asked and
    each weekday has ``SAME_WEEKDAY_DAYS`` of them."""
    overall = np.full(len(scaled), float(np.median(scaled[known])))
    if not daily.weekly:
        return overall
    per_weekday = {w: scaled[known[weekdays[known] == w]] for w in range(7)}
    if min(len(v) for v in per_weekday.values()) < SAME_WEEKDAY_DAYS:
        return overall
    medians = {w: float(np.median(v)) for w, v in per_weekday.items()}
    return np.array([medians[w] for w in weekdays])


def _sampling_error(s: _Series, n: float) -> float:
    """The sampling error of the statistic over ``n`` rows (on the scale it is compared on)."""
    if n <= 0 or s.kind == "rows":
        return 0.0
    return 1 / (2 * np.sqrt(n)) if s.kind == "rate" else s.spread_per_row / np.sqrt(n)


def _bounds(
    kind: Kind, centre: float, margin: float, daily: DailyChecksConfig, limits: tuple[float, float]
) -> tuple[float, float]:
    """The noise band around ``centre`` (on the compared scale), widened to the minimum change, as values."""
    typical = _unscale(centre, kind)
    if kind == "rate":
        low = min(_unscale(max(centre - margin, 0), kind), typical - daily.min_rate_change)
        high = max(_unscale(min(centre + margin, np.pi / 2), kind), typical + daily.min_rate_change)
        return max(low, 0.0), min(high, 1.0)
    floor = (daily.min_rows_change if kind == "rows" else daily.min_mean_change) * abs(typical)
    low, high = centre - max(margin, floor), centre + max(margin, floor)
    if kind == "rows":
        low, high = max(low, limits[0], 0.0), min(high, limits[1])
        high = max(high, low)
    return float(low), float(high)
