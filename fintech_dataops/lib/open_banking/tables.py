"""``open_banking.*`` tables built from the validated core feeds (pure SQL on DuckDB).

- ``open_banking.plaid_transactions``: the current state of every Plaid
  transaction — the change log replayed in the order received, so a modified
  transaction shows its latest version and a removed one is gone.
- ``open_banking.platform_transactions``: Plaid transactions and succeeded
  Stripe charges in the platform transaction contract
  (``lib.ingestion.sources.PLATFORM_TRANSACTION_COLUMNS``), read by fraud and credit
  features through ``lib.ingestion.sources.transactions_sql``.
- ``open_banking.stripe_fraud_labels``: fraud labels from Stripe disputes and
  fraudulent refunds, in the ``fraud_labels`` feed's columns.
- ``open_banking.plaid_balances``: one balance per account per day (the day's latest
  pull). ``core.plaid_accounts`` keeps every pull (history, keyed by ``snapshot_id`` =
  account × pull time), so each pipeline run adds one row per account there; here a
  rerun replaces the day's row instead of adding one.
"""

from __future__ import annotations

import duckdb

from fintech_dataops.lib.ingestion.feeds import MONEY_SQL_TYPE
from fintech_dataops.lib.ingestion.sources import OPEN_BANKING_TRANSACTIONS, PLATFORM_TRANSACTION_COLUMNS
from fintech_dataops.lib.warehouse import replace_table, table_exists

PLAID_CURRENT = "open_banking.plaid_transactions"
STRIPE_FRAUD_LABELS = "open_banking.stripe_fraud_labels"
PLAID_BALANCES = "open_banking.plaid_balances"
FRAUD_LABEL_COLUMNS = (
    "label_id", "transaction_id", "customer_id", "is_fraud", "fraud_type", "amount", "reported_time", "partition_date",
)
# Plaid items are US institutions unless Plaid reports the merchant's country.
DEFAULT_PLAID_COUNTRY = "US"

_PLAID_CURRENT_SQL = """
SELECT transaction_id, item_id, customer_id, account_id, amount, currency, transaction_date, event_time,
       merchant_name, description, payment_channel, category, country, is_pending,
       change_type AS last_change, received_time AS last_received_time
FROM core.plaid_transactions
QUALIFY row_number() OVER (
    PARTITION BY item_id, transaction_id
    ORDER BY received_time DESC, partition_date DESC, source_file DESC, line_number DESC) = 1
"""

_EMPTY_PLAID_CURRENT = f"""
SELECT NULL::VARCHAR AS transaction_id, NULL::VARCHAR AS item_id, NULL::VARCHAR AS customer_id,
       NULL::VARCHAR AS account_id, NULL::{MONEY_SQL_TYPE} AS amount, NULL::VARCHAR AS currency, NULL::DATE AS transaction_date,
       NULL::TIMESTAMP AS event_time, NULL::VARCHAR AS merchant_name, NULL::VARCHAR AS description,
       NULL::VARCHAR AS payment_channel, NULL::VARCHAR AS category, NULL::VARCHAR AS country,
       NULL::BOOLEAN AS is_pending, NULL::VARCHAR AS last_change, NULL::TIMESTAMP AS last_received_time
WHERE false
"""


def build_plaid_current(con: duckdb.DuckDBPyConnection) -> int:
    """Replay the change log: latest change per transaction, removed ones dropped."""
    if table_exists(con, "core.plaid_transactions"):
        select = f"SELECT * FROM ({_PLAID_CURRENT_SQL}) WHERE last_change <> 'removed'"
    else:
        select = _EMPTY_PLAID_CURRENT
    return replace_table(con, PLAID_CURRENT, select)


_PLAID_BALANCES_SQL = """
SELECT CAST(observed_time AS DATE) AS snapshot_date, item_id, customer_id, account_id, account_name, account_type,
       account_subtype, currency, available_balance, current_balance, credit_limit, observed_time, snapshot_id,
       count(*) OVER day_of_account AS pulls_that_day
FROM core.plaid_accounts
WINDOW day_of_account AS (PARTITION BY item_id, account_id, CAST(observed_time AS DATE))
QUALIFY row_number() OVER (day_of_account ORDER BY observed_time DESC, snapshot_id DESC) = 1
ORDER BY snapshot_date, item_id, account_id
"""

