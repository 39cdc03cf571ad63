"""The sensor that launches ``realtime_fraud_job`` once per new micro-batch landed by the service."""

import dagster as dg

from fintech_dataops.defs.realtime.assets import OP_NAME, RealtimeBatchConfig, realtime_fraud_job
from fintech_dataops.defs.resources import DataDirResource
from fintech_dataops.lib.realtime.landed_batches import BatchCursor, new_batches


@dg.sensor(
    job=realtime_fraud_job,
    # Dagster's sensor daemon loops every 5 s (fixed in dagster 1.13); an interval of 1 s only makes sure
    # no loop skips this sensor. The UI derives "~1 sec" from it, so the description states the real cadence.
    minimum_interval_seconds=1,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Ticks every 5 s (each loop of Dagster's sensor daemon, whose period is fixed; the ~1 sec "
    "interval only keeps any loop from skipping it). Watches landing/transactions for closed micro-batches "
    "of the decision service (rt-*.jsonl); one run per batch, run_key = batch key, cursor = landing order "
    "(see lib/realtime/landed_batches.py).",
)
def realtime_batch_sensor(context: dg.SensorEvaluationContext, data_dir: DataDirResource):
    batches, cursor = new_batches(data_dir.landing_dir, BatchCursor.from_json(context.cursor))
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=batch.key,
                run_config=dg.RunConfig(ops={OP_NAME: RealtimeBatchConfig(batches=[batch.key])}),
                tags={"fintech/batch_id": batch.batch_id, "fintech/partition_date": batch.day},
            )
            for batch in batches
        ],
        cursor=cursor.to_json(),
    )
