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
features over one, or prediction drift); ``confirmation.confirm`` then decides whether it acts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

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

Status = Literal["ok", "warn", "act"]
NEW_VALUES_SHOWN = 10


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray, eps: float = 1e-4) -> float:
    """Population stability index of two histograms on the same bins; shares are floored at ``eps``."""
    p = np.maximum(shares(ref_counts), eps)
    q = np.maximum(shares(cur_counts), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_binned(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Largest gap between the two empirical CDFs at the bins' edges (KS of the binned samples)."""
    ref_cdf = np.cumsum(ref_counts) / np.sum(ref_counts)
    cur_cdf = np.cumsum(cur_counts) / np.sum(cur_counts)
    return float(np.max(np.abs(ref_cdf - cur_cdf)))


def js_distance(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2: 0 for equal distributions, 1 for disjoint ones."""
    p, q = shares(ref_counts), shares(cur_counts)
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
        """The report as JSON-ready values."""
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


def shares(counts: np.ndarray | Sequence[int]) -> np.ndarray:
    """Counts as shares of their total."""
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
        f"{name}: {stats['new_share']:.1%} of rows have values never seen in the reference ({listed_new_values(stats)})"
        for name, stats in features.items()
        if stats.get("new_share")
    ]


def listed_new_values(stats: dict[str, Any]) -> str:
    """The values a categorical feature's reference never had, the most common first, and how many more."""
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
