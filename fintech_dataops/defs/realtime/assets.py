"""The near-real-time fraud path: one landed micro-batch → validated events, alerts and their latency.

Why a dedicated asset instead of re-running the daily assets per batch: ``raw``,
``core`` and ``fraud`` are *day*-partitioned, so materializing them for one
one-second batch would re-read and rewrite the whole day every second. This
multi-asset runs the same library functions (raw stage, pandera quality gate,
``FraudEngine``) on just the batch named in its config, and writes three tables
of its own, idempotently per batch. The daily partitions remain the book of
record for ``raw``/``core``/``quarantine``/``fraud.alerts``.

Heavy modules (pandas, pandera, the engine) are imported inside the body: every
run process pays for its imports, and this path is measured in seconds.
"""

import dagster as dg
from pydantic import Field

from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL
from fintech_dataops.defs.resources import DataDirResource, WarehouseResource

REALTIME_TRANSACTIONS = dg.AssetKey(["realtime", "transactions"])
REALTIME_ALERTS = dg.AssetKey(["fraud", "realtime_alerts"])
BATCH_LATENCY = dg.AssetKey(["realtime", "batch_latency"])
OP_NAME = "realtime_fraud_batch"


class RealtimeBatchConfig(dg.Config):
    batches: list[str] = Field(
        default_factory=list,
        description="Micro-batch keys 'date=YYYY-MM-DD/<batch id>.jsonl' under landing/transactions; "
        "empty = every landed service batch not processed yet (catch-up)",
    )
    max_catch_up: int = Field(default=200, description="At most this many batches in one catch-up run")


@dg.multi_asset(
    name=OP_NAME,
    group_name="realtime",
    pool=WAREHOUSE_WRITE_POOL,
    specs=[
        dg.AssetSpec(
            REALTIME_TRANSACTIONS, kinds={"duckdb"},
            description="Validated events of the service's micro-batches (core columns + batch_id), "
            "loaded one batch per run; history for the near-real-time scoring.",
            metadata={"dagster/table_name": "realtime.transactions"},
        ),
        dg.AssetSpec(
            REALTIME_ALERTS, kinds={"duckdb", "pandas"}, deps=[REALTIME_TRANSACTIONS],
            description="review/block decisions of the FraudEngine on each landed micro-batch, with reasons, "
            "minutes before the daily fraud.alerts partition.",
            metadata={"dagster/table_name": "fraud.realtime_alerts"},
        ),
        dg.AssetSpec(
            BATCH_LATENCY, kinds={"duckdb"}, deps=[REALTIME_ALERTS],
            description="Per micro-batch: events, landed_at, alerted_at and latency (event time → alert row "
            "written: p50/p99/max; file landed → alert row).",
            metadata={"dagster/table_name": "realtime.batch_latency"},
        ),
    ],
)
def realtime_fraud_batch(
    context: dg.AssetExecutionContext,
    config: RealtimeBatchConfig,
    data_dir: DataDirResource,
    warehouse: WarehouseResource,
):
    from fintech_dataops.lib.realtime.nearline import process_batch

    keys = list(config.batches) or _pending_batches(warehouse, data_dir)[: config.max_catch_up]
    results = []
    for key in keys:
        try:
            # warehouse.target: the local file, or the md: database (its token comes from MOTHERDUCK_TOKEN).
            results.append(process_batch(warehouse.target, data_dir.landing_dir, data_dir.models_dir, key,
                                         lock_wait_seconds=warehouse.lock_wait_seconds))
        except (FileNotFoundError, ValueError) as exc:
            # A key that names no landed batch is bad input, not a crash: report it, keep going.
            context.log.warning(f"skipped micro-batch {key!r}: {exc}")
    context.log.info(f"{len(results)} micro-batch(es): {sum(r.events for r in results)} events, "
                     f"{sum(r.valid for r in results)} valid, {sum(r.alerts for r in results)} alerts")
    for asset_key, metadata in batch_metadata(results).items():
        yield dg.MaterializeResult(asset_key=asset_key, metadata=metadata)


def batch_metadata(results) -> dict[dg.AssetKey, dict]:
    """The metadata of the three near-real-time assets for processed micro-batches (``BatchResult``s):
    the same on a run of ``realtime_fraud_job`` and on the sensor's runless materializations."""
    events = sum(r.events for r in results)
    valid = sum(r.valid for r in results)
    alerts = sum(r.alerts for r in results)
    last = results[-1] if results else None
    per_batch = [r.metadata() for r in results]
    from fintech_dataops.defs.previews import table_preview

    preview = table_preview(last.preview.drop(columns=["batch_id"]) if last is not None and last.preview is not None
                            else None)
    return {
        REALTIME_TRANSACTIONS: {
            "dagster/row_count": valid, "events": events, "batches": len(results),
            "quarantined": sum(r.quarantined for r in results),
        },
        REALTIME_ALERTS: {
            "dagster/row_count": alerts, "preview": preview,
            "model_version": last.model_version if last else None,
        },
        BATCH_LATENCY: {
            "dagster/row_count": len(results),
            "latency_ms_p50": last.latency_ms_p50 if last else None,
            "latency_ms_p99": last.latency_ms_p99 if last else None,
            "landed_to_alert_ms": last.landed_to_alert_ms if last else None,
            "batches": dg.MetadataValue.json(per_batch[-20:]),
        },
    }


realtime_fraud_job = dg.define_asset_job(
    name="realtime_fraud_job",
    selection=dg.AssetSelection.assets(realtime_fraud_batch),
    executor_def=dg.in_process_executor,
    # The instance orders waiting pool claims and queued runs by priority: a micro-batch goes
    # ahead of a backfill step (see fintech_dataops/instance/dagster.yaml).
    run_tags={"dagster/priority": "10"},
    description="One landed micro-batch of the decision service → validated events → alerts → latency "
    "(in-process executor: no per-step process, the latency path pays one process start only).",
)


def _pending_batches(warehouse: WarehouseResource, data_dir: DataDirResource) -> list[str]:
    """Landed micro-batches with no ``realtime.batch_latency`` row yet, on a local or a remote warehouse."""
    from fintech_dataops.lib import warehouse as wh
    from fintech_dataops.lib.realtime.landed_batches import scan_batches
    from fintech_dataops.lib.realtime.nearline import LATENCY_TABLE, unprocessed_batches

    if warehouse.is_local_file:
        return unprocessed_batches(warehouse.path, data_dir.landing_dir)
    landed = [b.key for b in scan_batches(data_dir.landing_dir)]
    if not landed:
        return []
    with warehouse.read_connection() as con:
        if not wh.table_exists(con, LATENCY_TABLE):
            return landed
        done = {r[0] for r in con.execute(f"SELECT batch_id FROM {wh.qualified(LATENCY_TABLE)}").fetchall()}
    return [k for k in landed if k not in done]
