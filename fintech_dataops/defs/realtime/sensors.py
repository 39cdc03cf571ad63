"""The sensor of the near-real-time path: micro-batches landed by the service → the warehouse.

Warm path (default): the sensor processes each new batch itself, in the code server
that evaluates it (code, scikit-learn and the model already loaded), and reports the
three near-real-time assets as runless materializations (``SensorResult.asset_events``),
so they show in the UI with their lineage, one event per batch. A batch the warm path
cannot take (the warehouse held by another writer, an error) goes to
``realtime_fraud_job`` as before: one run, run_key = batch key. See lib/realtime/warm_path.py.

``FINTECH_NEARLINE_PATH=run`` (in the daemon's environment): one run per batch for
every batch, the previous behaviour (kept as the benchmark's peer and as a fallback).
"""

import dagster as dg

from fintech_dataops.defs.realtime.assets import (
    OP_NAME, RealtimeBatchConfig, batch_metadata, realtime_fraud_job,
)
from fintech_dataops.defs.resources import DataDirResource, WarehouseResource
from fintech_dataops.lib.realtime.landed_batches import (
    BatchCursor, LandedBatchFile, new_batches, parse_batch_key,
)
from fintech_dataops.lib.realtime.warm_path import WarmPathSettings, drain


def _run_request(batch: LandedBatchFile, reason: str | None = None) -> dg.RunRequest:
    tags = {"fintech/batch_id": batch.batch_id, "fintech/partition_date": batch.day}
    if reason:
        tags["fintech/deferred_from_warm_path"] = reason[:200]
    return dg.RunRequest(
        run_key=batch.key,
        run_config=dg.RunConfig(ops={OP_NAME: RealtimeBatchConfig(batches=[batch.key])}),
        tags=tags,
    )


@dg.sensor(
    job=realtime_fraud_job,
    # Dagster's sensor daemon loops every 5 s (fixed in dagster 1.13); an interval of 1 s only makes sure
    # no loop skips this sensor. The UI derives "~1 sec" from it, so the description states the real cadence.
    minimum_interval_seconds=1,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Ticks every 5 s (each loop of Dagster's sensor daemon, whose period is fixed; the ~1 sec "
    "interval only keeps any loop from skipping it). Processes the closed micro-batches of the decision "
    "service (landing/transactions rt-*.jsonl) itself, in the warm code server, watching for new ones for "
    "3.5 s of each tick, and reports the near-real-time assets as runless materializations; a batch it cannot "
    "take (warehouse busy, error) gets a realtime_fraud_job run, run_key = batch key; cursor = landing order "
    "(see lib/realtime/warm_path.py, landed_batches.py).",
)
def realtime_batch_sensor(context: dg.SensorEvaluationContext, data_dir: DataDirResource,
                          warehouse: WarehouseResource):
    settings = WarmPathSettings.from_env()
    cursor = BatchCursor.from_json(context.cursor)
    if settings.path == "run":
        batches, cursor = new_batches(data_dir.landing_dir, cursor)
        return dg.SensorResult(run_requests=[_run_request(b) for b in batches], cursor=cursor.to_json())
    # warehouse.target: the local file, or the md: database (its token comes from MOTHERDUCK_TOKEN).
    outcome = drain(warehouse.target, data_dir.landing_dir, data_dir.models_dir, cursor, settings=settings)
    asset_events = []
    for result in outcome.processed:
        day, batch_id = parse_batch_key(result.batch_id)
        for asset_key, metadata in batch_metadata([result]).items():
            asset_events.append(dg.AssetMaterialization(
                asset_key=asset_key, metadata={**metadata, "batch_key": result.batch_id},
                description=f"micro-batch {result.batch_id} (warm path: processed by realtime_batch_sensor)",
                tags={"fintech/batch_id": batch_id, "fintech/partition_date": day},
            ))
    if outcome.processed or outcome.deferred or outcome.skipped:
        context.log.info(
            f"warm path: {len(outcome.processed)} micro-batch(es) processed, {len(outcome.deferred)} handed to "
            f"runs, {len(outcome.skipped)} already processed, in {outcome.seconds:.2f}s ({outcome.looks} looks)")
    return dg.SensorResult(
        run_requests=[_run_request(batch, reason) for batch, reason in outcome.deferred],
        asset_events=asset_events,
        cursor=outcome.cursor.to_json(),
    )
