"""``quality/dq_scores``: the data-quality score per feed and day, as an asset of its own.

It reads the core, quarantine and raw partitions the core assets wrote, so it runs after all of
them, and ``kpis/dq_score``, ``marts/data_quality_by_feed_day`` and the monitor run after it.
"""

import time

import dagster as dg

from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL, daily_partitions, per_partition_metadata
from fintech_dataops.defs.resources import WarehouseResource
from fintech_dataops.lib.ingestion.feeds import FEEDS

DQ_COLUMNS = dg.TableSchema(columns=[
    dg.TableColumn("partition_date", "DATE", description="Landing-zone day"),
    dg.TableColumn("feed", "VARCHAR", description="Feed name"),
    dg.TableColumn("raw_rows", "BIGINT", description="Lines received (raw.<feed>)"),
    dg.TableColumn("valid_rows", "BIGINT", description="Rows that passed the contract (core.<feed>)"),
    dg.TableColumn("quarantined_rows", "BIGINT", description="Lines quarantined with a reason (quarantine.<feed>)"),
    dg.TableColumn("dq_score", "DOUBLE", description="% of received lines that are valid (100 when none arrived)"),
    dg.TableColumn("computed_at", "TIMESTAMP", description="When the row was computed (UTC)"),
])


def build_dq_scores_asset(feed_names: list[str] | None = None) -> dg.AssetsDefinition:
    feed_names = feed_names or list(FEEDS)

    @dg.asset(
        key=["quality", "dq_scores"],
        deps=[dg.AssetKey(["core", feed]) for feed in feed_names],
        partitions_def=daily_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="quality",
        kinds={"duckdb"},
        pool=WAREHOUSE_WRITE_POOL,
        description="Data-quality score per feed and day: lines received, valid, quarantined, and the share "
                    "valid (target 99.9 %). Counted from the stored raw, core and quarantine tables.",
        metadata={"dagster/table_name": "quality.dq_scores", "dagster/column_schema": DQ_COLUMNS},
    )
    def dq_scores(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        from fintech_dataops.lib.quality.core_gate import DQ_TABLE, write_dq_scores

        started = time.perf_counter()
        days = context.partition_keys
        with warehouse.get_connection() as con:
            rows = write_dq_scores(con, feed_names, days)
            per_feed = con.execute(
                f"SELECT feed, sum(raw_rows), sum(valid_rows), sum(quarantined_rows) FROM {DQ_TABLE} "
                "WHERE partition_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) GROUP BY feed ORDER BY feed",
                [min(days), max(days)],
            ).fetchall()
        raw = sum(r[1] for r in per_feed)
        valid = sum(r[2] for r in per_feed)
        score = round(100.0 * valid / raw, 4) if raw else 100.0
        context.log.info(f"quality.dq_scores: {rows} (day, feed) rows for {days[0]} … {days[-1]}; DQ {score:.2f} %")
        return dg.MaterializeResult(metadata=per_partition_metadata({
            "dagster/row_count": rows,
            "dq_score": score,
            "seconds": round(time.perf_counter() - started, 3),
            "by_feed": dg.MetadataValue.table(
                records=[
                    dg.TableRecord({"feed": feed, "raw_rows": int(r), "valid_rows": int(v), "quarantined_rows": int(q),
                                    "dq_score": round(100.0 * v / r, 3) if r else 100.0})
                    for feed, r, v, q in per_feed
                ],
                schema=dg.TableSchema(columns=[
                    dg.TableColumn("feed", "string"), dg.TableColumn("raw_rows", "int"),
                    dg.TableColumn("valid_rows", "int"), dg.TableColumn("quarantined_rows", "int"),
                    dg.TableColumn("dq_score", "float"),
                ]),
            ),
        }, days, measured_over_days=("dagster/row_count", "dq_score")))

    return dq_scores
