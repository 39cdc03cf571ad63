"""``fintech-dataops simulate``: generate a deterministic data set into the landing zone."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from fintech_dataops.lib.ingestion.landing import resolve_data_dir


def default_start(days: int) -> date:
    """By default the simulated window ends yesterday (UTC)."""
    return date.today() - timedelta(days=days)


def register(subparsers) -> None:
    p = subparsers.add_parser("simulate", help="generate simulated feeds into the landing zone")
    p.add_argument("--days", type=int, default=30, help="days to simulate (default 30)")
    p.add_argument("--customers", type=int, default=3000, help="number of customers (default 3000)")
    p.add_argument("--start", type=date.fromisoformat, default=None, help="first day YYYY-MM-DD (default: DAYS before today)")
    p.add_argument("--seed", type=int, default=42, help="random seed (same seed → same files)")
    p.add_argument("--malformed-rate", type=float, default=0.002, help="share of malformed lines per feed")
    p.add_argument("--thin-file-fraction", type=float, default=0.2, help="share of customers with only alternative data")
    p.add_argument("--bad-day", type=date.fromisoformat, action="append", default=[], metavar="YYYY-MM-DD",
                   help="a day whose lines are malformed at --bad-day-rate in every feed, to see the quarantine_rate "
                        "check fire (repeatable)")
    p.add_argument("--bad-day-rate", type=float, default=0.04, help="share of malformed lines on a --bad-day (default 0.04)")
    p.add_argument("--out", type=Path, default=None, help="landing dir (default: <data dir>/landing)")
    p.set_defaults(handler=run)


def simulate_into(out: Path, *, start: date, days: int, customers: int, seed: int = 42,
                  malformed_rate: float = 0.002, thin_file_fraction: float = 0.2,
                  bad_days: tuple[date, ...] = (), bad_day_rate: float = 0.04, echo=print):
    from fintech_dataops.lib.simulator.world import SimulationConfig, land_simulation, simulate

    config = SimulationConfig(
        start=start, days=days, customers=customers, seed=seed,
        malformed_rate=malformed_rate, thin_file_fraction=thin_file_fraction,
        bad_days=tuple(bad_days), bad_day_malformed_rate=bad_day_rate,
    )
    echo(f"simulating {days} day(s) from {start} for {customers:,} customers (seed {seed}) ...")
    t0 = time.perf_counter()
    sim = simulate(config)
    t1 = time.perf_counter()
    echo(f"  generated in {t1 - t0:.1f}s; landing files into {out} ...")
    report = land_simulation(sim, out)
    # The loan book's true default probabilities, beside the landing zone (never landed as a feed):
    # `credit validate` scores them against the same outcomes as the oracle AUC.
    from fintech_dataops.lib.credit.validation import write_truth

    write_truth(out.parent, sim.loan_truth)
    # Likewise which transactions are fraud (chargebacks land late and not for every fraud): the demo's
    # fraud evaluation reports against it next to the labels that have arrived.
    from fintech_dataops.lib.fraud.evaluation import write_truth as write_fraud_truth

    write_fraud_truth(out.parent, sim.truth)
    echo(f"  landed {len(report.files)} file(s) in {time.perf_counter() - t1:.1f}s"
         + (f" ({report.skipped_existing} already there, unchanged)" if report.skipped_existing else ""))
    width = max(len(f) for f in report.lines_per_feed)
    for feed, lines in report.lines_per_feed.items():
        echo(f"  {feed:<{width}}  {lines:>10,} lines  ({report.malformed_per_feed.get(feed, 0):,} malformed)")
    return sim, report


def run(args: argparse.Namespace) -> int:
    if args.days < 1 or args.customers < 1:
        print("error: --days and --customers must be at least 1", file=sys.stderr)
        return 2
    if not all(0 <= rate < 1 for rate in (args.malformed_rate, args.thin_file_fraction, args.bad_day_rate)):
        print("error: rates must be in [0, 1)", file=sys.stderr)
        return 2
    out = args.out or resolve_data_dir(args.data_dir) / "landing"
    start = args.start or default_start(args.days)
    try:
        simulate_into(
            out, start=start, days=args.days, customers=args.customers, seed=args.seed,
            malformed_rate=args.malformed_rate, thin_file_fraction=args.thin_file_fraction,
            bad_days=tuple(args.bad_day), bad_day_rate=args.bad_day_rate,
        )
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
