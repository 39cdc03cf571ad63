"""``fintech-dataops run`` / ``demo`` / ``summary``: materialize the platform on the embedded default."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.ingestion.landing import resolve_data_dir

INSTANCE_TEMPLATE = Path(__file__).resolve().parent.parent / "instance" / "dagster.yaml"


def ensure_dagster_home(data_dir: Path) -> Path:
    """Use $DAGSTER_HOME if set, else <data dir>/dagster_home with the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copyfile(INSTANCE_TEMPLATE, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    # Create the instance storage now, in one process, so processes started next (UI, daemon,
    # run workers) never race on creating the same SQLite schema.
    import dagster as dg

    dg.DagsterInstance.get().dispose()
    return home


def register(subparsers) -> None:
    r = subparsers.add_parser("run", help="materialize every asset for a day range (one run)")
    r.add_argument("--start", type=date.fromisoformat, required=True, help="first day YYYY-MM-DD")
    r.add_argument("--end", type=date.fromisoformat, default=None, help="last day (default: --start)")
    r.add_argument("--job", default="all_assets",
                   help="job to run (default all_assets: every asset; daily_pipeline: the scheduled daily part)")
    r.set_defaults(handler=run_command)

    d = subparsers.add_parser("demo", help="simulate a demo data set if none is landed, run everything, print a summary")
    d.add_argument("--days", type=int, default=30)
    d.add_argument("--customers", type=int, default=3000)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--start", type=date.fromisoformat, default=None, help="first day (default: DAYS before today)")
    d.add_argument("--bad-day", type=date.fromisoformat, action="append", default=[], metavar="YYYY-MM-DD",
                   help="simulate this day as a bad feed day (4 %% malformed lines): the quarantine_rate checks fire")
    d.set_defaults(handler=demo_command)

    s = subparsers.add_parser("summary", help="print tables, row counts, quality, alerts and scores")
    s.set_defaults(handler=summary_command)


def run_pipeline(start: date, end: date, job_name: str = "all_assets", echo=print) -> bool:
    """Execute ``job_name`` for [start, end] in one run, recorded in the Dagster instance."""
    import dagster as dg

    from fintech_dataops.definitions import defs
    from fintech_dataops.lib.serving import insist_on_interrupts
    from fintech_dataops.lib.tenancy.paths import current_tenant

    job = defs.resolve_job_def(job_name)
    instance = dg.DagsterInstance.get()
    echo(f"running job {job_name} for {start} … {end} (one run; Dagster home {os.environ['DAGSTER_HOME']}) ...")
    t0 = time.perf_counter()
    with insist_on_interrupts():  # SIGTERM/SIGINT end the run (recorded as failed) at the latest at the next step
        result = job.execute_in_process(
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat(),
                "fintech/trigger": "cli",
                "tenant": current_tenant(),  # the UI shows (and filters by) which bank a run was for
            },
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            raise_on_error=False,
        )
    elapsed = time.perf_counter() - t0
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    if result.success:
        echo(f"run {result.run_id} succeeded in {elapsed:.1f}s")
    else:
        echo(f"run {result.run_id} FAILED after {elapsed:.1f}s; failed steps: {', '.join(failed) or 'see the Dagster UI'}")
    return result.success


def print_summary(data_dir: Path, echo=print) -> None:
    from fintech_dataops.lib.analytics.run_summary import platform_summary
    from fintech_dataops.lib.warehouse import connection

    database = data_dir / "warehouse.duckdb"
    if not database.exists():
        echo(f"no warehouse yet at {database}")
        return
    with connection(database, read_only=True) as con:
        echo(platform_summary(con))
        from fintech_dataops.lib.ledger.report import ledger_summary

        ledger = ledger_summary(con)
        if ledger:
            echo(ledger)


def run_command(args: argparse.Namespace) -> int:
    data_dir = resolve_data_dir(args.data_dir)
    ensure_dagster_home(data_dir)
    ok = run_pipeline(args.start, args.end or args.start, args.job)
    return 0 if ok else 1


def demo_command(args: argparse.Namespace) -> int:
    from fintech_dataops.commands.simulate import simulate_into

    data_dir = resolve_data_dir(args.data_dir)
    landing_dir = data_dir / "landing"
    ensure_dagster_home(data_dir)
    landed = landing.landed_days(landing_dir, "transactions")
    if landed:
        start, end = landed[0], landed[-1]
        print(f"using the {len(landed)} day(s) already landed in {landing_dir} ({start} … {end}); "
              f"delete {landing_dir} to simulate afresh")
    else:
        start = args.start or date.today() - timedelta(days=args.days)
        end = start + timedelta(days=args.days - 1)
        simulate_into(landing_dir, start=start, days=args.days, customers=args.customers, seed=args.seed,
                      bad_days=tuple(args.bad_day))
    ok = run_pipeline(start, end)
    print()
    print_summary(data_dir)
    print()
    print("Explore it: `make ui` (Dagster UI on http://127.0.0.1:3000), "
          "`.venv/bin/fintech-dataops summary`, or open data/warehouse.duckdb with DuckDB.")
    print("Work the fraud alerts: `.venv/bin/fintech-dataops monitor` (the analyst's queue on "
          "http://127.0.0.1:8700/monitor; staff keys: README, Fraud monitor).")
    return 0 if ok else 1


def summary_command(args: argparse.Namespace) -> int:
    print_summary(resolve_data_dir(args.data_dir))
    return 0
