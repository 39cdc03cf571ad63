"""SIGKILL a process that is materializing a partition: old or new partition, never half; reruns are exact."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from fintech_dataops.lib import warehouse
from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions

DAY = "2026-10-01"
OLD_LINES, NEW_LINES = 60_000, 120_000


def partition_state(database: Path) -> tuple[int, int, set[str]]:
    """(rows, duplicate (file, line) keys, files) of raw.transactions for DAY; opening it replays the WAL."""
    with warehouse.connection(database) as con:
        rows, distinct = con.execute(
            "SELECT count(*), count(DISTINCT (source_file, line_number)) FROM raw.transactions WHERE partition_date = ?",
            [DAY],
        ).fetchone()
        files = {r[0] for r in con.execute(
            "SELECT DISTINCT source_file FROM raw.transactions WHERE partition_date = ?", [DAY]
        ).fetchall()}
    return rows, rows - distinct, files


def wait_for(path: Path, process, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"worker exited early ({process.returncode}): {process.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("worker never reached the write")
        time.sleep(0.005)


def load_old_partition(platform) -> None:
    platform.land("transactions", DAY, "a-old", OLD_LINES)
    with warehouse.connection(platform.database) as con:
        load_raw_partitions(con, platform.landing_dir, "transactions", [DAY])
    platform.land("transactions", DAY, "b-late", NEW_LINES - OLD_LINES)  # the rerun's new data


def recover_after_crash(platform) -> None:
    """The documented recovery step: the killed run still holds its warehouse_write slot until this."""
    recover = subprocess.run(
        [str(Path(sys.executable).parent / "fintech-dataops"), "recover"],
        env=platform.env, capture_output=True, text=True, timeout=120,
    )
    assert recover.returncode == 0, recover.stderr[-3000:]
    assert "its process" in recover.stdout and "is gone" in recover.stdout, recover.stdout
    assert "freeing them" in recover.stdout, recover.stdout


OLD_FILES = {f"transactions/date={DAY}/a-old.jsonl"}
NEW_FILES = OLD_FILES | {f"transactions/date={DAY}/b-late.jsonl"}


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_seconds", [0.0, 0.05, 0.2])
def test_sigkill_mid_write_leaves_old_or_new_partition_and_rerun_is_exact(platform, kill_after_seconds):
    load_old_partition(platform)
    marker = platform.data_dir / "in-transaction"
    worker = platform.worker("crash-in-write", "transactions", DAY, str(marker))
    wait_for(marker, worker)
    time.sleep(kill_after_seconds)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL

    rows, duplicates, files = partition_state(platform.database)
    assert duplicates == 0
    recover_after_crash(platform)
    assert (rows, files) in [(OLD_LINES, OLD_FILES), (NEW_LINES, NEW_FILES)], (rows, files)
    print(f"killed {kill_after_seconds}s into the write transaction: {'new' if rows == NEW_LINES else 'old'} partition kept")

    rerun = platform.worker("materialize", "transactions", DAY, DAY)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err[-3000:]
    assert partition_state(platform.database) == (NEW_LINES, 0, NEW_FILES)


@pytest.mark.slow
def test_sigkill_after_commit_keeps_the_new_partition_via_wal_recovery(platform):
    load_old_partition(platform)
    marker = platform.data_dir / "committed"
    worker = platform.worker("crash-after-commit", "transactions", DAY, str(marker))
    wait_for(marker, worker)
    assert int(marker.read_text()) == NEW_LINES
    # Killed while still holding the file: no checkpoint ran, the commit lives in the WAL.
    wal = Path(f"{platform.database}.wal")
    had_wal = wal.exists() and wal.stat().st_size > 0
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    assert had_wal, "a committed-but-not-checkpointed write should leave a WAL behind"
    assert partition_state(platform.database) == (NEW_LINES, 0, NEW_FILES)
    assert not wal.exists() or wal.stat().st_size == 0  # replayed and checkpointed on reopen
    recover_after_crash(platform)

    rerun = platform.worker("materialize", "transactions", DAY, DAY)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err[-3000:]
    assert partition_state(platform.database) == (NEW_LINES, 0, NEW_FILES)
