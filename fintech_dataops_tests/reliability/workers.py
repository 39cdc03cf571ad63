"""Processes the reliability tests start, kill and race (``python -m fintech_dataops_tests.reliability.workers``).

    materialize FEED START END [--priority N] [--repeat K]
        materialize raw.<FEED> for START…END through the Dagster instance at $DAGSTER_HOME
        (one run per day when --per-day, else one single-run backfill), like a scheduled job
    crash-in-write FEED DAY MARKER
        materialize raw.<FEED> for DAY; touch MARKER once the partition's write transaction
        has begun, then keep going (the test SIGKILLs this process at some point after)
    crash-after-commit FEED DAY MARKER
        materialize raw.<FEED> for DAY, touch MARKER after COMMIT, then hang until killed
    read STOPFILE
        a PM-style reader: short read-only connections in a loop until STOPFILE exists;
        prints JSON {queries, errors, max_open_seconds}
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path


def _materialize(feed: str, days: list[str], tags: dict[str, str]) -> bool:
    import dagster as dg

    from fintech_dataops.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        asset_selection=[dg.AssetKey(["raw", feed])],
        instance=dg.DagsterInstance.get(),
        tags={
            "dagster/asset_partition_range_start": days[0],
            "dagster/asset_partition_range_end": days[-1],
            **tags,
        },
        raise_on_error=False,
    )
    return result.success


def _days(start: str, end: str) -> list[str]:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def materialize(argv: list[str]) -> int:
    feed, start, end = argv[:3]
    priority = argv[argv.index("--priority") + 1] if "--priority" in argv else "0"
    repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 1
    days = _days(start, end)
    batches = [[d] for d in days] if "--per-day" in argv else [days]
    ok = True
    for _ in range(repeat):
        for batch in batches:
            ok = _materialize(feed, batch, {"dagster/priority": priority}) and ok
    return 0 if ok else 1


def crash_in_write(argv: list[str]) -> int:
    from fintech_dataops.lib import warehouse

    feed, day, marker = argv[:3]
    original = warehouse._add_missing_columns

    def mark_inside_transaction(*args, **kwargs):
        original(*args, **kwargs)
        Path(marker).touch()  # BEGIN has run; DELETE + INSERT + COMMIT come next

    warehouse._add_missing_columns = mark_inside_transaction
    return 0 if _materialize(feed, [day], {}) else 1


def crash_after_commit(argv: list[str]) -> int:
    from fintech_dataops.lib.ingestion import raw_layer

    feed, day, marker = argv[:3]
    original = raw_layer.replace_partitions

    def commit_then_hang(*args, **kwargs):
        inserted = original(*args, **kwargs)
        Path(marker).write_text(str(inserted))  # committed, connection still open: no checkpoint yet
        time.sleep(600)
        return inserted

    raw_layer.replace_partitions = commit_then_hang
    return 0 if _materialize(feed, [day], {}) else 1


def read(argv: list[str]) -> int:
    from fintech_dataops.lib.ingestion.landing import resolve_data_dir
    from fintech_dataops.lib.warehouse import connection

    stop = Path(argv[0])
    database = resolve_data_dir() / "warehouse.duckdb"
    queries, errors, max_open = 0, [], 0.0
    while not stop.exists():
        if not database.exists():  # before the first write there is nothing to read (not a lock error)
            time.sleep(0.05)
            continue
        started = time.perf_counter()
        try:
            with connection(database, read_only=True, wait_seconds=120) as con:
                max_open = max(max_open, time.perf_counter() - started)
                con.execute(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw'"
                ).fetchone()
                tables = [r[0] for r in con.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'"
                ).fetchall()]
                for table in tables:
                    con.execute(f'SELECT count(*) FROM raw."{table}"').fetchone()
            queries += 1
        except Exception as exc:  # the test asserts there are none; report them all
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.05)
    print(json.dumps({"queries": queries, "errors": errors, "max_open_seconds": round(max_open, 3)}))
    return 0


COMMANDS = {
    "materialize": materialize, "crash-in-write": crash_in_write,
    "crash-after-commit": crash_after_commit, "read": read,
}

if __name__ == "__main__":
    os.environ.setdefault("DAGSTER_HOME", str(Path(os.environ["FINTECH_DATA_DIR"]) / "dagster_home"))
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
