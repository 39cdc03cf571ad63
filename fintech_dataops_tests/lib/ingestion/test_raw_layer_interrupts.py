"""A stop request (SIGTERM/SIGINT) while DuckDB reads a landed Parquet file is not a damaged file."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import pytest

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.ingestion.raw_layer import stage_partition

DAY = "2026-10-01"


class InterruptedOnParquet:
    """A connection whose Parquet reads are interrupted, as DuckDB reports a signal during a query."""

    def __init__(self, con):
        self._con = con

    def execute(self, sql, *args, **kwargs):
        if "read_parquet" in sql:
            raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


def test_an_interrupted_parquet_read_propagates_instead_of_flagging_the_file(tmp_path):
    landing_dir = tmp_path / "landing"
    source = tmp_path / "src.parquet"
    duckdb.sql("SELECT 'T1' AS transaction_id, 10.5 AS amount").write_parquet(str(source))
    landing.land_batch(landing_dir, "transactions", DAY, "pq", source.read_bytes(), suffix=".parquet")
    con = duckdb.connect()
    try:
        with pytest.raises(duckdb.InterruptException):
            stage_partition(InterruptedOnParquet(con), landing_dir, "transactions", DAY, datetime.now(timezone.utc))
    finally:
        con.close()
