"""The reporting-currency columns of core tables: ``<money field>_reporting`` next to each amount.

A feed whose records carry a ``currency`` has, for each of its money fields (``amount``,
``bill_amount``...), a ``<field>_reporting`` column: the amount in the reporting currency under the
date rule of :mod:`fintech_dataops.lib.money.fx`, at the rates in ``core.fx_rates``; NULL when the
rate is missing (never a guess). The record's own time field dates the conversion.
"""

from __future__ import annotations

import duckdb

from fintech_dataops.lib.ingestion.feeds import Feed
from fintech_dataops.lib.money.currencies import is_money_type
from fintech_dataops.lib.money.fx import FX_RATES_TABLE, MoneyConfig, reporting_amount_sql
from fintech_dataops.lib.warehouse import qualified, table_exists

REPORTING_SUFFIX = "_reporting"
_NO_RATES = "(SELECT NULL::DATE AS rate_date, NULL::VARCHAR AS currency, NULL::DECIMAL(18,8) AS rate WHERE false)"


def reporting_fields(feed: Feed) -> list[str]:
    """Money fields of ``feed`` that get a reporting-currency twin (only feeds that say their currency)."""
    if "currency" not in feed.fields:
        return []
    return [name for name, typ in feed.core_types.items() if is_money_type(typ)]


def rates_relation(con: duckdb.DuckDBPyConnection) -> str:
    return qualified(FX_RATES_TABLE) if table_exists(con, FX_RATES_TABLE) else _NO_RATES


def with_reporting_columns(con: duckdb.DuckDBPyConnection, feed: Feed, select_sql: str,
                           config: MoneyConfig | None = None) -> str:
    """``select_sql`` plus one ``<field>_reporting`` DECIMAL column per money field of ``feed``."""
    sql = select_sql
    rates = rates_relation(con)
    for name in reporting_fields(feed):
        sql = reporting_amount_sql(sql, amount=name, currency="currency", event_time=feed.time_field,
                                   config=config, rates_sql=rates, output_column=name + REPORTING_SUFFIX)
    return sql


def missing_rates(con: duckdb.DuckDBPyConnection, table: str = "core.transactions", column: str = "amount_reporting",
                  examples: int = 10) -> dict:
    """Rows of ``table`` whose amount has no reporting-currency value (no reference rate), by currency and day."""
    if not table_exists(con, table):
        return {"rows": 0, "missing": 0, "by_currency_day": []}
    rows, missing = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {column} IS NULL) FROM {qualified(table)}").fetchone()
    detail = con.execute(
        f"SELECT currency, CAST(partition_date AS VARCHAR), count(*) FROM {qualified(table)} WHERE {column} IS NULL "
        f"GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT {int(examples)}").fetchall() if missing else []
    return {"rows": int(rows), "missing": int(missing),
            "by_currency_day": [{"currency": c, "day": d, "transactions": int(n)} for c, d, n in detail]}
