"""The demo's money: merchants abroad charge in their own currency, and the rates the demo lands.

The simulator draws every amount in US dollars; a merchant abroad charges the equivalent in its
currency at the reference rate of the day, rounded to that currency's minor units (JPY whole yen).
The rates are the ECB's own where the bundled history covers the window, and — for the days after
it ends (the demo window is always the last 30 days) — a seeded random walk from the last real
fixing, landed with ``source = simulated`` so no one mistakes it for a published rate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import orjson

from fintech_dataops.lib.money.currencies import minor_units
from fintech_dataops.lib.money.fx import FxRates, MoneyConfig
from fintech_dataops.lib.money.landing import simulated_history
from fintech_dataops.lib.money.rates import RateHistory, day_records, load_bundled_history

# Merchants abroad: every 40th merchant is in Japan, every 97th in Bahrain (a 3-decimal currency).
ABROAD = (("JP", "JPY", 40, 3), ("BH", "BHD", 97, 5))
OPENING_DAYS = 7  # rates of the days before the window, so its first weekend converts too


@dataclass(frozen=True)
class DemoRates:
    real: RateHistory
    simulated: RateHistory
    fx: FxRates

    def records_for(self, day: dt.date) -> list[dict]:
        return day_records(self.real, day) or day_records(self.simulated, day)

    def lines_by_landing_day(self, start: dt.date, days: int) -> dict[dt.date, list[str]]:
        """JSON lines per landing day; the opening days' rates land with the window's first day."""
        out: dict[dt.date, list[str]] = {}
        for offset in range(-OPENING_DAYS, days):
            day = start + dt.timedelta(days=offset)
            records = self.records_for(day)
            if records:
                out.setdefault(max(day, start), []).extend(orjson.dumps(r).decode() for r in records)
        return out


def demo_rates(start: dt.date, days: int, seed: int) -> DemoRates:
    history = load_bundled_history()
    first = start - dt.timedelta(days=OPENING_DAYS)
    wanted = [first + dt.timedelta(days=i) for i in range(days + OPENING_DAYS)]
    real = RateHistory({d: q for d, q in history.days.items() if first <= d < start + dt.timedelta(days=days)},
                       history.source)
    simulated = simulated_history(history, wanted, seed)
    combined = RateHistory({**history.days, **simulated.days}, history.source)
    return DemoRates(real=real, simulated=simulated, fx=FxRates.from_history(combined, MoneyConfig()))


def merchant_abroad(merchant_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(country, currency) overrides for merchants abroad (None where the merchant is at home)."""
    country = np.full(len(merchant_index), None, dtype=object)
    currency = np.full(len(merchant_index), None, dtype=object)
    for code, ccy, every, offset in ABROAD:
        hit = (merchant_index % every) == offset
        country[hit], currency[hit] = code, ccy
    return country, currency


def local_amounts(usd: np.ndarray, currency: np.ndarray, event_ms: np.ndarray, fx: FxRates) -> np.ndarray:
    """Dollar amounts as charged in ``currency`` on each event's day, rounded to its minor units.

    A day without a usable rate keeps the dollar figure and the row is charged in USD by the caller.
    """
    usd = np.asarray(usd, dtype="float64")
    out = usd.copy()
    days = np.asarray(event_ms, dtype="int64") // 86_400_000
    for code in set(currency.tolist()) - {"USD"}:
        rows = np.flatnonzero(currency == code)
        per_eur = fx._leg(code, days[rows])
        usd_per_eur = fx._leg("USD", days[rows])
        value = usd[rows] / usd_per_eur * per_eur
        # amounts stay in cents-or-coarser steps the renderer writes exactly (two decimals at most)
        out[rows] = np.round(value, min(minor_units(code), 2))
    return out


def apply_currencies(transactions, labels, fx: FxRates) -> None:
    """In place: merchants abroad get their country and currency, and every amount is charged in the
    merchant's currency (converted from the simulated dollars); a label carries its transaction's amount."""
    import pandas as pd

    if not len(transactions):
        return
    merchant_index = transactions["merchant_id"].str.slice(1).astype("int64").to_numpy() - 1
    country, currency = merchant_abroad(merchant_index)
    abroad = country != None  # noqa: E711
    if abroad.any():
        transactions.loc[abroad, "country"] = country[abroad]
        transactions.loc[abroad, "currency"] = currency[abroad]
    times = pd.to_datetime(transactions["event_time"], utc=True).dt.tz_localize(None)
    event_ms = times.to_numpy().astype("datetime64[ms]").astype("int64")
    codes = transactions["currency"].to_numpy(dtype=object)
    local = local_amounts(transactions["amount"].to_numpy(), codes, event_ms, fx)
    no_rate = ~np.isfinite(local)
    if no_rate.any():  # no rate that day: the merchant charges dollars
        local[no_rate] = transactions["amount"].to_numpy()[no_rate]
        transactions.loc[no_rate, "currency"] = "USD"
    transactions["amount"] = local
    if labels is not None and len(labels):
        by_id = pd.Series(local, index=transactions["transaction_id"].to_numpy())
        labels["amount"] = by_id.reindex(labels["transaction_id"].to_numpy()).to_numpy()
