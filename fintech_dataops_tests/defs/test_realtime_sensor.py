"""The near-real-time sensor: one run per new micro-batch, cursor-safe across restarts."""

import os

import dagster as dg
import orjson

from fintech_dataops.defs.realtime.assets import OP_NAME
from fintech_dataops.defs.realtime.sensors import realtime_batch_sensor
from fintech_dataops.defs.resources import DataDirResource
from fintech_dataops.lib.ingestion import landing
from fintech_dataops_tests.lib.realtime.helpers import tx


def _land(landing_dir, batch_id, records, day="2026-03-01", mtime_s=None):
    body = b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records)
    path = landing.land_batch(landing_dir, "transactions", day, batch_id, body)
    if mtime_s is not None:
        os.utime(path, ns=(int(mtime_s * 1e9),) * 2)
        os.utime(path.parent, ns=(int(mtime_s * 1e9),) * 2)
    return path


def _tick(data_dir, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources={"data_dir": DataDirResource(data_dir=str(data_dir))})
    result = realtime_batch_sensor(context)
    return result.run_requests, result.cursor


def test_a_new_batch_gets_one_run_request_keyed_by_the_batch(data_dir, landing_dir):
    _land(landing_dir, "rt-0001", [tx("T1")], mtime_s=1_000)
    requests, cursor = _tick(data_dir)
    assert [r.run_key for r in requests] == ["date=2026-03-01/rt-0001.jsonl"]
    assert requests[0].run_config["ops"][OP_NAME]["config"]["batches"] == ["date=2026-03-01/rt-0001.jsonl"]
    assert requests[0].tags["fintech/partition_date"] == "2026-03-01"
    again, same_cursor = _tick(data_dir, cursor)
    assert again == []
    assert same_cursor == cursor


def test_restart_with_the_stored_cursor_misses_nothing_and_repeats_nothing(data_dir, landing_dir):
    _land(landing_dir, "rt-0001", [tx("T1")], mtime_s=1_000)
    _, stored = _tick(data_dir)
    # the daemon is down; the service keeps landing (one of them a recovered, older WAL segment)
    _land(landing_dir, "rt-0003", [tx("T3")], mtime_s=1_100)
    _land(landing_dir, "rt-0002", [tx("T2")], day="2026-02-28", mtime_s=1_200)
    requests, cursor = _tick(data_dir, stored)
    assert [r.run_key for r in requests] == ["date=2026-03-01/rt-0003.jsonl", "date=2026-02-28/rt-0002.jsonl"]
    assert _tick(data_dir, cursor)[0] == []


def test_files_other_than_service_batches_do_not_trigger_runs(data_dir, landing_dir):
    _land(landing_dir, "sim-42", [tx("S1")], mtime_s=1_000)
    requests, _ = _tick(data_dir)
    assert requests == []


def test_the_sensor_states_the_cadence_it_really_has():
    """The daemon loops every 5 s whatever the interval; the UI shows "~1 sec" from the interval."""
    from dagster._daemon.sensor import MIN_INTERVAL_LOOP_TIME

    assert realtime_batch_sensor.minimum_interval_seconds <= MIN_INTERVAL_LOOP_TIME  # never skips a daemon loop
    assert realtime_batch_sensor.description.startswith(f"Ticks every {MIN_INTERVAL_LOOP_TIME} s")
