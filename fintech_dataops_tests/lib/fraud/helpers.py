"""Small transaction frames for fraud tests: hand-made streams and a simulated month in core types."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pandas as pd

T0 = pd.Timestamp("2026-03-10 12:00:00")


def tx_frame(rows: list[tuple], start: pd.Timestamp = T0) -> pd.DataFrame:
    """Rows ``(transaction_id, customer_id, seconds_after_start, amount[, merchant_id])`` as core transactions."""
    records = []
    for row in rows:
        tx_id, customer, seconds, amount = row[:4]
        merchant = row[4] if len(row) > 4 else "M00001"
        records.append({
            "transaction_id": tx_id, "customer_id": customer, "merchant_id": merchant, "amount": float(amount),
            "currency": "USD", "event_time": start + pd.Timedelta(seconds=seconds), "device_id": f"D-{customer}",
        })
    frame = pd.DataFrame(records)
    frame["partition_date"] = frame["event_time"].dt.date
    return frame


def to_core(frame: pd.DataFrame, time_columns: tuple[str, ...] = ("event_time", "reported_time")) -> pd.DataFrame:
    """Simulator frame → core types (naive-UTC timestamps, partition_date)."""
    out = frame.copy()
    for column in time_columns:
        if column in out.columns:
            out[column] = out[column].dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    time_column = "event_time" if "event_time" in out.columns else "reported_time"
    out["partition_date"] = out[time_column].dt.date
    return out


@lru_cache(maxsize=2)
def simulated_month(customers: int = 300, days: int = 30, seed: int = 7):
    """(transactions, fraud_labels, truth) of a small simulated month, in core types (cached; do not mutate)."""
    from fintech_dataops.lib.simulator.world import SimulationConfig, simulate

    sim = simulate(SimulationConfig(start=dt.date(2026, 3, 1), days=days, customers=customers, seed=seed))
    return to_core(sim.feeds["transactions"]), to_core(sim.feeds["fraud_labels"]), sim.truth.copy()
