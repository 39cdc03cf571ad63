"""raw → core for the feeds declared ``partitioning="landed_days"`` (API pulls, the advisor's turns):
every landed day of a feed, through the platform's loaders.

API pulls are cursor-driven, not day-driven: a sync lands into the day it ran,
so these steps (re)load every landed day of the feed. Both loaders replace
whole partitions atomically, so a rerun never duplicates.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.ingestion.raw_layer import RawLoadResult, load_raw_partitions
from fintech_dataops.lib.warehouse import table_exists


def landed_days(landing_dir: Path, feed: str) -> list[str]:
    return [d.isoformat() for d in landing.landed_days(landing_dir, feed)]


def load_raw_feed(con: duckdb.DuckDBPyConnection, landing_dir: Path, feed: str,
                  ingested_at: datetime | None = None) -> RawLoadResult:
    return load_raw_partitions(con, landing_dir, feed, landed_days(landing_dir, feed), ingested_at)


def load_core_feed(con: duckdb.DuckDBPyConnection, feed: str, *, now: datetime | None = None, money=None):
    """Validate every raw partition of ``feed`` into core / quarantine (returns ``lib.quality.core_gate.QualityResult``)."""
    from fintech_dataops.lib.quality.core_gate import QualityResult, load_core_partitions

    days = []
    if table_exists(con, f"raw.{feed}"):
        days = [str(d) for (d,) in con.execute(
            f'SELECT DISTINCT CAST(partition_date AS VARCHAR) FROM raw."{feed}" ORDER BY 1').fetchall()]
    if not days:
        return QualityResult(feed=feed, partition_dates=[])
    return load_core_partitions(con, feed, days, now=now, money=money)
