"""Drift: the current window against the champion's reference profile, judged by the config's policy.

Statistics, all from one vectorised sweep over each current column (a sort of a numeric column, a hash
count of a categorical one; ``profile.py`` does the binning), no per-row Python:

- PSI on the reference's quantile bins (numeric features, the model's scores) or categories;
- KS for numeric features, on the profile's quantile sketch: the largest gap between the reference and
  current CDFs at the sketch's cut points. That is the two-sample KS statistic of the binned reference,
  a lower bound of the exact statistic, computed without the reference rows; it falls short by at most
  the largest share (reference or current) in one sketch bin, about 0.01 for 100 quantiles and small shifts;
- Jensen-Shannon distance (base 2) and the chi-squared test of homogeneity for categorical features
  (the p-value is reported only: with large windows it flags negligible shifts);
- the change in missing rate. The distribution statistics compare present values only;
- for categorical features, the share of current rows whose value the reference never had (``new_share``)
  and the most common of those values (``new_values``); a non-zero share is listed among the reasons.

A check sees drift when the policy says so (a key feature over an act threshold, too large a share of
features over one, or prediction drift); ``confirm`` then requires it in consecutive checks and holds
it back during the cooldown after a drift-triggered retrain.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pipelines.config.drift import DriftConfig, DriftThresholds
from pipelines.data.profile import (
    CategoricalProfile,
    NumericProfile,
    Profile,
    numeric_values,
    require_columns,
    score_values,
)
from pipelines.errors import NoData
from pipelines.registry import db

Status = Literal["ok", "warn", "act"]
NEW_VALUES_SHOWN = 10
_UPSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray, eps: float = 1e-4) -> float:
    """Population stability index of two histograms on the same bins; shares are floored at ``eps``."""
    p = np.maximum(_shares(ref_counts), eps)
    q = np.maximum(_shares(cur_counts), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_binned(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Largest gap between the two empirical CDFs at the bins' edges (KS of the binned samples)."""
    ref_cdf = np.cumsum(ref_counts) / np.sum(ref_counts)
    cur_cdf = np.cumsum(cur_counts) / np.sum(cur_counts)
    return float(np.max(np.abs(ref_cdf - cur_cdf)))


