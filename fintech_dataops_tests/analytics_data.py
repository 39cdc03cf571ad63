"""A tiny deterministic warehouse for the analytics tests (marts, KPIs, monitor, SQL).

The tables follow the colleagues' contracts (core.*, fraud.*, credit.*, quality.*).
Hand-computed figures the tests assert (see each comment):

* North Star = blocked & confirmed fraud (t1 900.00 + t5 300.25 = 1200.25, 2 tx)
  + approved loans to not-traditionally-scorable customers (a1 5000 + a4 750 = 5750, 2 loans)
  = 6950.25 USD.
* scorable uplift = 100 × (9 enhanced − 6 traditional) / 10 customers = 30 pp (relative 50 %).
* DQ latest day (2026-01-02) = 100 × (196 + 800) / (200 + 800) = 99.6 %; worst feed customers 98 %.
* freshness at NOW = 12:00:30 − newest event 12:00:00 = 30 s.
* latency = p99 over the batch p99s [100, 200, 300, 400, 500] ms = 100 + 0.99 × 4 × 100 = 496 ms;
  median of the batch p50s [50 … 250] = 150 ms; slowest event 600 ms.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

NOW = datetime(2026, 1, 2, 12, 0, 30, tzinfo=UTC)
NORTH_STAR = 6950.25
SCORABLE_UPLIFT_PP = 30.0
DQ_LATEST = 99.6
FRESHNESS_S = 30.0
LATENCY_P99_MS = 496.0

_SQL = """
CREATE SCHEMA core; CREATE SCHEMA fraud; CREATE SCHEMA credit; CREATE SCHEMA quality;
CREATE TABLE core.customers AS SELECT * FROM (VALUES
  ('c1', 'Ada Lovelace', 'ada@example.com', 'GB', 1990, TIMESTAMP '2025-12-01 10:00:00', 4000.0, 'thin_file',
   DATE '2025-12-01', 'customers/date=2025-12-01/b.jsonl', 1),
  ('c2', 'Alan Turing', 'alan@example.org', 'GB', 1985, TIMESTAMP '2025-12-01 11:00:00', 5000.0, 'prime',
   DATE '2025-12-01', 'customers/date=2025-12-01/b.jsonl', 2)
) t(customer_id, full_name, email, country, birth_year, signup_time, declared_monthly_income, segment,
    partition_date, source_file, line_number);
CREATE TABLE core.transactions AS SELECT * FROM (VALUES
  ('t1', 'c1', 'm1', 900.0,  'USD', TIMESTAMP '2026-01-01 09:00:00', DATE '2026-01-01'),
  ('t2', 'c2', 'm2', 250.0,  'USD', TIMESTAMP '2026-01-01 10:00:00', DATE '2026-01-01'),
  ('t3', 'c3', 'm1', 1200.0, 'USD', TIMESTAMP '2026-01-02 08:00:00', DATE '2026-01-02'),
  ('t4', 'c1', 'm3', 80.5,   'USD', TIMESTAMP '2026-01-02 09:00:00', DATE '2026-01-02'),
  ('t5', 'c4', 'm2', 300.25, 'USD', TIMESTAMP '2026-01-02 11:00:00', DATE '2026-01-02'),
  ('t6', 'c5', 'm4', 20.0,   'USD', TIMESTAMP '2026-01-02 12:00:00', DATE '2026-01-02')
) t(transaction_id, customer_id, merchant_id, amount, currency, event_time, partition_date);
CREATE TABLE core.fraud_labels AS SELECT * FROM (VALUES
  ('L1', 't1', 'c1', TRUE,  'card_theft', 900.0,  TIMESTAMP '2026-01-05 00:00:00', DATE '2026-01-05'),
  ('L2', 't2', 'c2', TRUE,  'card_theft', 250.0,  TIMESTAMP '2026-01-05 00:00:00', DATE '2026-01-05'),
  ('L3', 't3', 'c3', FALSE, NULL,         1200.0, TIMESTAMP '2026-01-05 00:00:00', DATE '2026-01-05'),
  ('L4', 't1', 'c1', TRUE,  'card_theft', 900.0,  TIMESTAMP '2026-01-06 00:00:00', DATE '2026-01-06'),
  ('L5', 't5', 'c4', TRUE,  'account_takeover', 300.25, TIMESTAMP '2026-01-06 00:00:00', DATE '2026-01-06')
) t(label_id, transaction_id, customer_id, is_fraud, fraud_type, amount, reported_time, partition_date);
CREATE TABLE fraud.scored_transactions AS SELECT
  transaction_id, customer_id, merchant_id, amount, currency, amount AS amount_reporting, event_time,
  CASE transaction_id WHEN 't1' THEN 0.97 WHEN 't2' THEN 0.7 WHEN 't3' THEN 0.91 WHEN 't4' THEN 0.85
                      WHEN 't5' THEN 0.99 ELSE 0.05 END AS risk_score,
  CASE transaction_id WHEN 't6' THEN 0.02 ELSE 0.8 END AS model_score,
  CASE transaction_id WHEN 't2' THEN 'review' WHEN 't6' THEN 'approve' ELSE 'block' END AS decision,
  CASE transaction_id WHEN 't6' THEN []::VARCHAR[] WHEN 't2' THEN ['amount > $800 review']
       ELSE ['velocity: 5 tx in 60 s <script>alert(1)</script>', 'model score 0.80'] END AS reasons,
  CASE transaction_id WHEN 't6' THEN []::VARCHAR[] WHEN 't2' THEN ['high_value']
       WHEN 't4' THEN []::VARCHAR[] ELSE ['velocity', 'model'] END AS rule_ids,
  partition_date,
  event_time + INTERVAL 5 MILLISECOND AS alerted_at
