"""Land reference rates into ``landing/fx_rates/date=D/`` (one file per day and source).

A day is landed once: when its folder already holds a file (the simulator's demo rates, an
earlier pull) nothing is landed again, so a rate id is never duplicated across files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import orjson

from fintech_dataops.lib.ingestion.landing import land_lines, landed_files
from fintech_dataops.lib.money.feed import FX_RATES_FEED
from fintech_dataops.lib.money.rates import RATE_DECIMALS, RateHistory, day_records

SIMULATED = "simulated"


@dataclass(frozen=True)
class LandedRates:
    day: date
    records: int
    path: Path | None
    note: str


def land_day(landing_dir: Path, history: RateHistory, day: date) -> LandedRates:
    """Land the rates ``history`` publishes for ``day`` (nothing on weekends, holidays, after its last day)."""
    if landed_files(landing_dir, FX_RATES_FEED.name, day):
        return LandedRates(day, 0, None, "already landed")
    records = day_records(history, day)
    if not records:
        last = history.last_day
        why = "after the source's last published day " + str(last) if last and day > last else "no publication that day"
        return LandedRates(day, 0, None, why)
    path = land_lines(landing_dir, FX_RATES_FEED.name, day, f"{history.source.lower()}-{day.isoformat()}",
                      (orjson.dumps(r).decode() for r in records))
    return LandedRates(day, len(records), path, history.source)


def simulated_history(history: RateHistory, days: list[date], seed: int) -> RateHistory:
    """Demo-only rates for the TARGET business days of ``days`` the real history does not cover.

    Each currency follows a seeded random walk (0.4 % daily volatility) from its last real ECB
    quote; every record says ``source = simulated``, so nobody mistakes it for a published rate.
    Days the real history covers keep their real rates.
    """
    last = history.last_day
    if last is None:
        return RateHistory(days={}, source=SIMULATED)
    anchor = history.days[last]
    rng = np.random.default_rng([seed, 4217])
    level = {c: float(v) for c, v in anchor.items()}
    out: dict[date, dict[str, str]] = {}
    day = last + timedelta(days=1)
    end = max(days) if days else last
    wanted = set(days)
    while day <= end:
        if is_target_business_day(day):
            for currency in sorted(level):
                level[currency] *= float(np.exp(rng.normal(0.0, 0.004)))
            if day in wanted and day not in history.days:
                digits = {c: _published_digits(anchor[c]) for c in level}
                out[day] = {c: f"{round(v, digits[c]):.{digits[c]}f}" for c, v in level.items()}
        day += timedelta(days=1)
    return RateHistory(days=out, source=SIMULATED)


def _published_digits(text: str) -> int:
    """Keep the ECB's own precision per currency (USD 4 decimals, JPY 2, IDR 2), at most RATE_DECIMALS."""
    return min(len(text.split(".", 1)[1]) if "." in text else 0, RATE_DECIMALS)


def is_target_business_day(day: date) -> bool:
    """Weekdays except the fixed TARGET closing days (1 Jan, 1 May, 25-26 Dec); Easter is not modelled."""
    return day.weekday() < 5 and (day.month, day.day) not in {(1, 1), (5, 1), (12, 25), (12, 26)}
