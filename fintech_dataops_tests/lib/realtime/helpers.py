"""Shared builders for the real-time tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def tx(transaction_id: str, customer_id: str = "C1", amount: float = 25.0, *, at: datetime | None = None,
       seconds: float = 0.0, merchant_id: str = "M1") -> dict:
    moment = (at or datetime.now(timezone.utc) - timedelta(seconds=30)) + timedelta(seconds=seconds)
    return {
        "transaction_id": transaction_id, "customer_id": customer_id, "merchant_id": merchant_id,
        "amount": amount, "currency": "USD", "event_time": iso(moment), "channel": "online",
        "merchant_category": "grocery", "country": "US", "device_id": "D1",
    }
