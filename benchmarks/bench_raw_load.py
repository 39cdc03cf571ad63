"""Raw-load throughput: one day of ≥ 1M simulated transactions landed → raw.transactions.

Peer, measured in the same run: the naive loader — read the file line by line in
Python and INSERT each row with a prepared statement — on a sample, as records/s.
"""

from __future__ import annotations

import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions
from fintech_dataops.lib.simulator.world import SimulationConfig, land_simulation, simulate

DAY = date(2026, 10, 1)


def naive_row_at_a_time(con: duckdb.DuckDBPyConnection, path: Path, limit: int) -> tuple[int, float]:
    con.execute(
        "CREATE OR REPLACE TABLE naive_raw (partition_date DATE, source_file VARCHAR, line_number BIGINT, "
        "record VARCHAR, record_bytes BLOB, ingested_at TIMESTAMPTZ)"
    )
    now = datetime.now(timezone.utc)
    started = time.perf_counter()
    n = 0
    with path.open("r", encoding="utf-8") as handle:
        for n, line in enumerate(handle, start=1):
            con.execute(
                "INSERT INTO naive_raw VALUES (?, ?, ?, ?, NULL, ?)",
                [DAY, path.name, n, line.rstrip("\n"), now],
            )
            if n >= limit:
                break
    return n, time.perf_counter() - started


def run(quick: bool = False) -> dict:
    customers = 20_000 if quick else 505_000  # 80 % not thin-file × 2.5 tx/day ≈ 40k / 1.0M transactions
    with tempfile.TemporaryDirectory() as tmp:
        landing_dir = Path(tmp) / "landing"
        t0 = time.perf_counter()
        sim = simulate(SimulationConfig(start=DAY, days=1, customers=customers, seed=7))
        land_simulation(sim, landing_dir)
        simulate_seconds = time.perf_counter() - t0
        with duckdb.connect(str(Path(tmp) / "w.duckdb")) as con:
            result = load_raw_partitions(con, landing_dir, "transactions", [DAY.isoformat()])
            second = load_raw_partitions(con, landing_dir, "transactions", [DAY.isoformat()])
            stored = con.execute("SELECT count(*) FROM raw.transactions").fetchone()[0]
            sample = 2_000 if quick else 5_000
            files = sorted((landing_dir / "transactions").rglob("*.jsonl"))
            naive_rows, naive_seconds = naive_row_at_a_time(con, files[0], sample)
    ours = result.rows / result.seconds
    naive = naive_rows / naive_seconds
    return {
        "what": "landed JSONL → raw.transactions (lossless, lineage), one daily partition",
        "records": result.rows,
        "bytes": result.bytes_read,
        "seconds": round(result.seconds, 3),
        "records_per_second": round(ours),
        "rerun_seconds": round(second.seconds, 3),
        "rows_after_rerun": stored,
        "simulate_and_land_seconds": round(simulate_seconds, 2),
        "peer": {
            "what": "naive Python loop, one prepared INSERT per line",
            "records": naive_rows,
            "seconds": round(naive_seconds, 3),
            "records_per_second": round(naive),
        },
        "ratio_vs_peer": round(ours / naive, 1),
    }
