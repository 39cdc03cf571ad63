"""Put clean feed frames (e.g. the simulator's) into ``core.<feed>`` tables.

For tests, benchmarks and measurements of the credit domain before (or
without) running the ingestion and quality layers: each frame is cast to
``Feed.core_types`` (times as naive UTC) and given the lineage columns and the
reporting-currency twins of its money fields (``lib/money``, at the rates in
``core.fx_rates`` when that table exists), so the tables look exactly like the
ones the quality gates publish.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import pandas as pd

from fintech_dataops.lib.ingestion.feeds import FEEDS, LINEAGE_COLUMNS
from fintech_dataops.lib.money.core_columns import with_reporting_columns

CREDIT_FEEDS = (
    "customers", "transactions", "public_records", "partner_loans", "utility_payments",
    "telco_payments", "loan_applications", "loan_outcomes",
)


def _naive_utc(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series


def write_core_tables(
    con: duckdb.DuckDBPyConnection, feeds: Mapping[str, pd.DataFrame], names: tuple[str, ...] = CREDIT_FEEDS
) -> dict[str, int]:
    """Create (or replace) ``core.<name>`` from ``feeds[name]``; returns rows per table."""
    con.execute("CREATE SCHEMA IF NOT EXISTS core")
    rows: dict[str, int] = {}
    for name in names:
        if name not in feeds:
            continue
        feed = FEEDS[name]
        frame = feeds[name][list(feed.fields)].copy()
        for column in frame.columns:
            frame[column] = _naive_utc(frame[column])
        view = f"_core_frame_{name}"
        con.register(view, frame.reset_index(drop=True))
        try:
            casts = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in feed.core_types.items())
            lineage = {  # the landing day of the record, the frame it came from, its row
                "partition_date": f'CAST("{feed.time_field}" AS DATE)',
                "source_file": f"'simulated/{name}'",
                "line_number": "row_number() OVER ()",
            }
            lineage_sql = ", ".join(f"CAST({expr} AS {LINEAGE_COLUMNS[col]}) AS {col}" for col, expr in lineage.items())
            select = with_reporting_columns(con, feed, f"SELECT {casts}, {lineage_sql} FROM {view}")
            con.execute(f"CREATE OR REPLACE TABLE core.{name} AS {select}")
        finally:
            con.unregister(view)
        rows[name] = int(con.execute(f"SELECT count(*) FROM core.{name}").fetchall()[0][0])
    return rows
