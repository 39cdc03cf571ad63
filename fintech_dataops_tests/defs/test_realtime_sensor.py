"""The near-real-time sensor: warm path (processed in the sensor, runless materializations) and the
per-run path (one run per new micro-batch); cursor-safe across restarts either way."""

import os

import dagster as dg
import orjson
import pytest

from fintech_dataops.defs.realtime.assets import BATCH_LATENCY, OP_NAME, REALTIME_ALERTS, REALTIME_TRANSACTIONS
from fintech_dataops.defs.realtime.sensors import realtime_batch_sensor
from fintech_dataops.defs.resources import DataDirResource, WarehouseResource
from fintech_dataops.lib import warehouse
from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.realtime.warm_path import PATH_ENV, WATCH_ENV
from fintech_dataops_tests.lib.realtime.helpers import tx


def _land(landing_dir, batch_id, records, day="2026-03-01", mtime_s=None):
    body = b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in records)
    path = landing.land_batch(landing_dir, "transactions", day, batch_id, body)
    if mtime_s is not None:
        os.utime(path, ns=(int(mtime_s * 1e9),) * 2)
        os.utime(path.parent, ns=(int(mtime_s * 1e9),) * 2)
    return path


def _evaluate(data_dir, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources={
        "data_dir": DataDirResource(data_dir=str(data_dir)),
        "warehouse": WarehouseResource(data_dir=str(data_dir)),
    })
    return realtime_batch_sensor(context)


def _tick(data_dir, cursor=None):
    result = _evaluate(data_dir, cursor)
    return result.run_requests, result.cursor


@pytest.fixture
def run_path(monkeypatch):
    """The per-run path: one realtime_fraud_job run per micro-batch."""
    monkeypatch.setenv(PATH_ENV, "run")


@pytest.fixture
def warm_path(monkeypatch):
    """The warm path with one look per evaluation (no watching: the tests do not wait)."""
    monkeypatch.setenv(PATH_ENV, "warm")
    monkeypatch.setenv(WATCH_ENV, "0")


def _counts(data_dir):
    with warehouse.connection(data_dir / "warehouse.duckdb", read_only=True) as con:
        return [con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                for t in ("realtime.transactions", "fraud.realtime_alerts", "realtime.batch_latency")]


def test_warm_path_processes_a_new_batch_in_the_sensor_and_reports_its_assets(data_dir, landing_dir, warm_path):
    _land(landing_dir, "rt-0001", [tx("HV", "C-hv", 950.0), tx("OK", "C-ok", 10.0), b"{broken"], mtime_s=1_000)
    result = _evaluate(data_dir)
    assert result.run_requests == []
    events = {tuple(e.asset_key.path): e for e in result.asset_events}
    assert set(events) == {tuple(k.path) for k in (REALTIME_TRANSACTIONS, REALTIME_ALERTS, BATCH_LATENCY)}
    assert events[("fraud", "realtime_alerts")].metadata["dagster/row_count"].value == 1
    assert events[("realtime", "transactions")].metadata["quarantined"].value == 1  # the quality gate ran
    assert events[("realtime", "batch_latency")].tags == {"fintech/batch_id": "rt-0001",
                                                          "fintech/partition_date": "2026-03-01"}
    assert events[("realtime", "batch_latency")].metadata["batch_key"].value == "date=2026-03-01/rt-0001.jsonl"
    assert _counts(data_dir) == [2, 1, 1]
    again = _evaluate(data_dir, result.cursor)
    assert again.asset_events == [] and again.run_requests == [] and again.cursor == result.cursor
    assert _counts(data_dir) == [2, 1, 1]