def js_distance(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2: 0 for equal distributions, 1 for disjoint ones."""
    p, q = _shares(ref_counts), _shares(cur_counts)
    m = (p + q) / 2
    divergence = (_kl2(p, m) + _kl2(q, m)) / 2
    return float(np.sqrt(max(divergence, 0.0)))


def chi2_homogeneity(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Chi-squared statistic and p-value of "both samples come from one distribution"."""
    from scipy.special import chdtrc

    table = np.vstack([ref_counts, cur_counts]).astype("float64")
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(chdtrc(table.shape[1] - 1, statistic))


@dataclass(frozen=True)
class DriftReport:
    """One check: per-feature statistics and status, and this check's verdict before ``confirm``."""

    drift: bool
    features: dict[str, dict[str, Any]]
    drifted: list[str]
    prediction_psi: float | None
    reasons: list[str]
    rows: int
    reference_rows: int
    prediction_counts: list[int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def drift_report(
    profile: Profile, current: pd.DataFrame, predictions: np.ndarray | None, cfg: DriftConfig
) -> DriftReport:
    """Compare the current window (and the champion's scores on it) with the reference profile."""
    if current.empty:
        raise NoData("the current window has no rows: nothing to compare with the reference")
    require_columns(current, profile.features, "current data")
    named = {*cfg.policy.key_features, *cfg.thresholds.features}
    unknown = sorted(named - set(profile.features))
    if unknown:
        raise ValueError(f"drift config names features the profile lacks: {', '.join(unknown)}")

    features: dict[str, dict[str, Any]] = {}
    for name, numeric in profile.numeric.items():
        features[name] = _numeric_stats(numeric, numeric_values(current, name), cfg.thresholds.for_feature(name))
    for name, categorical in profile.categorical.items():
        features[name] = _categorical_stats(categorical, current[name], cfg.thresholds.for_feature(name))

    prediction_psi, prediction_counts = None, None
    if predictions is not None:
        counts, _, _ = profile.predictions.histogram(score_values(predictions))
        prediction_counts = counts.tolist()
        if _both_present(profile.predictions.counts, counts):
            prediction_psi = psi(np.asarray(profile.predictions.counts), counts)

    drifted = [name for name, stats in features.items() if stats["status"] == "act"]
    reasons = _verdict(features, drifted, prediction_psi, cfg)
    return DriftReport(
        drift=bool(reasons),
        features=features,
        drifted=drifted,
        prediction_psi=prediction_psi,
        reasons=[*(reasons or [_no_drift(features, drifted, prediction_psi, cfg)]), *_new_value_notes(features)],
        rows=len(current),
        reference_rows=profile.n_rows,
        prediction_counts=prediction_counts,
    )


@dataclass(frozen=True)
class CheckRecord:
    """A past check as remembered between runs: when, whether it saw drift, whether it triggered a retrain."""

    time: datetime
    drift: bool
    triggered: bool = False

    def __post_init__(self) -> None:
        _require_aware(self.time)


@dataclass(frozen=True)
class Confirmation:
    """Whether this check confirms drift (and so may trigger a retrain), and why."""

    confirmed: bool
    reason: str
    consecutive: int
    cooldown_until: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cooldown_until"] = self.cooldown_until.isoformat() if self.cooldown_until else None
        return data


def confirm(history: Sequence[CheckRecord], report: DriftReport, cfg: DriftConfig, now: datetime) -> Confirmation:
    """Drift is confirmed after ``consecutive_checks`` checks in a row with drift, outside the cooldown.

    Only records before ``now`` (the check's logical time) count, so re-running a check gives the same answer.
    """
    _require_aware(now)
    earlier = sorted((r for r in history if r.time < now), key=lambda r: r.time)
    if not report.drift:
        return Confirmation(False, "no drift in this check", 0)
    streak = 1
    for record in reversed(earlier):
        if not record.drift:
            break
        streak += 1
    needed = cfg.policy.consecutive_checks
    if streak < needed:
        return Confirmation(False, f"{streak} of {needed} consecutive checks with drift", streak)
    seen = f"drift in {streak} consecutive checks" if streak > 1 else "drift in this check"
    triggers = [r.time for r in earlier if r.triggered]
    if triggers:
        until = max(triggers) + timedelta(hours=cfg.policy.cooldown_hours)
        if now < until:
            return Confirmation(
                False,
                f"{seen}, but in cooldown until {until.isoformat()} (drift-triggered retrain at {max(triggers).isoformat()})",
                streak,
                until,
            )
    return Confirmation(True, seen, streak)


class DriftHistory:
    """The check records of one model in the pipeline's database (``db.DRIFT_CHECKS``), shared by every worker.

    A re-run of a check (same model and time) replaces its earlier record. Times are stored as UTC instants;
    a record's ``triggered`` is the table's ``confirmed`` column.
    """

    def __init__(self, model: str, engine: sa.Engine | None = None) -> None:
        self.model = model
        self._engine = engine

    def append(self, record: CheckRecord) -> None:
        """Record a check, replacing any earlier record of the same time in one statement (``ON CONFLICT``
        on PostgreSQL and SQLite; elsewhere a delete and an insert in one transaction)."""
        moment = record.time.astimezone(UTC)
        row = {"model": self.model, "checked_at": moment, "drift": record.drift, "confirmed": record.triggered}
        engine = self._db()
        with engine.begin() as conn:
            for statement in _replacing(engine.dialect.name, row):
                conn.execute(statement)

    def records(self) -> list[CheckRecord]:
        """Every record of the model, oldest first."""
        table = db.DRIFT_CHECKS
        query = sa.select(table.c.checked_at, table.c.drift, table.c.confirmed).where(table.c.model == self.model)
        with self._db().connect() as conn:
            rows = conn.execute(query.order_by(table.c.checked_at)).all()
        return [CheckRecord(_utc(at), bool(drift), bool(confirmed)) for at, drift, confirmed in rows]

    def _db(self) -> sa.Engine:
        return self._engine or db.engine()


def _replacing(dialect: str, row: dict[str, Any]) -> list[sa.Executable]:
    """Statements that insert a check record or replace the one of the same model and time."""
    table = db.DRIFT_CHECKS
    upsert = _UPSERTS.get(dialect)
    if upsert is None:
        same = (table.c.model == row["model"]) & (table.c.checked_at == row["checked_at"])
        return [table.delete().where(same), table.insert().values(**row)]
    insert = upsert(table).values(**row)
    return [
        insert.on_conflict_do_update(
            index_elements=[table.c.model, table.c.checked_at],
            set_={"drift": insert.excluded.drift, "confirmed": insert.excluded.confirmed},
        )
    ]


def render_html(report: DriftReport, profile: Profile, title: str = "Drift report") -> str:
    """A self-contained page: verdict, a sortable table and one reference-vs-current plot per feature."""
    rows = []
    severity = {"act": 0, "warn": 1, "ok": 2}
    ranked = sorted(report.features.items(), key=lambda kv: (severity[kv[1]["status"]], -(kv[1]["psi"] or 0.0)))
    for name, stats in ranked:
        if name in profile.numeric:
            numeric = profile.numeric[name]
            plot = _bar_plot(name, _bin_labels(numeric.edges), numeric.counts, stats["counts"])
        else:
            categorical = profile.categorical[name]
            plot = _bar_plot(name, categorical.labels, categorical.counts, stats["counts"])
        cells = [
            html.escape(name),
            stats["kind"],
            f'<span class="{stats["status"]}">{stats["status"]}</span>',
            *(_fmt(stats.get(key)) for key in ("psi", "ks", "js", "chi2_p")),
            *(_fmt(stats[key]) for key in ("missing_rate_ref", "missing_rate_cur", "missing_delta")),
            _new_cell(stats),
            html.escape("; ".join(stats["over"])),
            f'<img alt="{html.escape(name)}" src="data:image/png;base64,{plot}">',
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    headers = [
        *("feature", "kind", "status", "PSI", "KS", "JS", "chi2 p"),
        *("missing ref", "missing cur", "missing delta", "new values", "over an act threshold"),
    ]
    prediction = ""
    if report.prediction_counts is not None:
        edges = _bin_labels(profile.predictions.edges)
        plot = _bar_plot("scores", edges, profile.predictions.counts, report.prediction_counts)
        prediction = (
            f"<h2>Model scores: PSI {_fmt(report.prediction_psi)}</h2>"
            f'<img alt="scores" src="data:image/png;base64,{plot}">'
        )
    verdict = "DRIFT" if report.drift else "no drift"
    return _PAGE.format(
        title=html.escape(title),
        verdict_class="act" if report.drift else "ok",
        verdict=verdict,
        rows_cur=report.rows,
        rows_ref=report.reference_rows,
        reasons="".join(f"<li>{html.escape(r)}</li>" for r in report.reasons),
        prediction=prediction,
        headers="".join(f'<th onclick="sortBy({i})">{h}</th>' for i, h in enumerate(headers))
        + "<th>reference vs current</th>",
        rows="\n".join(rows),
    )


def _shares(counts: np.ndarray | Sequence[int]) -> np.ndarray:
    values = np.asarray(counts, dtype="float64")
    return values / values.sum()


def _kl2(p: np.ndarray, m: np.ndarray) -> float:
    present = p > 0
    return float(np.sum(p[present] * np.log2(p[present] / m[present])))


def _both_present(ref_counts: Sequence[int], cur_counts: np.ndarray) -> bool:
    """Distribution statistics need present values on both sides."""
    return sum(ref_counts) > 0 and int(cur_counts.sum()) > 0


def _missing(ref_rate: float, missing: int, rows: int) -> dict[str, float]:
    cur_rate = missing / rows
    return {"missing_rate_ref": ref_rate, "missing_rate_cur": cur_rate, "missing_delta": cur_rate - ref_rate}


def _numeric_stats(ref: NumericProfile, values: np.ndarray, limits: DriftThresholds) -> dict[str, Any]:
    counts, sketch_counts, missing = ref.histogram(values)
    present = _both_present(ref.counts, counts)
    stats = {
        "kind": "numeric",
        "psi": psi(np.asarray(ref.counts), counts) if present else None,
        "ks": ks_binned(np.asarray(ref.sketch_counts), sketch_counts) if present else None,
        **_missing(ref.missing_rate, missing, len(values)),
        "counts": counts.tolist(),
    }
    return _judge(stats, limits)


def _categorical_stats(ref: CategoricalProfile, series: pd.Series, limits: DriftThresholds) -> dict[str, Any]:
    counts, missing, new = ref.histogram(series)
    present = _both_present(ref.counts, counts)
    ref_counts = np.asarray(ref.counts)
    chi2_stat, chi2_p = chi2_homogeneity(ref_counts, counts) if present else (None, None)
    stats = {
        "kind": "categorical",
        "psi": psi(ref_counts, counts) if present else None,
        "js": js_distance(ref_counts, counts) if present else None,
        "chi2": chi2_stat,
        "chi2_p": chi2_p,
        **_missing(ref.missing_rate, missing, len(series)),
        **_new_values(new, len(series)),
        "counts": counts.tolist(),
    }
    return _judge(stats, limits)


def _new_values(new: pd.Series | None, rows: int) -> dict[str, Any]:
    """Share of rows with a value the reference never had, and the most common such values (rows each)."""
    if new is None:
        return {"new_share": None, "new_distinct": None, "new_values": {}}
    ranked = sorted(new.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "new_share": float(new.sum()) / rows,
        "new_distinct": len(ranked),
        "new_values": {str(value): int(n) for value, n in ranked[:NEW_VALUES_SHOWN]},
    }


def _new_value_notes(features: dict[str, dict[str, Any]]) -> list[str]:
    """One line per feature with values the reference never had (reported, not drift by itself)."""
    return [
        f"{name}: {stats['new_share']:.1%} of rows have values never seen in the reference ({_listed(stats)})"
        for name, stats in features.items()
        if stats.get("new_share")
    ]


def _listed(stats: dict[str, Any]) -> str:
    shown = list(stats["new_values"])
    more = stats["new_distinct"] - len(shown)
    return ", ".join(shown) + (f", and {more} more" if more else "")


def _judge(stats: dict[str, Any], limits: DriftThresholds) -> dict[str, Any]:
    """Add the statistics over an act threshold ("over") and the feature's status."""
    checks = [("psi", limits.psi_act), ("ks", limits.ks_act), ("js", limits.js_act)]
    over = [f"{key} {stats[key]:.3f} > {limit:g}" for key, limit in checks if (stats.get(key) or 0.0) > limit]
    if abs(stats["missing_delta"]) > limits.missing_rate_act:
        over.append(f"missing rate {stats['missing_delta']:+.3f} beyond ±{limits.missing_rate_act:g}")
    status: Status = "act" if over else "warn" if (stats["psi"] or 0.0) > limits.psi_warn else "ok"
    return {**stats, "over": over, "status": status}


def _verdict(
    features: dict[str, dict[str, Any]], drifted: list[str], prediction_psi: float | None, cfg: DriftConfig
) -> list[str]:
    """The policy's reasons for drift in this check; empty when there is none."""
    policy = cfg.policy
    reasons = [f"key feature {k}: {'; '.join(features[k]['over'])}" for k in policy.key_features if k in drifted]
    share = len(drifted) / max(len(features), 1)
    if share > policy.max_share_drifted:
        reasons.append(
            f"{len(drifted)} of {len(features)} features ({share:.0%}) over an act threshold, "
            f"more than {policy.max_share_drifted:.0%}: {', '.join(drifted)}"
        )
    limit = cfg.thresholds.prediction_psi_act
    if policy.prediction_drift and prediction_psi is not None and prediction_psi > limit:
        reasons.append(f"prediction PSI {prediction_psi:.3f} > {limit:g}")
    return reasons


def _no_drift(
    features: dict[str, dict[str, Any]], drifted: list[str], prediction_psi: float | None, cfg: DriftConfig
) -> str:
    listed = f": {', '.join(drifted)}" if drifted else ""
    keys = f", none of the key features {', '.join(cfg.policy.key_features)}" if cfg.policy.key_features else ""
    limit = cfg.thresholds.prediction_psi_act
    scores = "" if prediction_psi is None else f"; prediction PSI {prediction_psi:.3f} (limit {limit:g})"
    return (
        f"no drift: {len(drifted)} of {len(features)} features over an act threshold{listed} "
        f"(drift above {cfg.policy.max_share_drifted:.0%}{keys}){scores}"
    )


def _utc(moment: datetime) -> datetime:
    """A stored time as a UTC instant (SQLite hands back naive UTC times)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError(f"times must be timezone-aware, got {moment.isoformat()}")


def _bin_labels(edges: Sequence[float]) -> list[str]:
    return [f"[{low:.3g}, {high:.3g})" for low, high in itertools.pairwise(edges)]


def _bar_plot(name: str, labels: Sequence[str], ref_counts: Sequence[int], cur_counts: Sequence[int]) -> str:
    """A small reference-vs-current bar chart of shares, as base64 PNG."""
    from matplotlib.figure import Figure

    positions = np.arange(len(labels))
    ref = _shares(ref_counts) if sum(ref_counts) else np.zeros(len(labels))
    cur = _shares(cur_counts) if sum(cur_counts) else np.zeros(len(labels))
    fig = Figure(figsize=(3.6, 1.9), dpi=100)
    ax = fig.subplots()
    ax.bar(positions - 0.2, ref, width=0.4, label="reference", color="#9aa5b1")
    ax.bar(positions + 0.2, cur, width=0.4, label="current", color="#3b75af")
    ax.set_xticks(positions, labels, rotation=45, ha="right", fontsize=6)
    ax.tick_params(axis="y", labelsize=6)
    ax.set_title(name, fontsize=8)
    ax.legend(fontsize=6, frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _new_cell(stats: dict[str, Any]) -> str:
    """The share of rows with values the reference never had, and those values (escaped)."""
    if not stats.get("new_share"):
        return ""
    return f"{stats['new_share']:.1%} ({html.escape(_listed(stats))})"


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #1f2933; }}
table {{ border-collapse: collapse; font-size: 0.85rem; }}
th, td {{ border-bottom: 1px solid #e4e7eb; padding: 0.3rem 0.6rem; text-align: right; vertical-align: middle; }}
td:first-child, th:first-child {{ text-align: left; }}
th {{ cursor: pointer; background: #f5f7fa; position: sticky; top: 0; }}
th:hover {{ background: #e4e7eb; }}
.ok {{ color: #2f8132; }} .warn {{ color: #b7791f; font-weight: 600; }} .act {{ color: #c53030; font-weight: 700; }}
</style></head><body>
<h1>{title}: <span class="{verdict_class}">{verdict}</span></h1>
<p>{rows_cur} current rows against {rows_ref} reference rows.</p>
<ul>{reasons}</ul>
{prediction}
<h2>Features</h2>
<table id="features"><thead><tr>{headers}</tr></thead><tbody>
{rows}
</tbody></table>
<script>
function sortBy(col) {{
  const body = document.querySelector("#features tbody");
  const rows = Array.from(body.rows);
  const asc = body.dataset.col == col && body.dataset.dir != "asc";
  const key = r => {{ const t = r.cells[col].innerText; const n = parseFloat(t); return isNaN(n) ? t : n; }};
  rows.sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0) * (asc ? 1 : -1));
  rows.forEach(r => body.appendChild(r));
  body.dataset.col = col; body.dataset.dir = asc ? "asc" : "desc";
}}
</script>
</body></html>
"""
