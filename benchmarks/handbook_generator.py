"""A second, independently written transaction generator — used ONLY to evaluate the fraud model.

Re-implemented from the published description of the simulator in the *Reproducible Machine
Learning for Credit Card Fraud Detection — Practical Handbook* (Le Borgne, Siblini, Lebichot,
Bontempi; chapter 3, "Transaction data simulator"), not from our own simulator
(``fintech_dataops/lib/simulator/``) and not tuned to our features. Nothing in the product imports
it: it lives in ``benchmarks/`` so that every fraud figure has a column "on data we did not tune to".

Design (deliberately unlike ``lib/simulator``, which draws personas, merchants by category,
devices, channels and chargeback delays):

- **Customers** sit at a uniform location on a 100 × 100 grid, with a mean amount
  ~ U(5, 100), amount standard deviation = mean / 2 and a mean number of transactions
  per day ~ U(0, 4).
- **Terminals** (our ``merchant_id``) sit at a uniform location on the same grid. A
  customer pays only at terminals within radius ``radius`` of its location, chosen uniformly.
- **Transactions**: each day a customer makes Poisson(mean per day) transactions; the time
  of day is Normal(12:00, 20,000 s), redrawn-free — times outside the day are dropped, as in
  the handbook; the amount is Normal(mean, std), a negative draw replaced by U(0, 2 × mean),
  rounded to cents.
- **Fraud scenarios** (``scenario`` 1-3, 0 = genuine):
  1. every transaction above 220 is fraud (a baseline a rule could catch);
  2. each day ``compromised_terminals_per_day`` random terminals are compromised for the
     next 28 days: every transaction there is fraud (only terminal-level risk finds it);
  3. each day ``compromised_customers_per_day`` random customers are compromised for the
     next 14 days: one third of their transactions in that period (chosen at random) get
     their amount multiplied by 5 and are fraud (only the customer's own history finds it).
  Scenarios are applied in that order; a later one relabels the transaction.

Assumptions where the description leaves freedom: one numpy ``Generator`` per seed (not the
handbook's per-customer ``random.seed``), the whole period drawn vectorised, a day's compromised
terminals/customers drawn without replacement from all of them, ids as text
(``C00042``/``T00042``), currency USD. Output: the six contract columns
(``transaction_id, customer_id, merchant_id, amount, currency, event_time``) plus ``is_fraud``
and ``scenario`` — no device, channel or country.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SECONDS_PER_DAY = 86_400
SCENARIOS = {0: "genuine", 1: "amount_over_220", 2: "compromised_terminal", 3: "compromised_customer"}


@dataclass(frozen=True)
class HandbookConfig:
    customers: int = 5_000
    terminals: int = 10_000
    days: int = 74
    radius: float = 5.0
    start: str = "2026-04-01"
    seed: int = 0
    high_amount: float = 220.0
    compromised_terminals_per_day: int = 2
    terminal_compromise_days: int = 28
    compromised_customers_per_day: int = 3
    customer_compromise_days: int = 14
    amount_multiplier: float = 5.0


def _available_terminals(customer_xy: np.ndarray, terminal_xy: np.ndarray, radius: float):
    """(flat terminal indices, offsets, counts): the terminals within ``radius`` of each customer."""
    from scipy.spatial import cKDTree

    lists = cKDTree(terminal_xy).query_ball_point(customer_xy, r=radius)
    counts = np.fromiter((len(x) for x in lists), dtype="int64", count=len(lists))
    flat = np.fromiter((t for x in lists for t in sorted(x)), dtype="int64", count=int(counts.sum()))
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return flat, offsets, counts


def generate(config: HandbookConfig | None = None) -> pd.DataFrame:
    """Transactions of ``config.days`` days, ordered by event time, with ``is_fraud`` and ``scenario``."""
    config = config or HandbookConfig()
    rng = np.random.default_rng(config.seed)
    n_c, n_t = config.customers, config.terminals
    customer_xy = rng.uniform(0, 100, size=(n_c, 2))
    mean_amount = rng.uniform(5, 100, size=n_c)
    std_amount = mean_amount / 2
    tx_per_day = rng.uniform(0, 4, size=n_c)
    terminal_xy = rng.uniform(0, 100, size=(n_t, 2))
    flat, offsets, counts = _available_terminals(customer_xy, terminal_xy, config.radius)

    per_day = rng.poisson(np.tile(tx_per_day, config.days))  # customer-major within each day
    day = np.repeat(np.repeat(np.arange(config.days), n_c), per_day)
    customer = np.repeat(np.tile(np.arange(n_c), config.days), per_day)
    seconds = np.round(rng.normal(SECONDS_PER_DAY / 2, 20_000, size=len(day)))
    keep = (seconds > 0) & (seconds < SECONDS_PER_DAY) & (counts[customer] > 0)
    day, customer, seconds = day[keep], customer[keep], seconds[keep].astype("int64")
    amount = rng.normal(mean_amount[customer], std_amount[customer])
    negative = amount < 0
    amount[negative] = rng.uniform(0, 2 * mean_amount[customer[negative]])
    amount = np.round(amount, 2)
    pick = np.floor(rng.uniform(0, 1, size=len(day)) * counts[customer]).astype("int64")
    terminal = flat[offsets[customer] + pick]

    scenario = np.zeros(len(day), dtype="int8")
    scenario[amount > config.high_amount] = 1
    for d in range(config.days):
        bad = rng.choice(n_t, size=config.compromised_terminals_per_day, replace=False)
        hit = (day >= d) & (day < d + config.terminal_compromise_days) & np.isin(terminal, bad)
        scenario[hit] = 2
    for d in range(config.days):
        bad = rng.choice(n_c, size=config.compromised_customers_per_day, replace=False)
        rows = np.flatnonzero((day >= d) & (day < d + config.customer_compromise_days) & np.isin(customer, bad))
        chosen = rng.choice(rows, size=len(rows) // 3, replace=False) if len(rows) >= 3 else rows[:0]
        amount[chosen] = np.round(amount[chosen] * config.amount_multiplier, 2)
        scenario[chosen] = 3

    start = pd.Timestamp(config.start)
    event_us = (day * SECONDS_PER_DAY + seconds) * 1_000_000
    order = np.lexsort((customer, event_us))
    n = len(order)
    frame = pd.DataFrame({
        "transaction_id": [f"HB{config.seed:03d}-{i:08d}" for i in range(n)],
        "customer_id": pd.Series(customer[order]).map(lambda c: f"C{c:05d}").to_numpy(),
        "merchant_id": pd.Series(terminal[order]).map(lambda t: f"T{t:05d}").to_numpy(),
        "amount": amount[order],
        "currency": "USD",
        "event_time": start + pd.to_timedelta(event_us[order], unit="us"),
        "is_fraud": scenario[order] > 0,
        "scenario": pd.Series(scenario[order]).map(SCENARIOS).to_numpy(),
    })
    frame["event_time"] = frame["event_time"].astype("datetime64[us]")
    return frame


def split(frame: pd.DataFrame, *, burn_in_days: int, train_days: int, gap_days: int, test_days: int,
          start: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test): ``train_days`` after a burn-in, then a gap, then ``test_days`` (time-ordered)."""
    t0 = pd.Timestamp(start) + pd.Timedelta(days=burn_in_days)
    t1 = t0 + pd.Timedelta(days=train_days)
    t2 = t1 + pd.Timedelta(days=gap_days)
    t3 = t2 + pd.Timedelta(days=test_days)
    times = frame["event_time"]
    return (frame[(times >= t0) & (times < t1)].reset_index(drop=True),
            frame[(times >= t2) & (times < t3)].reset_index(drop=True))
