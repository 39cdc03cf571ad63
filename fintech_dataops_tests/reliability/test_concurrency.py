"""One DuckDB file, several processes at once: a backfill, another writer and readers all complete.

Real processes, the project's instance template (pool ``warehouse_write``, one slot,
granularity op): the backfill runs through ``dagster asset materialize``, the second
writer is a near-real-time-style job (priority 10, one run per day), and readers open
short read-only connections the whole time, plus the PM's ``fintech-dataops sql``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from fintech_dataops.lib import warehouse

DAYS = [f"2026-10-0{d}" for d in range(1, 6)]
BACKFILL_LINES, NRT_LINES = 30_000, 5_000


def step_windows(home: Path) -> list[tuple[float, float, str]]:
    """(start, end, run_id) of every executed step, from the instance's event log."""
    windows = []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs():
            starts, ends = {}, {}
            for record in instance.get_records_for_run(run.run_id, limit=10_000).records:
                event = record.event_log_entry.dagster_event
                if event is None:
                    continue
                if event.event_type_value == "STEP_START":
                    starts[event.step_key] = record.event_log_entry.timestamp
                elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
                    ends[event.step_key] = record.event_log_entry.timestamp
            windows += [(starts[k], ends[k], run.run_id) for k in starts if k in ends]
    return sorted(windows)


@pytest.mark.slow
def test_backfill_second_writer_and_readers_share_one_duckdb_file(platform):
    for day in DAYS:
        platform.land("transactions", day, "batch", BACKFILL_LINES)
        platform.land("consumer_events", day, "micro", NRT_LINES)
    stop = platform.data_dir / "stop-readers"
    readers = [platform.worker("read", str(stop)) for _ in range(2)]
    backfill = platform.dagster(
        "asset", "materialize", "-m", "fintech_dataops.definitions", "--select", "raw/transactions",
        "--partition-range", f"{DAYS[0]}...{DAYS[-1]}",
    )
    near_real_time = platform.worker(
        "materialize", "consumer_events", DAYS[0], DAYS[-1], "--per-day", "--priority", "10"
    )
    pm_sql = None
    deadline = time.monotonic() + 600
    while backfill.poll() is None or near_real_time.poll() is None:
        if pm_sql is None and platform.database.exists() and "fintech_dataops.commands.sql" in _commands():
            pm_sql = subprocess.Popen(
                [str(Path(sys.executable).parent / "fintech-dataops"), "sql", "SELECT 42 AS answer"],
                env=platform.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
        assert time.monotonic() < deadline, "writers did not finish in 10 minutes"
        time.sleep(0.2)
    stop.touch()
    backfill_out, backfill_err = backfill.communicate()
    nrt_out, nrt_err = near_real_time.communicate()
    reports = []
    for reader in readers:
        out, err = reader.communicate(timeout=180)
        assert reader.returncode == 0, err[-2000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))

    assert backfill.returncode == 0, backfill_err[-3000:]
    assert near_real_time.returncode == 0, nrt_err[-3000:]
    for text in (backfill_err, nrt_err):
        assert "Could not set lock" not in text and "WarehouseLockTimeout" not in text
    for report in reports:
        assert report["errors"] == [] and report["queries"] > 0, report
    if pm_sql is not None:
        out, err = pm_sql.communicate(timeout=300)
        assert pm_sql.returncode == 0, err[-2000:]
        assert "42" in out and "lock" not in (out + err).lower()

    with warehouse.connection(platform.database, read_only=True) as con:
        for table, lines in (("raw.transactions", BACKFILL_LINES), ("raw.consumer_events", NRT_LINES)):
            per_day = {
                day: (rows, distinct) for day, rows, distinct in con.execute(
                    f"SELECT CAST(partition_date AS VARCHAR), count(*), count(DISTINCT (source_file, line_number)) "
                    f"FROM {table} GROUP BY 1"
                ).fetchall()
            }
            assert per_day == {day: (lines, lines) for day in DAYS}, (table, per_day)

    # The pool held: no two warehouse-writing steps of different runs ever overlapped.
    windows = step_windows(platform.home)
    assert len({run for *_, run in windows}) == 1 + len(DAYS)
    for (_, end, run), (start, _, other) in zip(windows, windows[1:]):
        assert end <= start, f"steps of runs {run} and {other} overlapped: the pool was not enforced"
    print(json.dumps({"readers": reports, "runs": len(windows)}))


def _commands() -> tuple[str, ...]:
    from fintech_dataops.cli import COMMAND_MODULES

    return COMMAND_MODULES
