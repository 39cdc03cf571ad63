"""A tiny warehouse with alerts of known event and alert times, for the monitor's tests."""

from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from fintech_dataops_tests.processes import asgi_on_loopback

NOW = datetime(2026, 11, 30, 12, 0, 0)
STAFF = {"alice": "alice-secret-key", "bob": "bob-secret-key"}


def staff_env() -> dict[str, str]:
    from fintech_dataops.lib.monitor.staff import hash_key

    return {"FINTECH_STAFF_KEYS": ",".join(f"{name}:{hash_key(key)}" for name, key in STAFF.items())}


def alert_rows(now: datetime = NOW) -> list[dict]:
    """Three alerts: a block raised 2 s after its event, a review 26 h late, one from yesterday."""
    return [
        {"transaction_id": "T-fast", "customer_id": "C-1", "merchant_id": "M-9", "amount": "950.00", "currency": "USD",
         "amount_reporting": "950.00", "event_time": now - timedelta(minutes=5, seconds=2),
         "alerted_at": now - timedelta(minutes=5), "decision": "block", "risk_score": 0.97, "model_score": 0.91,
         "rule_ids": ["HIGH_VALUE"], "reasons": ["amount 950.00 > 800.00 USD requires review"],
         "channel": "ecommerce", "country": "GB"},
        {"transaction_id": "T-late", "customer_id": "C-2", "merchant_id": "M-3", "amount": "120.00", "currency": "EUR",
         "amount_reporting": "130.50", "event_time": now - timedelta(hours=27), "alerted_at": now - timedelta(hours=1),
         "decision": "review", "risk_score": 0.71, "model_score": 0.71, "rule_ids": [],
         "reasons": ["model score 0.71 >= 0.60", "<img src=x onerror=window.pwned=1>"], "channel": "pos", "country": "FR"},
        {"transaction_id": "T-old", "customer_id": "C-1", "merchant_id": "M-1", "amount": "15.00", "currency": "USD",
         "amount_reporting": "15.00", "event_time": now - timedelta(days=1, minutes=1),
         "alerted_at": now - timedelta(days=1), "decision": "review", "risk_score": 0.62, "model_score": 0.62,
         "rule_ids": ["VELOCITY"], "reasons": ["velocity: 6 tx in 60 s"], "channel": "ecommerce", "country": "GB"},
    ]


def build_alert_warehouse(path: Path, now: datetime = NOW) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA fraud")
    con.execute("""CREATE TABLE fraud.alerts (transaction_id VARCHAR, customer_id VARCHAR, merchant_id VARCHAR,
        amount DECIMAL(18,3), currency VARCHAR, amount_reporting DECIMAL(18,3), event_time TIMESTAMP,
        risk_score DOUBLE, model_score DOUBLE, decision VARCHAR, reasons VARCHAR[], rule_ids VARCHAR[],
        partition_date DATE, alerted_at TIMESTAMP)""")
    # As in the platform: decisions in fraud.scored_transactions, channel/country only in core.transactions.
    con.execute("""CREATE TABLE fraud.scored_transactions (transaction_id VARCHAR, customer_id VARCHAR,
        merchant_id VARCHAR, amount DECIMAL(18,3), currency VARCHAR, amount_reporting DECIMAL(18,3),
        event_time TIMESTAMP, decision VARCHAR, risk_score DOUBLE, reasons VARCHAR[], partition_date DATE)""")
    con.execute("CREATE SCHEMA core")
    con.execute("""CREATE TABLE core.transactions (transaction_id VARCHAR, customer_id VARCHAR, merchant_id VARCHAR,
        amount DECIMAL(18,3), currency VARCHAR, event_time TIMESTAMP, channel VARCHAR, country VARCHAR,
        partition_date DATE)""")
    calm = {"transaction_id": "T-calm", "customer_id": "C-1", "merchant_id": "M-2", "amount": "12.50", "currency": "USD",
            "amount_reporting": "12.50", "event_time": now - timedelta(hours=12), "decision": "approve",
            "risk_score": 0.01, "reasons": [], "channel": "pos", "country": "GB"}
    for a in [*alert_rows(now), calm]:
        if a is not calm:
            con.execute("INSERT INTO fraud.alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [a["transaction_id"], a["customer_id"], a["merchant_id"], a["amount"], a["currency"],
                         a["amount_reporting"], a["event_time"], a["risk_score"], a["model_score"], a["decision"],
                         a["reasons"], a["rule_ids"], a["event_time"].date(), a["alerted_at"]])
        con.execute("INSERT INTO fraud.scored_transactions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [a["transaction_id"], a["customer_id"], a["merchant_id"], a["amount"], a["currency"],
                     a["amount_reporting"], a["event_time"], a["decision"], a["risk_score"], a["reasons"],
                     a["event_time"].date()])
        con.execute("INSERT INTO core.transactions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [a["transaction_id"], a["customer_id"], a["merchant_id"], a["amount"], a["currency"],
                     a["event_time"], a["channel"], a["country"], a["event_time"].date()])
    con.close()
    return path


@contextmanager
def running_monitor(data_dir: Path, env: dict[str, str] | None = None):
    """``fintech-dataops monitor``'s app under uvicorn on a free loopback port, in a thread; yields its base URL."""
    from fintech_dataops.lib.monitor.server import create_monitor_app
    from fintech_dataops.lib.monitor.staff import StaffKeys

    with asgi_on_loopback(create_monitor_app(data_dir, StaffKeys.from_env(env or {}))) as url:
        yield url
