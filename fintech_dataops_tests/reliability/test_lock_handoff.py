"""A writer working through many partitions hands the DuckDB file to processes waiting for it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from fintech_dataops.lib import warehouse

HOLD_LOCK = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(float(sys.argv[2]))"


def hold_lock(database: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(database), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_waiting_reader_gets_in_and_leaves_no_marker(tmp_path: Path):
    database = tmp_path / "w.duckdb"
    duckdb.connect(str(database)).close()
    holder = hold_lock(database, 1.0)
    try:
        started = time.monotonic()
        with warehouse.connection(database, read_only=True, wait_seconds=60) as con:
            assert con.execute("SELECT 1").fetchone() == (1,)
        assert time.monotonic() - started > 0.3  # it really waited for the holder
    finally:
        holder.wait(timeout=30)
    assert list(warehouse.waiters_dir(database).iterdir()) == []


def test_a_lock_timeout_is_a_clear_error_without_secrets(tmp_path: Path):
    database = tmp_path / "w.duckdb"
    duckdb.connect(str(database)).close()
    holder = hold_lock(database, 5.0)
    try:
        with pytest.raises(warehouse.WarehouseLockTimeout, match="stayed locked"):
            warehouse.connect(database, read_only=True, wait_seconds=0.5)
    finally:
        holder.kill()
        holder.wait()
    assert list(warehouse.waiters_dir(database).iterdir()) == []


def test_yield_to_waiters_waits_for_live_waiters_only_and_is_bounded(tmp_path: Path):
    database = tmp_path / "w.duckdb"
    assert warehouse.yield_to_waiters(database) == 0.0
    folder = warehouse.waiters_dir(database)
    folder.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / f"{dead.pid}-0").touch()  # a waiter killed while waiting: ignored
    assert warehouse.waiting_processes(database) == []
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (folder / f"{live.pid}-0").touch()
        assert warehouse.waiting_processes(database) == [live.pid]
        spent = warehouse.yield_to_waiters(database, max_seconds=0.3)
        assert 0.3 <= spent < 5
    finally:
        live.kill()
        live.wait()
    assert warehouse.yield_to_waiters("md:fintech") == 0.0
