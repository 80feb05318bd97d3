"""The bad-input catalogue: realistic upstream breakages applied to clean demo data, in the most recent days,
plus ``drift`` (valid data from a shifted population) and ``concept-shift`` (valid data, another label rule).

``python -m pipelines seed --scenario NAME`` writes clean data and then one of these on top, so each
failure mode the quality gate promises to stop can be reproduced on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.errors import InputError

TIMESTAMP, LABEL = "event_ts", "churned"


@dataclass(frozen=True)
class Scenario:
    """One breakage: its name, what it does, how many recent days by default, and how to apply it."""

    name: str
    description: str
    default_days: int
    apply: Callable[[pd.DataFrame, pd.Series, np.random.Generator], pd.DataFrame]


def _renamed(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    return frame.rename(columns={"monthly_charges": "monthly_charge"})


def _dropped(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    return frame.drop(columns=["tenure_months"])


def _type_change(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    text = frame["total_charges"].map(lambda v: f"{v:.2f}").astype(object)
    text[recent] = frame.loc[recent, "total_charges"].map(lambda v: f"{v:,.2f}".replace(",", " ").replace(".", ","))
    return frame.assign(total_charges=text)


def _null_spike(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    return frame.assign(monthly_charges=frame["monthly_charges"].mask(recent))


def _out_of_range(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    return frame.assign(age=frame["age"].where(~recent, frame["age"] * 12))


def _unknown_category(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    hit = recent & (rng.random(len(frame)) < 0.3)
    return frame.assign(plan=frame["plan"].where(~hit, "platinum_trial"))


def _duplicate_keys(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    return pd.concat([frame, frame[recent]], ignore_index=True)


def _drop_recent(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    return frame[~recent].reset_index(drop=True)


def _future(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    hit = recent & (rng.random(len(frame)) < 0.2)
    shifted = frame[TIMESTAMP].where(~hit, frame[TIMESTAMP] + pd.DateOffset(years=100))
    return frame.assign(**{TIMESTAMP: shifted})


def _covariate_shift(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    """Valid data from a changed population: prices up 10%, 15% fewer logins, most new customers in the
    north. Each mean moves less than the gate's ``min_mean_change`` (35%), so this is drift, not breakage.
    """
    north = recent & (rng.random(len(frame)) < 0.6)
    return frame.assign(
        monthly_charges=frame["monthly_charges"].where(~recent, (frame["monthly_charges"] * 1.1).round(2)),
        logins_30d=frame["logins_30d"].where(~recent, (frame["logins_30d"] * 0.85).round(0)),
        region=frame["region"].where(~north, "north"),
    )


def _concept_shift(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    """Same inputs, another rule for the label: in recent rows churn follows devices, age and usage instead of
    price, tickets and contract. As many rows churn as before, so the gate sees nothing; only a model's measured
    performance shows it.
    """
    part = frame[recent]
    logit = 0.6 * (part["num_devices"] - 3) - 0.04 * (part["age"] - 42) + 0.05 * (part["data_usage_gb"] - 20)
    noisy = logit.to_numpy() + rng.logistic(0, 0.5, len(part))
    churners = int(part[LABEL].sum())
    relabelled = np.zeros(len(part), dtype=np.int64)
    relabelled[np.argsort(-noisy, kind="stable")[:churners]] = 1
    labels = frame[LABEL].copy()
    labels[recent] = relabelled
    return frame.assign(**{LABEL: labels})


def _single_class(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    return frame.assign(**{LABEL: frame[LABEL].where(~recent, 0)})


def _unit_change(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    """Most recent rows in another unit (x1.609, as miles sent as km): still in range, only the level moves."""
    hit = recent & (rng.random(len(frame)) < 0.9)
    minutes = frame["avg_session_minutes"]
    return frame.assign(avg_session_minutes=minutes.where(~hit, (minutes * 1.609).round(1)))


def _null_spike_recent(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    hit = recent & (rng.random(len(frame)) < 0.4)
    return frame.assign(avg_session_minutes=frame["avg_session_minutes"].mask(hit))


def _all_null(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    return frame.assign(discount_pct=frame["discount_pct"].mask(recent))


def _infinite(frame: pd.DataFrame, recent: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    """Five ±inf values (a division by zero upstream): far fewer than the suite's ``mostly`` lets through."""
    rows = rng.choice(np.flatnonzero(recent.to_numpy()), size=min(5, int(recent.sum())), replace=False)
    charges = frame["total_charges"].to_numpy(dtype=float, copy=True)
    charges[rows] = np.where(np.arange(len(rows)) % 2 == 0, np.inf, -np.inf)
    return frame.assign(total_charges=charges)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("renamed-column", "monthly_charges renamed to monthly_charge upstream", 7, _renamed),
        Scenario("dropped-column", "tenure_months dropped from the table", 7, _dropped),
        Scenario("type-change", "total_charges turned to text, recent rows like '1 234,50'", 7, _type_change),
        Scenario("null-spike", "monthly_charges missing in every recent row", 7, _null_spike),
        Scenario("out-of-range", "age sent in months instead of years in recent rows", 7, _out_of_range),
        Scenario("unknown-category", "plan 'platinum_trial' in 30% of recent rows", 7, _unknown_category),
        Scenario("duplicate-keys", "recent rows duplicated, as by a fanning-out join", 7, _duplicate_keys),
        Scenario("empty-window", "no rows at all in the recent days (more than a window)", 60, _drop_recent),
        Scenario("stale", "the feed stopped: nothing in the last days", 3, _drop_recent),
        Scenario("future-timestamps", "20% of recent rows stamped 100 years ahead", 7, _future),
        Scenario("single-class", "every recent label is 0 (a broken label join)", 60, _single_class),
        Scenario(
            "unit-change-last-day",
            "avg_session_minutes x1.609 (another unit) in 90% of the last day's rows",
            1,
            _unit_change,
        ),
        Scenario(
            "labels-zero-last-days", "every label of the last 2 days is 0 (labels not joined yet)", 2, _single_class
        ),
        Scenario(
            "null-spike-last-day", "avg_session_minutes missing in 40% of the last day's rows", 1, _null_spike_recent
        ),
        Scenario("all-null-feature", "discount_pct NULL in every row (a feature no longer filled)", 3650, _all_null),
        Scenario("infinite-values", "five ±inf values in total_charges in the last day", 1, _infinite),
        Scenario(
            "concept-shift",
            "valid inputs, labels follow another rule (devices, age, usage): only measured performance falls",
            30,
            _concept_shift,
        ),
        Scenario(
            "drift",
            "covariate shift, data still valid: monthly_charges x1.1, logins_30d -15%, region mostly 'north'",
            7,
            _covariate_shift,
        ),
    )
}


def apply_scenario(frame: pd.DataFrame, name: str, days: int | None = None, seed: int = 0) -> pd.DataFrame:
    """``frame`` with scenario ``name`` applied to its last ``days`` days (the scenario's default if None)."""
    if name not in SCENARIOS:
        raise InputError(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}")
    scenario = SCENARIOS[name]
    days = days or scenario.default_days
    if days < 1:
        raise InputError("scenario days must be at least 1")
    last_day = frame[TIMESTAMP].max().normalize()
    recent = frame[TIMESTAMP] >= last_day - pd.Timedelta(days=days - 1)
    return scenario.apply(frame, recent, np.random.default_rng(seed))
