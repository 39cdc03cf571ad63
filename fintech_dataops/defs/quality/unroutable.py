"""``quality/unroutable_files``: every landing-zone entry that no loader reads, with its reason.

Not partitioned: it is the current state of the whole landing zone, rescanned on each run of the
daily pipeline. Its check ``no_unroutable_files`` fails (ERROR when records are stranded, WARN for
empty entries), so the ``asset_check_failure_alerts`` sensor sends an alert through the alert sink;
the ``dq_score`` KPI counts the stranded records (``lib/analytics/kpis.py``).
"""

from datetime import date

import dagster as dg

from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL, daily_partitions
from fintech_dataops.defs.resources import DataDirResource, WarehouseResource
from fintech_dataops.lib.ingestion.landing_audit import UNROUTABLE_TABLE, RoutableFeed

UNROUTABLE_KEY = dg.AssetKey(UNROUTABLE_TABLE.split("."))
UNROUTABLE_CHECK = "no_unroutable_files"
_EXAMPLES = 20


def routable_feeds() -> list[RoutableFeed]:
    """Feed folders the platform reads, with the days the daily partitions can load (from each feed's declaration)."""
    from fintech_dataops.lib.realtime.wal import DECISIONS_FEED
    from fintech_dataops.schemas import feed_for, registered_feeds

    first = date.fromisoformat(daily_partitions.get_first_partition_key())
    last = date.fromisoformat(daily_partitions.get_last_partition_key())
    # Day-partitioned feeds are loaded one partition at a time: a day outside the partitions is never read.
    # Feeds declared partitioning="landed_days" reload every landed day; the service's decision record is kept as landed.
    feeds = [RoutableFeed(feed.name, first, last) if feed.partitioning == "daily" else RoutableFeed(feed.name)
             for feed in map(feed_for, registered_feeds())]
    feeds.append(RoutableFeed(DECISIONS_FEED))
    return feeds


@dg.asset(
    key=UNROUTABLE_KEY,
    group_name="quality",
    kinds={"duckdb"},
    pool=WAREHOUSE_WRITE_POOL,
    check_specs=[dg.AssetCheckSpec(
        UNROUTABLE_CHECK, asset=UNROUTABLE_KEY,
        description="No file under landing/ is left unread: ERROR when stranded records exist, WARN for empty entries.",
    )],
    description=(
        "Every entry under landing/ that no loader reads (wrong suffix, hidden, folder instead of file, "
        "bad or out-of-range date folder, unknown feed, stale temp file), with its reason and record count."
    ),
    metadata={"dagster/table_name": UNROUTABLE_TABLE},
)
def unroutable_files(context: dg.AssetExecutionContext, data_dir: DataDirResource, warehouse: WarehouseResource):
    from fintech_dataops.lib.ingestion.landing_audit import scan_unroutable, write_unroutable

    entries = scan_unroutable(data_dir.landing_dir, routable_feeds(), max_count_bytes=data_dir.max_file_bytes)
    with warehouse.get_connection() as con:
        write_unroutable(con, entries)
    records = sum(e.records for e in entries)
    by_reason: dict[str, int] = {}
    for entry in entries:
        by_reason[entry.reason] = by_reason.get(entry.reason, 0) + 1
    examples = [{"path": e.path, "reason": e.reason, "records": e.records} for e in entries[:_EXAMPLES]]
    if entries:
        context.log.warning(
            f"{len(entries)} unroutable landing entr{'y' if len(entries) == 1 else 'ies'} "
            f"({records} record(s)): {by_reason}"
        )
    yield dg.MaterializeResult(metadata={
        "dagster/row_count": len(entries), "records": records,
        "by_reason": dg.MetadataValue.json(by_reason),
    })
    yield dg.AssetCheckResult(
        check_name=UNROUTABLE_CHECK,
        passed=not entries,
        severity=dg.AssetCheckSeverity.ERROR if records else dg.AssetCheckSeverity.WARN,
        description=None if not entries else
        f"{len(entries)} landing entr{'y' if len(entries) == 1 else 'ies'} no loader reads "
        f"({records} record(s)); see {UNROUTABLE_TABLE}",
        metadata={"entries": len(entries), "records": records, "by_reason": dg.MetadataValue.json(by_reason),
                  "examples": dg.MetadataValue.json(examples)},
    )