_EMPTY_PLAID_BALANCES = f"""
SELECT NULL::DATE AS snapshot_date, NULL::VARCHAR AS item_id, NULL::VARCHAR AS customer_id,
       NULL::VARCHAR AS account_id, NULL::VARCHAR AS account_name, NULL::VARCHAR AS account_type,
       NULL::VARCHAR AS account_subtype, NULL::VARCHAR AS currency, NULL::{MONEY_SQL_TYPE} AS available_balance,
       NULL::{MONEY_SQL_TYPE} AS current_balance, NULL::{MONEY_SQL_TYPE} AS credit_limit, NULL::TIMESTAMP AS observed_time,
       NULL::VARCHAR AS snapshot_id, NULL::BIGINT AS pulls_that_day
WHERE false
"""


def build_plaid_balances(con: duckdb.DuckDBPyConnection) -> int:
    """One row per (item, account, day): the day's latest balance pull, however many runs pulled it."""
    select = _PLAID_BALANCES_SQL if table_exists(con, "core.plaid_accounts") else _EMPTY_PLAID_BALANCES
    return replace_table(con, PLAID_BALANCES, select)


def _plaid_platform_sql() -> str:
    return f"""
SELECT 'plaid:' || transaction_id                                   AS transaction_id,
       customer_id,
       -- A merchant's name makes a readable id; a bare description can name a person (a P2P
       -- transfer), so it only lends a digest: the id stays stable and pseudonymous.
       'plaid:' || coalesce(nullif(trim(regexp_replace(lower(merchant_name), '[^a-z0-9]+', '_', 'g'), '_'), ''),
                            'd_' || left(sha256(lower(coalesce(description, ''))), 16)) AS merchant_id,
       abs(amount)                                                  AS amount,
       currency,
       event_time,
       CASE WHEN amount < 0 THEN 'transfer'
            WHEN payment_channel = 'online' THEN 'online'
            WHEN payment_channel = 'in store' THEN 'pos'
            ELSE 'transfer' END                                     AS channel,
       lower(category)                                              AS merchant_category,
       coalesce(country, '{DEFAULT_PLAID_COUNTRY}')                 AS country,
       CAST(NULL AS VARCHAR)                                        AS device_id,
       CAST(event_time AS DATE)                                     AS partition_date
FROM {PLAID_CURRENT}
WHERE amount IS NOT NULL AND amount <> 0 AND event_time IS NOT NULL AND customer_id IS NOT NULL
"""


_STRIPE_PLATFORM_SQL = """
SELECT 'stripe:' || charge_id                                        AS transaction_id,
       customer_id,
       'stripe:' || coalesce(merchant_category, 'platform')          AS merchant_id,
       amount,
       currency,
       event_time,
       'card_not_present'                                            AS channel,
       merchant_category,
       coalesce(card_country, 'US')                                  AS country,
       CAST(NULL AS VARCHAR)                                         AS device_id,
       CAST(event_time AS DATE)                                      AS partition_date
FROM core.stripe_charges
WHERE status = 'succeeded' AND customer_id IS NOT NULL AND amount > 0
"""


def build_platform_transactions(con: duckdb.DuckDBPyConnection) -> int:
    """Publish ``open_banking.platform_transactions`` (exactly PLATFORM_TRANSACTION_COLUMNS)."""
    columns = ", ".join(PLATFORM_TRANSACTION_COLUMNS)
    parts = []
    if table_exists(con, PLAID_CURRENT):
        parts.append(_plaid_platform_sql())
    if table_exists(con, "core.stripe_charges"):
        parts.append(_STRIPE_PLATFORM_SQL)
    if not parts:
        parts.append(
            "SELECT NULL::VARCHAR AS transaction_id, NULL::VARCHAR AS customer_id, NULL::VARCHAR AS merchant_id, "
            f"NULL::{MONEY_SQL_TYPE} AS amount, NULL::VARCHAR AS currency, NULL::TIMESTAMP AS event_time, "
            "NULL::VARCHAR AS channel, NULL::VARCHAR AS merchant_category, NULL::VARCHAR AS country, "
            "NULL::VARCHAR AS device_id, NULL::DATE AS partition_date WHERE false")
    union = " UNION ALL ".join(f"SELECT {columns} FROM ({p})" for p in parts)
    return replace_table(con, OPEN_BANKING_TRANSACTIONS, f"SELECT {columns} FROM ({union}) ORDER BY event_time, transaction_id")


