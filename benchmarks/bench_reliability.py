"""Reader wait during a multi-day raw backfill on one DuckDB file, and the crash-safety cost.

A PM-style reader process opens short read-only connections in a loop while this
process loads DAYS days of transactions into raw:
- peer: one connection held for the whole backfill (``load_raw_partitions`` over all days);
- ours: one connection per day (``load_raw_days``), handing the file to waiting
  processes between days (``warehouse.yield_to_waiters``), the way the raw asset runs.
Reported: the reader's worst and median wait for the file lock, and the backfill's
total time for both (the ratio is the price of letting readers in between days).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from fintech_dataops.lib import warehouse
from fintech_dataops.lib.ingestion.landing import partition_dir, write_atomic
from fintech_dataops.lib.ingestion.raw_layer import load_raw_days, load_raw_partitions

READER = r"""
import json, sys, time
from pathlib import Path
from fintech_dataops.lib.warehouse import connection
database, stop = Path(sys.argv[1]), Path(sys.argv[2])
waits = []
while not stop.exists():
    started = time.perf_counter()
    with connection(database, read_only=True, wait_seconds=600) as con:
        waits.append(time.perf_counter() - started)
        con.execute("SELECT count(*) FROM raw.transactions").fetchone()
    time.sleep(0.02)
print(json.dumps(waits))
"""


def _land(landing_dir: Path, days: list[str], lines: int) -> None:
    row = '{"transaction_id": "T%d", "customer_id": "C%d", "merchant_id": "M1", "amount": 12.5, "currency": "USD", "event_time": "2026-10-01T10:00:00Z"}\n'
    body = "".join(row % (i, i % 997) for i in range(lines)).encode()
    for day in days:
        write_atomic(partition_dir(landing_dir, "transactions", day) / "batch.jsonl", body)


def _measure(root: Path, days: list[str], per_day: bool) -> dict:
    database = root / f"{'per_day' if per_day else 'one_connection'}.duckdb"
    with warehouse.connection(database) as con:  # the table exists before the reader starts
        con.execute("CREATE SCHEMA raw; CREATE TABLE raw.transactions (partition_date DATE)")
    stop = root / "stop"
    stop.unlink(missing_ok=True)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(database), str(stop)],
                              stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)  # reader process up and looping
    started = time.perf_counter()
    if per_day:
        @contextmanager
        def open_connection():
            with warehouse.connection(database) as con:
                yield con
        result = load_raw_days(open_connection, root / "landing", "transactions", days,
                               between_days=lambda: warehouse.yield_to_waiters(database))
    else:
        with warehouse.connection(database) as con:
            result = load_raw_partitions(con, root / "landing", "transactions", days)
    backfill_seconds = time.perf_counter() - started
    time.sleep(0.5)
    stop.touch()
    waits = json.loads(reader.communicate(timeout=600)[0])
    return {
        "rows": result.rows, "backfill_seconds": round(backfill_seconds, 3),
        "reader_queries": len(waits), "reader_max_wait_s": round(max(waits), 3),
        "reader_median_wait_s": round(statistics.median(waits), 4),
    }


def run(quick: bool = False) -> dict:
    days = [f"2026-10-{d:02d}" for d in range(1, 4 if quick else 8)]
    lines = 50_000 if quick else 300_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _land(root / "landing", days, lines)
        one = _measure(root, days, per_day=False)
        ours = _measure(root, days, per_day=True)
    return {
        "days": len(days), "lines_per_day": lines,
        "peer_one_connection": one, "per_day_connections": ours,
        "reader_max_wait_ratio_peer_over_ours": round(one["reader_max_wait_s"] / max(ours["reader_max_wait_s"], 1e-6), 1),
        "backfill_time_ratio_ours_over_peer": round(ours["backfill_seconds"] / one["backfill_seconds"], 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