def test_warm_path_restart_with_the_stored_cursor_misses_nothing_and_repeats_nothing(data_dir, landing_dir,
                                                                                      warm_path):
    _land(landing_dir, "rt-0001", [tx("T1")], mtime_s=1_000)
    stored = _evaluate(data_dir).cursor
    _land(landing_dir, "rt-0003", [tx("T3")], mtime_s=1_100)
    _land(landing_dir, "rt-0002", [tx("T2")], day="2026-02-28", mtime_s=1_200)
    result = _evaluate(data_dir, stored)
    assert [e.metadata["batch_key"].value for e in result.asset_events if e.asset_key == BATCH_LATENCY] == [
        "date=2026-03-01/rt-0003.jsonl", "date=2026-02-28/rt-0002.jsonl"]
    assert _counts(data_dir) == [3, 0, 3]
    # A lost cursor: the batches already in the warehouse are not processed (nor reported) again.
    lost = _evaluate(data_dir, None)
    assert lost.asset_events == [] and lost.run_requests == []
    assert _counts(data_dir) == [3, 0, 3]


def test_warm_path_hands_a_batch_to_a_run_while_another_process_holds_the_warehouse(data_dir, landing_dir,
                                                                                    warm_path):
    import subprocess
    import sys

    _land(landing_dir, "rt-0001", [tx("T1")], mtime_s=1_000)
    database = data_dir / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('ok', flush=True); "
         "sys.stdin.read()", str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"  # the other process holds the write lock now
        result = _evaluate(data_dir)
    finally:
        holder.stdin.close()
        holder.wait(30)
    assert result.asset_events == []
    assert [r.run_key for r in result.run_requests] == ["date=2026-03-01/rt-0001.jsonl"]
    assert result.run_requests[0].tags["fintech/deferred_from_warm_path"] == "warehouse busy"
    assert _evaluate(data_dir, result.cursor).run_requests == []  # requested once


def test_an_unknown_path_setting_is_refused(data_dir, monkeypatch):
    monkeypatch.setenv(PATH_ENV, "sideways")
    with pytest.raises(Exception, match="FINTECH_NEARLINE_PATH"):
        _evaluate(data_dir)


def test_a_new_batch_gets_one_run_request_keyed_by_the_batch(data_dir, landing_dir, run_path):
    _land(landing_dir, "rt-0001", [tx("T1")], mtime_s=1_000)
    requests, cursor = _tick(data_dir)
    assert [r.run_key for r in requests] == ["date=2026-03-01/rt-0001.jsonl"]
    assert requests[0].run_config["ops"][OP_NAME]["config"]["batches"] == ["date=2026-03-01/rt-0001.jsonl"]
    assert requests[0].tags["fintech/partition_date"] == "2026-03-01"
    again, same_cursor = _tick(data_dir, cursor)
    assert again == []
    assert same_cursor == cursor


def test_restart_with_the_stored_cursor_misses_nothing_and_repeats_nothing(data_dir, landing_dir, run_path):
    _land(landing_dir, "rt-0001", [tx("T1")], mtime_s=1_000)
    _, stored = _tick(data_dir)
    # the daemon is down; the service keeps landing (one of them a recovered, older WAL segment)
    _land(landing_dir, "rt-0003", [tx("T3")], mtime_s=1_100)
    _land(landing_dir, "rt-0002", [tx("T2")], day="2026-02-28", mtime_s=1_200)
    requests, cursor = _tick(data_dir, stored)
    assert [r.run_key for r in requests] == ["date=2026-03-01/rt-0003.jsonl", "date=2026-02-28/rt-0002.jsonl"]
    assert _tick(data_dir, cursor)[0] == []


def test_files_other_than_service_batches_do_not_trigger_runs(data_dir, landing_dir, run_path):
    _land(landing_dir, "sim-42", [tx("S1")], mtime_s=1_000)
    requests, _ = _tick(data_dir)
    assert requests == []


def test_the_sensor_states_the_cadence_it_really_has():
    """The daemon loops every 5 s whatever the interval; the UI shows "~1 sec" from the interval."""
    from dagster._daemon.sensor import MIN_INTERVAL_LOOP_TIME

    assert realtime_batch_sensor.minimum_interval_seconds <= MIN_INTERVAL_LOOP_TIME  # never skips a daemon loop
    assert realtime_batch_sensor.description.startswith(f"Ticks every {MIN_INTERVAL_LOOP_TIME} s")
