"""The sensors that turn failures into alerts (sent through the ``alert_sink`` resource).

- ``asset_check_failure_alerts``: for every run that finished since its cursor, one alert per failed
  asset-check evaluation of that run (WARN and ERROR severities, the severity is in the alert). Its
  first tick (no cursor) only records "now" (the latest finished run): history already in the instance
  never alerts, only failures of runs finishing after the sensor started.
- ``run_failure_alerts``: one alert per failed run (Dagster's run-status cursor).
"""

import json

import dagster as dg

from fintech_dataops.defs.alert_sink import AlertSink
from fintech_dataops.lib import alerts

# Finished runs handled per tick and per end state; the cursor carries the rest to the next tick.
MAX_RUNS_PER_TICK = 200
_FINISHED = (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.RUN_CANCELED)


def run_partition(run: dg.DagsterRun | None) -> str | None:
    """The partition (or ``first…last`` range) a run processed, from its tags."""
    if run is None:
        return None
    tags = run.tags
    if tags.get("dagster/partition"):
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start:
        return start if start == end else f"{start}…{end}"
    return None


def _evaluation_alerts(instance: dg.DagsterInstance, run_id: str) -> list[alerts.Alert]:
    """One alert per failed asset-check evaluation recorded by ``run_id``."""
    out = []
    partition = run_partition(instance.get_run_by_id(run_id))
    connection = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    for record in connection.records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if evaluation is None or evaluation.passed:
            continue
        details = {
            key: value.value for key, value in (evaluation.metadata or {}).items()
            if isinstance(value.value, (int, float, str, bool))
        }
        out.append(alerts.check_failure_alert(
            asset_key=evaluation.asset_key.to_user_string(),
            check_name=evaluation.check_name,
            severity=evaluation.severity.value,
            description=evaluation.description,
            partition=evaluation.partition or partition,
            run_id=run_id,
            storage_id=record.storage_id,
            details=details,
        ))
    return out


def failed_check_alerts_since(instance: dg.DagsterInstance, cursor: str | None) -> tuple[list[alerts.Alert], str]:
    """Alerts for the failed check evaluations of runs that finished after ``cursor``; and the new cursor.

    The cursor holds, per end state (success / failure / canceled), the position in the instance's
    run-status-change records: every finished run is read once, so every evaluation alerts once.
    Works on every instance storage (the default SQLite one is sharded by run).
    """
    positions = json.loads(cursor) if cursor else {}
    found: list[alerts.Alert] = []
    for event_type in _FINISHED:
        result = instance.fetch_run_status_changes(
            event_type, limit=MAX_RUNS_PER_TICK, cursor=positions.get(event_type.value), ascending=True
        )
        for record in result.records:
            found += _evaluation_alerts(instance, record.run_id)
        if result.records:
            positions[event_type.value] = result.cursor
    return found, json.dumps(positions, sort_keys=True)


def initial_cursor(instance: dg.DagsterInstance) -> str:
    """A cursor positioned after the latest finished run of each end state ("now")."""
    positions = {}
    for event_type in _FINISHED:
        result = instance.fetch_run_status_changes(event_type, limit=1, ascending=False)
        if result.records:
            positions[event_type.value] = result.cursor
    return json.dumps(positions, sort_keys=True)


@dg.sensor(
    name="asset_check_failure_alerts",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One alert per failed asset-check evaluation, read from each run when it finishes.",
)
def asset_check_failure_alerts(context: dg.SensorEvaluationContext, alert_sink: AlertSink):
    if context.cursor is None:
        context.update_cursor(initial_cursor(context.instance))
        return dg.SkipReason("first tick: cursor set to the latest finished run; only new failures alert")
    found, cursor = failed_check_alerts_since(context.instance, context.cursor)
    for alert in found:
        alert_sink.send(alert, context.log)
    if cursor != (context.cursor or "{}"):
        context.update_cursor(cursor)
    return dg.SkipReason(f"{len(found)} alert(s) sent" if found else "no new failed check evaluations")


@dg.run_failure_sensor(
    name="run_failure_alerts",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One alert per failed run.",
)
def run_failure_alerts(context: dg.RunFailureSensorContext, alert_sink: AlertSink):
    run = context.dagster_run
    message = context.failure_event.message or "run failed"
    alert_sink.send(
        alerts.run_failure_alert(
            job_name=run.job_name, run_id=run.run_id, message=message,
            partition=run_partition(run),
        ),
        context.log,
    )
