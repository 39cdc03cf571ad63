"""``fintech-dataops recover``: the steps after a crash (power loss, OOM kill, SIGKILL) on one machine.

1. Runs whose process is gone are still STARTED in the Dagster instance and still hold their
   ``warehouse_write`` pool slot, so every later writer would wait for it forever: mark them
   failed and free their slots (on Kubernetes, run monitoring in the daemon does this).
2. Open the warehouse read-write once: DuckDB replays its WAL (committed work survives, an
   uncommitted partition write is discarded) and CHECKPOINT folds it into the file.
3. Report landing-zone temp files (``.tmp-*.part``) a killed lander left; with ``--clean``
   remove those older than an hour (a lander renames its temp file within seconds).
Then rerun the affected days: every write replaces whole partitions, so a rerun never duplicates.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from fintech_dataops.lib.ingestion.landing import resolve_data_dir

STALE_TEMP_SECONDS = 3600


def register(subparsers) -> None:
    p = subparsers.add_parser("recover", help="after a crash: fail dead runs, free their pool slots, replay the WAL")
    p.add_argument("--dry-run", action="store_true", help="only report what would be done")
    p.add_argument("--clean", action="store_true", help="also delete landing temp files older than an hour")
    p.set_defaults(handler=recover_command)


def _run_pid(instance, run_id: str) -> int | None:
    """The pid of the process that last wrote an event for the run (its run worker)."""
    records = instance.get_records_for_run(run_id, limit=20, ascending=False).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.pid is not None:
            return int(event.pid)
    return None


def dead_runs(instance) -> list[tuple[object, int]]:
    """Unfinished runs whose worker process no longer exists on this machine."""
    import dagster as dg

    from fintech_dataops.lib.warehouse import pid_alive

    unfinished = instance.get_runs(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING,
                                        dg.DagsterRunStatus.CANCELING])
    )
    found = []
    for run in unfinished:
        pid = _run_pid(instance, run.run_id)
        if pid is not None and pid != os.getpid() and not pid_alive(pid):
            found.append((run, pid))
    return found


def recover_instance(instance, dry_run: bool = False, echo=print) -> int:
    """Fail dead runs and free the pool slots of every finished run; returns the runs freed."""
    import dagster as dg

    freed = 0
    for run, pid in dead_runs(instance):
        echo(f"run {run.run_id} ({run.job_name}) is {run.status.value} but its process {pid} is gone")
        if not dry_run:
            instance.report_run_failed(run, message=f"run worker (pid {pid}) died; marked failed by `fintech-dataops recover`")
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        for run_id in sorted(storage.get_concurrency_run_ids()):
            run = instance.get_run_by_id(run_id)
            if run is None or run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS,
                                             dg.DagsterRunStatus.CANCELED):
                echo(f"run {run_id} holds pool slots but is {run.status.value if run else 'deleted'}: freeing them")
                if not dry_run:
                    storage.free_concurrency_slots_for_run(run_id)
                    freed += 1
    return freed


def recover_warehouse(database: Path, dry_run: bool = False, echo=print) -> None:
    from fintech_dataops.lib.warehouse import connection

    wal = Path(f"{database}.wal")
    if not database.exists():
        echo(f"no warehouse at {database}: nothing to replay")
        return
    pending = wal.stat().st_size if wal.exists() else 0
    echo(f"warehouse {database}: WAL {pending} bytes pending")
    if dry_run or not pending:
        return
    with connection(database) as con:  # opening read-write replays the WAL
        con.execute("CHECKPOINT")
    echo("warehouse: WAL replayed and checkpointed")


def recover_landing(landing_dir: Path, clean: bool, dry_run: bool = False, echo=print) -> None:
    if not landing_dir.is_dir():
        return
    now = time.time()
    for temp in sorted(landing_dir.rglob(".tmp-*.part")):
        stale = now - temp.stat().st_mtime > STALE_TEMP_SECONDS
        echo(f"landing temp file left by a killed writer: {temp.relative_to(landing_dir)}"
             f"{' (stale)' if stale else ''}")
        if clean and stale and not dry_run:
            temp.unlink()


def recover_command(args: argparse.Namespace) -> int:
    import dagster as dg

    from fintech_dataops.commands.pipeline import ensure_dagster_home

    data_dir = resolve_data_dir(args.data_dir)
    ensure_dagster_home(data_dir)
    with dg.DagsterInstance.get() as instance:
        recover_instance(instance, dry_run=args.dry_run)
    recover_warehouse(data_dir / "warehouse.duckdb", dry_run=args.dry_run)
    recover_landing(data_dir / "landing", clean=args.clean, dry_run=args.dry_run)
    print("done; now rerun the affected days (writes replace whole partitions: no duplicates)")
    return 0
