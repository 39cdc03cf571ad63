"""Where downstream domains read transactions from.

Card transactions arrive through the ``transactions`` feed (``core.transactions``).
Bank transactions pulled from Plaid are kept by the open-banking domain in
``open_banking.platform_transactions`` with the same columns. Fraud and credit
features read the union through :func:`transactions_sql`, so a new source only
has to publish a table with these columns.
"""

from __future__ import annotations

import duckdb

from fintech_dataops.lib.warehouse import table_exists

PLATFORM_TRANSACTION_COLUMNS = (
    "transaction_id", "customer_id", "merchant_id", "amount", "currency", "event_time",
    "channel", "merchant_category", "country", "device_id", "partition_date",
)
CARD_TRANSACTIONS = "core.transactions"
OPEN_BANKING_TRANSACTIONS = "open_banking.platform_transactions"


def transactions_sql(con: duckdb.DuckDBPyConnection, *, include_open_banking: bool = True) -> str:
    """A SELECT over every transaction source that exists in this warehouse."""
    columns = ", ".join(PLATFORM_TRANSACTION_COLUMNS)
    parts = [
        f"SELECT {columns}, 'card' AS source FROM {table}"
        for table in (CARD_TRANSACTIONS,)
        if table_exists(con, table)
    ]
    if include_open_banking and table_exists(con, OPEN_BANKING_TRANSACTIONS):
        parts.append(f"SELECT {columns}, 'open_banking' AS source FROM {OPEN_BANKING_TRANSACTIONS}")
    if not parts:
        raise LookupError("no transaction table yet: materialize core/transactions first")
    return " UNION ALL ".join(parts)
