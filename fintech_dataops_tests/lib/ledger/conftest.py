"""A tiny warehouse with the tables the ledger books from (two days of approved/reviewed payments,
a fraud label, partner loan reports, a Stripe refund and dispute)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

DAYS = ("2026-11-01", "2026-11-02")


def make_sources(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS fraud; CREATE SCHEMA IF NOT EXISTS core")
    con.execute("""CREATE TABLE fraud.scored_transactions (transaction_id VARCHAR, customer_id VARCHAR,
        merchant_id VARCHAR, amount DECIMAL(18,3), currency VARCHAR, event_time TIMESTAMP, partition_date DATE,
        decision VARCHAR)""")
    rows = []
    for d, day in enumerate(DAYS):
        for i in range(12):
            decision = "block" if i == 5 else ("review" if i == 7 else "approve")
            currency = ("USD", "EUR", "JPY", "BHD")[i % 4]
            amount = {"USD": "12.34", "EUR": "99.99", "JPY": "1500", "BHD": "7.125"}[currency]
            rows.append((f"T{d}{i:03d}", f"C{i % 5}", f"M{i % 3}", amount, currency,
                         f"{day} {10 + i:02d}:00:00", day, decision))
    con.executemany("INSERT INTO fraud.scored_transactions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("""CREATE TABLE core.fraud_labels AS SELECT 'LB1' AS label_id, 'T0000' AS transaction_id,
        'C0' AS customer_id, TRUE AS is_fraud, 'card_testing' AS fraud_type, 12.34::DECIMAL(18,3) AS amount,
        TIMESTAMP '2026-11-02 09:00:00' AS reported_time, DATE '2026-11-02' AS partition_date""")
    con.execute("""CREATE TABLE core.partner_loans AS SELECT * FROM (VALUES
        ('R1', 'L1', 'C1', 'P1', 1000.00::DECIMAL(18,3), 'USD', 900.00::DECIMAL(18,3), TIMESTAMP '2026-11-01 08:00:00', DATE '2026-11-01'),
        ('R2', 'L1', 'C1', 'P1', 1000.00::DECIMAL(18,3), 'USD', 750.50::DECIMAL(18,3), TIMESTAMP '2026-11-02 08:00:00', DATE '2026-11-02'))
        t(report_id, loan_id, customer_id, partner_id, principal, currency, outstanding, reported_time, partition_date)""")
    con.execute("""CREATE TABLE core.stripe_charges AS SELECT 'ch_1' AS charge_id, 'C2' AS customer_id,
        50.0::DOUBLE AS amount, 20.0::DOUBLE AS amount_refunded, 'usd' AS currency,
        TIMESTAMP '2026-11-02 12:00:00' AS event_time, DATE '2026-11-02' AS partition_date""")
    con.execute("""CREATE TABLE core.stripe_disputes AS SELECT 'dp_1' AS dispute_id, 'ch_1' AS charge_id,
        30.0::DOUBLE AS amount, 'usd' AS currency, TIMESTAMP '2026-11-02 13:00:00' AS event_time,
        DATE '2026-11-02' AS partition_date""")


@pytest.fixture()
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    make_sources(con)
    con.close()
    return path


@pytest.fixture()
def connect(warehouse: Path):
    @contextmanager
    def _connect():
        con = duckdb.connect(str(warehouse))
        try:
            yield con
        finally:
            con.close()

    return _connect
