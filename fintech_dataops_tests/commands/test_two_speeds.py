"""The two speeds together, as an operator runs them, over the same day.

``fintech-dataops serve`` (a real process) takes replayed transactions and lands micro-batches;
SIGTERM stops it; the near-real-time job takes every landed batch through raw → quality → fraud
(``realtime.batch_latency``); then ``fintech-dataops run`` builds the daily pipeline over that same
day. Issue 13, item 6: on 1bf85e7 this daily run FAILED in ``kpis__latency`` (Binder Error on
``latency_ms``) as soon as the online service had landed events.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from fintech_dataops_tests.commands.test_serve import Service

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _cli(data_dir: Path, *args: str, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("FINTECH_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "fintech_dataops.cli", "--data-dir", str(data_dir), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_serve_replay_sigterm_near_real_time_then_the_daily_pipeline_over_the_same_day(data_dir):
    from fintech_dataops.commands.pipeline import ensure_dagster_home
    from fintech_dataops.defs.realtime.assets import OP_NAME
    from fintech_dataops.lib.warehouse import connection

    service = Service(data_dir, "--no-warm-start")
    try:
        replay = _cli(data_dir, "replay", "--url", service.url, "--eps", "200", "--seconds", "2",
                      "--batch-size", "20", "--customers", "300", timeout=300)
    finally:
        assert service.stop(signal.SIGTERM) == 0
    assert replay.returncode == 0, replay.stderr[-2000:]
    acknowledged = json.loads(replay.stdout)["acknowledged_events"]
    assert acknowledged >= 200
    landed = sorted((data_dir / "landing" / "transactions").glob("date=*/*.jsonl"))
    assert landed, "the service landed no micro-batch"
    days = sorted({p.parent.name.removeprefix("date=") for p in landed})

    # The near-real-time job over every landed micro-batch (empty config = catch up).
    ensure_dagster_home(data_dir)
    from fintech_dataops.definitions import defs

    nearline = defs.resolve_job_def("realtime_fraud_job").execute_in_process(
        instance=dg.DagsterInstance.get(), run_config={"ops": {OP_NAME: {"config": {"batches": []}}}})
    assert nearline.success
    database = data_dir / "warehouse.duckdb"
    with connection(database, read_only=True) as con:
        batches, events = con.execute("SELECT count(*), sum(events) FROM realtime.batch_latency").fetchone()
    assert batches == len(landed) and events == acknowledged

    # The daily pipeline over the same day(s), through the CLI.
    run = _cli(data_dir, "run", "--start", days[0], "--end", days[-1], timeout=1500)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "succeeded" in run.stdout
    with connection(database, read_only=True) as con:
        kpis = dict(con.execute(
            "SELECT kpi, value FROM (SELECT * FROM kpis.latency UNION ALL SELECT * FROM kpis.dq_score "
            "UNION ALL SELECT * FROM kpis.freshness UNION ALL SELECT * FROM kpis.ingest_rate)").fetchall())
        latency_details = json.loads(con.execute("SELECT details FROM kpis.latency").fetchone()[0])
        core_rows = con.execute("SELECT count(*) FROM core.transactions WHERE partition_date BETWEEN ? AND ?",
                                [days[0], days[-1]]).fetchone()[0]
    assert all(value is not None for value in kpis.values()), kpis
    assert kpis["latency"] > 0 and latency_details["batches"] == batches and latency_details["events"] == events
    assert core_rows == acknowledged  # the book of record holds every acknowledged event of the day