def build_stripe_fraud_labels(con: duckdb.DuckDBPyConnection) -> int:
    """Disputes (fraudulent → is_fraud) and fraudulent refunds, one label per dispute / refunded charge."""
    has_charges = table_exists(con, "core.stripe_charges")
    charge_customer = (
        "LEFT JOIN (SELECT charge_id, customer_id FROM core.stripe_charges) c USING (charge_id)"
        if has_charges else "LEFT JOIN (SELECT NULL::VARCHAR AS charge_id, NULL::VARCHAR AS customer_id) c USING (charge_id)"
    )
    parts = []
    if table_exists(con, "core.stripe_disputes"):
        parts.append(f"""
            SELECT 'stripe:' || d.dispute_id AS label_id, 'stripe:' || d.charge_id AS transaction_id,
                   c.customer_id, d.reason = 'fraudulent' AS is_fraud,
                   CASE WHEN d.reason = 'fraudulent' THEN 'chargeback_fraud' ELSE 'dispute_' || d.reason END AS fraud_type,
                   d.amount, d.event_time AS reported_time
            FROM core.stripe_disputes d {charge_customer}""")
    if has_charges:
        parts.append("""
            SELECT 'stripe:refund:' || charge_id, 'stripe:' || charge_id, customer_id, true, 'refund_fraudulent',
                   amount_refunded, event_time
            FROM core.stripe_charges WHERE fraud_report = 'fraudulent' AND amount_refunded > 0""")
    if table_exists(con, "core.stripe_events"):
        parts.append(f"""
            SELECT 'stripe:refund:' || e.charge_id, 'stripe:' || e.charge_id, coalesce(e.customer_id, c.customer_id),
                   true, 'refund_fraudulent', e.amount, e.event_time
            FROM core.stripe_events e {charge_customer}
            WHERE e.event_type = 'charge.refunded' AND e.fraud_report = 'fraudulent' AND e.charge_id IS NOT NULL""")
        parts.append(f"""
            SELECT 'stripe:' || e.object_id, 'stripe:' || e.charge_id, coalesce(e.customer_id, c.customer_id),
                   e.reason = 'fraudulent',
                   CASE WHEN e.reason = 'fraudulent' THEN 'chargeback_fraud' ELSE 'dispute_' || e.reason END,
                   e.amount, e.event_time
            FROM core.stripe_events e {charge_customer}
            WHERE e.event_type = 'charge.dispute.created' AND e.charge_id IS NOT NULL AND e.reason IS NOT NULL""")
    if not parts:
        parts.append("SELECT NULL::VARCHAR, NULL::VARCHAR, NULL::VARCHAR, NULL::BOOLEAN, NULL::VARCHAR, "
                     f"NULL::{MONEY_SQL_TYPE}, NULL::TIMESTAMP WHERE false")
    union = " UNION ALL ".join(parts)
    select = f"""
        SELECT label_id, transaction_id, customer_id, is_fraud, fraud_type, amount, reported_time,
               CAST(reported_time AS DATE) AS partition_date
        FROM (SELECT * FROM ({union}) AS u(label_id, transaction_id, customer_id, is_fraud, fraud_type, amount, reported_time))
        QUALIFY row_number() OVER (PARTITION BY label_id ORDER BY reported_time, transaction_id) = 1
        ORDER BY reported_time, label_id"""
    return replace_table(con, STRIPE_FRAUD_LABELS, select)


def fraud_labels_sql(con: duckdb.DuckDBPyConnection) -> str:
    """A SELECT over every fraud-label source in this warehouse (``core.fraud_labels``, Stripe, analysts), same columns."""
    columns = ", ".join(FRAUD_LABEL_COLUMNS)
    parts = [f"SELECT {columns}, '{source}' AS source FROM {table}"
             for table, source in (("core.fraud_labels", "card"), (STRIPE_FRAUD_LABELS, "stripe"))
             if table_exists(con, table)]
    # Analysts' closed cases from the fraud monitor (their current disposition; lib/monitor/dispositions.py).
    from fintech_dataops.lib.monitor.dispositions import CORE_TABLE, LABEL_SOURCE, disposition_labels_sql

    if table_exists(con, CORE_TABLE):
        parts.append(f"SELECT {columns}, '{LABEL_SOURCE}' AS source FROM ({disposition_labels_sql()})")
    if not parts:
        raise LookupError("no fraud label table yet: materialize core/fraud_labels or open_banking/stripe_fraud_labels")
    return " UNION ALL ".join(parts)
