"""The fx_rate_available check WARNs with the currencies and days that have no reference rate."""

import dagster as dg
import duckdb

from fintech_dataops.defs.money.assets import fx_rate_available
from fintech_dataops.defs.resources import WarehouseResource


def test_fx_rate_available_warns_about_transactions_without_a_rate(data_dir):
    database = data_dir / "warehouse.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE SCHEMA core")
        con.execute("CREATE TABLE core.transactions AS SELECT * FROM (VALUES "
                    "('T1', 'GBP', 933.40::DECIMAL(18,3), DATE '2026-10-24'), "
                    "('T2', 'ARS', NULL::DECIMAL(18,3), DATE '2026-10-24')) "
                    "t(transaction_id, currency, amount_reporting, partition_date)")
    result = fx_rate_available(warehouse=WarehouseResource(data_dir=str(data_dir)))
    assert result.passed is False and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["fx_rate_missing"].value == 1
    assert result.metadata["by_currency_day"].value == [{"currency": "ARS", "day": "2026-10-24", "transactions": 1}]
    with duckdb.connect(str(database)) as con:
        con.execute("DELETE FROM core.transactions WHERE amount_reporting IS NULL")
    assert fx_rate_available(warehouse=WarehouseResource(data_dir=str(data_dir))).passed is True