FROM core.transactions;
CREATE TABLE fraud.alerts AS SELECT * FROM fraud.scored_transactions WHERE decision <> 'approve';
CREATE TABLE credit.scores AS SELECT
  'c' || i AS customer_id, 300 + i * 50 AS score,
  CASE WHEN i <= 3 THEN 'poor' WHEN i <= 6 THEN 'fair' ELSE 'good' END AS band,
  i <= 6 AS scorable_traditional, i <= 9 AS scorable_enhanced, 'v1' AS model_version,
  TIMESTAMP '2026-01-02 06:00:00' AS scored_at
FROM range(1, 11) r(i);
CREATE TABLE credit.loan_decisions AS SELECT application_id, customer_id,
  CAST(requested_amount AS DECIMAL(18,3)) AS requested_amount, currency,
  CAST(requested_amount_reporting AS DECIMAL(18,3)) AS requested_amount_reporting, 'USD' AS reporting_currency,
  score, band, decision, scorable_traditional, scorable_enhanced FROM (VALUES
  ('a1', 'c1', 5000.0, 'USD', 5000.0, 350, 'poor', 'approve',       FALSE, TRUE),
  ('a2', 'c2', 2000.0, 'USD', 2000.0, 400, 'poor', 'approve',       TRUE,  TRUE),
  ('a3', 'c3', 1500.0, 'USD', 1500.0, 450, 'poor', 'decline',       FALSE, TRUE),
  ('a4', 'c4', 750.0,  'USD', 750.0,  500, 'fair', 'approve',       FALSE, TRUE),
  ('a5', 'c5', 999.0,  'USD', 999.0,  550, 'fair', 'manual_review', FALSE, TRUE)
) t(application_id, customer_id, requested_amount, currency, requested_amount_reporting, score, band, decision,
    scorable_traditional, scorable_enhanced);
CREATE TABLE quality.dq_scores AS SELECT * FROM (VALUES
  (DATE '2026-01-01', 'customers',    100,  99, 1, 99.0,  TIMESTAMP '2026-01-02 00:00:00'),
  (DATE '2026-01-01', 'transactions', 1000, 1000, 0, 100.0, TIMESTAMP '2026-01-02 00:00:00'),
  (DATE '2026-01-02', 'customers',    200,  196, 4, 98.0,  TIMESTAMP '2026-01-03 00:00:00'),
  (DATE '2026-01-02', 'transactions', 800,  800, 0, 100.0, TIMESTAMP '2026-01-03 00:00:00')
) t(partition_date, feed, raw_rows, valid_rows, quarantined_rows, dq_score, computed_at);
"""

# Rows of realtime.batch_latency in the table's real schema (lib/realtime/nearline.py): batch i has
# event → alert p50 = 50·i, p99 = 100·i, max = 120·i ms.
_LATENCY_ROWS_SQL = """
SELECT 'date=2026-01-02/b' || i || '.jsonl' AS batch_id, DATE '2026-01-02' AS partition_date, 100 AS events,
  100 AS valid_events, 0 AS quarantined_events, 1 AS alerts,
  TIMESTAMP '2026-01-02 12:00:00' + (i - 1) * INTERVAL 1 SECOND AS landed_at,
  TIMESTAMP '2026-01-02 12:00:00' + (i - 1) * INTERVAL 1 SECOND + i * INTERVAL 100 MILLISECOND AS alerted_at,
  i * 50.0 AS latency_ms_p50, i * 100.0 AS latency_ms_p99, i * 120.0 AS latency_ms_max,
  i * 100.0 AS landed_to_alert_ms, 'v1' AS model_version
FROM range(1, 6) r(i)
"""


def _create_latency_table(con: duckdb.DuckDBPyConnection) -> None:
    from fintech_dataops.lib.realtime.nearline import _LATENCY_TYPES  # the table's declared schema

    columns = ", ".join(f'"{name}" {sql_type}' for name, sql_type in _LATENCY_TYPES.items())
    con.execute("CREATE SCHEMA IF NOT EXISTS realtime")
    con.execute(f"CREATE TABLE realtime.batch_latency ({columns})")
    con.execute(f"INSERT INTO realtime.batch_latency BY NAME {_LATENCY_ROWS_SQL}")


def build_tiny_warehouse(path: Path | str, *, with_latency: bool = False) -> Path:
    """Create the deterministic warehouse at ``path`` (a new DuckDB file)."""
    con = duckdb.connect(str(path))
    try:
        con.execute(_SQL)
        if with_latency:
            _create_latency_table(con)
    finally:
        con.close()
    return Path(path)
