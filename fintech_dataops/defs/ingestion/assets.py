"""Raw layer: one daily-partitioned asset per landing-zone feed (table raw.<feed>)."""


import dagster as dg

from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL, daily_partitions, per_partition_metadata
from fintech_dataops.defs.resources import DataDirResource, WarehouseResource
from fintech_dataops.lib.ingestion.feeds import FEEDS, Feed
from fintech_dataops.lib.ingestion.raw_layer import load_raw_days

RAW_COLUMN_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("partition_date", "DATE", description="Landing-zone day (date=YYYY-MM-DD folder)"),
        dg.TableColumn("source_file", "VARCHAR", description="Landed file, relative to the landing zone"),
        dg.TableColumn("line_number", "BIGINT", description="1-based line (or Parquet row) in the file"),
        dg.TableColumn("record", "VARCHAR", description="The record exactly as received (text)"),
        dg.TableColumn("record_bytes", "BLOB", description="Exact bytes, only when the line is not valid UTF-8"),
        dg.TableColumn("ingested_at", "TIMESTAMPTZ", description="When this load ran"),
        dg.TableColumn("original_bytes", "BIGINT", description="Size of the line as landed (before any truncation)"),
        dg.TableColumn(
            "ingest_issue", "VARCHAR",
            description="NULL, or why the row is not the whole line: line_too_long, file_too_large, "
                        "symlink_refused, unreadable_file (see lib/ingestion/limits.py)",
        ),
    ]
)


# Measured per day: over a range (one run) they are reported as <name>_over_range, not as each day's.
RAW_PER_DAY_MEASURES = ("dagster/row_count", "files", "bytes_read", "undecodable_lines", "truncated_lines",
                        "refused_files", "rows_per_second")


def build_raw_asset(feed: Feed, group_name: str = "ingestion",
                    deps: tuple[dg.AssetKey, ...] = ()) -> dg.AssetsDefinition:
    """The raw asset of a declared feed: daily partitions, or every landed day (``feed.partitioning``)."""
    daily = feed.partitioning == "daily"

    @dg.asset(
        key=["raw", feed.name],
        deps=list(deps),
        partitions_def=daily_partitions if daily else None,
        backfill_policy=dg.BackfillPolicy.single_run() if daily else None,
        group_name=group_name,
        kinds={"duckdb"},
        pool=WAREHOUSE_WRITE_POOL,
        description=f"{feed.description} Every landed line"
                    f"{'' if daily else ' (all landed days)'}, losslessly, with lineage.",
        metadata={"dagster/column_schema": RAW_COLUMN_SCHEMA, "dagster/table_name": f"raw.{feed.name}"},
    )
    def raw_feed(context: dg.AssetExecutionContext, data_dir: DataDirResource, warehouse: WarehouseResource):
        if not daily:
            from fintech_dataops.lib.ingestion.landed_days import load_raw_feed

            with warehouse.get_connection() as con:
                landed = load_raw_feed(con, data_dir.landing_dir, feed.name)
            return dg.MaterializeResult(metadata={
                "dagster/row_count": landed.rows, "files": landed.files, "days": len(landed.partition_dates),
                "seconds": round(landed.seconds, 3),
            })
        days = context.partition_keys
        # One short connection per day: a long backfill lets other writers and readers in between days.
        result = load_raw_days(
            warehouse.get_connection, data_dir.landing_dir, feed.name, days, data_dir.ingest_limits,
            between_days=warehouse.yield_to_waiters,
        )
        context.log.info(
            f"raw.{feed.name}: {result.rows} lines from {result.files} files over {len(days)} day(s) "
            f"in {result.seconds:.2f}s"
        )
        # Each day's own count, on that partition (a run over a range would otherwise show the range's
        # total on every day): one observation per partition, plotted per day in the UI.
        for day in days:
            context.log_event(dg.AssetObservation(
                asset_key=context.asset_key, partition=day,
                metadata={"dagster/row_count": result.rows_per_day.get(day, 0)},
            ))
        return dg.MaterializeResult(
            metadata=per_partition_metadata({
                "dagster/row_count": result.rows,
                "files": result.files,
                "bytes_read": result.bytes_read,
                "undecodable_lines": result.undecodable_lines,
                "truncated_lines": result.truncated_lines,
                "refused_files": result.refused_files,
                "seconds": round(result.seconds, 3),
                "rows_per_second": round(result.rows_per_second),
                "rows_per_day": dg.MetadataValue.json(result.rows_per_day),
            }, days, measured_over_days=RAW_PER_DAY_MEASURES)
        )

    return raw_feed


def build_feed_assets(feed: Feed, group_name: str,
                      landing: dg.AssetKey | None = None) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    """raw/core (+ the quarantine table core writes) of a declared feed, for a domain that lands it itself
    (``landing`` = its landing asset).

    The same factories build the simulator feeds' pairs (raw in ``ingestion``, core in ``quality``).
    """
    from fintech_dataops.defs.quality.assets import build_core_asset, quarantine_spec

    return [build_raw_asset(feed, group_name, (landing,) if landing else ()),
            build_core_asset(feed, group_name=group_name), quarantine_spec(feed, group_name)]


def partner_feeds() -> list[Feed]:
    """Every declared feed no domain lands itself (``Feed.domain`` None): the simulator's and any new partner feed."""
    from fintech_dataops.schemas import feed_for, registered_feeds

    return [feed for feed in map(feed_for, registered_feeds()) if feed.domain is None]


raw_assets = [build_raw_asset(feed) for feed in partner_feeds()]
