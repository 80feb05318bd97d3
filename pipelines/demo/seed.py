"""Synthetic demo data: daily customer snapshots with a churn label whose drivers shift slowly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa

from pipelines.config.base import IDENTIFIER
from pipelines.data.sources import make_engine
from pipelines.demo.scenarios import apply_scenario
from pipelines.errors import InputError

DEMO_TABLE = "customer_events"
DEFAULT_START = date(2026, 1, 1)
PLANS = ("basic", "standard", "premium", "family")
REGIONS = ("north", "south", "east", "west", "central")
CHANNELS = ("web", "store", "partner", "phone", "referral")
PAYMENT_METHODS = ("card", "bank_transfer", "paypal", "invoice")
DEVICE_OS = ("ios", "android", "web")


@dataclass(frozen=True)
class SeedResult:
    """What ``seed`` wrote: the table, its row count and its first and last day."""

    table: str
    rows: int
    first_day: date
    last_day: date


def generate(start: date, days: int, rows_per_day: int, seed: int) -> pd.DataFrame:
    """Build the demo table in memory; the same arguments always give the same frame."""
    if days < 1 or rows_per_day < 1:
        raise InputError("days and rows_per_day must be at least 1")
    rng = np.random.default_rng(seed)
    n = days * rows_per_day
    day_index = np.repeat(np.arange(days), rows_per_day)
    progress = day_index / max(days - 1, 1)
    seconds = rng.integers(0, 86_400, n)
    event_ts = pd.to_datetime(start) + pd.to_timedelta(day_index, unit="D") + pd.to_timedelta(seconds, unit="s")

    plan = rng.choice(PLANS, n, p=[0.35, 0.35, 0.2, 0.1])
    plan_price = pd.Series(plan).map({"basic": 20.0, "standard": 45.0, "premium": 80.0, "family": 95.0})
    tenure = rng.gamma(2.0, 12.0, n).round(0)
    monthly = (plan_price.to_numpy() * rng.normal(1.0, 0.08, n)).round(2)
    discount = np.clip(rng.exponential(6.0, n), 0, 40).round(1)
    tickets = rng.poisson(0.6 + 0.4 * (plan == "basic"), n)
    logins = rng.poisson(np.clip(25 - 0.5 * tickets * 4, 2, None), n)
    session = rng.lognormal(2.6, 0.5, n).round(1)
    since_login = np.minimum(rng.exponential(4.0, n) + 30 * (logins < 8), 120).round(0)
    failures = rng.poisson(0.25, n)
    devices = rng.integers(1, 6, n)
    usage = rng.gamma(2.0, 6.0 + 3 * devices, n).round(2)
    nps = rng.integers(0, 11, n).astype(float)
    age = np.clip(rng.normal(42, 13, n), 18, 90).round(0)
    referrals = rng.poisson(0.3, n)
    contract_months = rng.choice([1, 12, 24], n, p=[0.55, 0.3, 0.15])
    region = rng.choice(REGIONS, n)
    channel = rng.choice(CHANNELS, n, p=[0.4, 0.2, 0.15, 0.15, 0.1])
    payment = rng.choice(PAYMENT_METHODS, n, p=[0.45, 0.25, 0.2, 0.1])
    device_os = rng.choice(DEVICE_OS, n).astype(object)

    price_weight = 0.015 + 0.025 * progress
    ticket_weight = 0.55 - 0.35 * progress
    logit = (
        -1.6
        + price_weight * (monthly - 45)
        + ticket_weight * tickets
        - 0.035 * tenure
        + 0.04 * since_login
        + 0.6 * failures
        - 0.03 * discount
        - 0.15 * (nps - 5)
        - 0.8 * (contract_months == 24)
        - 0.4 * (contract_months == 12)
        + 0.35 * (payment == "invoice")
        + 0.3 * (channel == "partner")
        - 0.2 * referrals
    )
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)

    nps[rng.random(n) < 0.15] = np.nan
    session[rng.random(n) < 0.03] = np.nan
    device_os[rng.random(n) < 0.02] = None

    frame = pd.DataFrame(
        {
            "customer_id": (day_index.astype(np.int64) + 1) * 1_000_000 + np.tile(np.arange(rows_per_day), days),
            "event_ts": event_ts,
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": (monthly * np.maximum(tenure, 1)).round(2),
            "discount_pct": discount,
            "support_tickets_30d": tickets.astype(float),
            "logins_30d": logins.astype(float),
            "avg_session_minutes": session,
            "days_since_last_login": since_login,
            "payment_failures_90d": failures.astype(float),
            "num_devices": devices.astype(float),
            "data_usage_gb": usage,
            "nps_score": nps,
            "age": age,
            "referrals": referrals.astype(float),
            "contract_months": contract_months.astype(float),
            "plan": plan,
            "region": region,
            "acquisition_channel": channel,
            "payment_method": payment,
            "device_os": device_os,
            "churned": churned,
        }
    )
    return frame.sort_values(["event_ts", "customer_id"], kind="stable").reset_index(drop=True)


def write_table(frame: pd.DataFrame, url: str, table: str = DEMO_TABLE) -> int:
    """Replace ``table`` with ``frame`` (indexed on ``event_ts``) in one transaction; returns the row count."""
    if not IDENTIFIER.match(table):
        raise InputError(f"{table!r} is not a plain SQL identifier")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            frame.to_sql(table, conn, if_exists="replace", index=False, chunksize=10_000)
            quote = conn.dialect.identifier_preparer.quote
            conn.execute(sa.text(f"CREATE INDEX {quote('ix_' + table + '_ts')} ON {quote(table)} (event_ts)"))
    finally:
        engine.dispose()
    return len(frame)


def seed(
    url: str,
    start: date,
    days: int,
    rows_per_day: int,
    seed: int,
    scenario: str | None = None,
    scenario_days: int | None = None,
) -> SeedResult:
    """Write the demo dataset to ``url``, replacing what a previous seed wrote; optionally break it on purpose
    with a scenario of ``pipelines.scenarios`` applied to the most recent days.
    """
    frame = generate(start, days, rows_per_day, seed)
    if scenario is not None:
        frame = apply_scenario(frame, scenario, scenario_days, seed)
    rows = write_table(frame, url)
    return SeedResult(DEMO_TABLE, rows, start, start + timedelta(days=days - 1))
