"""``fintech-dataops credit score CUSTOMER_ID [--explain] [--live]``: one customer's credit score as JSON.

Reads ``credit.scores`` (and ``credit.features`` for ``--explain``) through a
read-only connection; ``--live`` scores the customer from the core tables now
with the same code as the portfolio run. Only duckdb, numpy and pandas are
imported on this path (no Dagster, no scikit-learn), so it answers in well
under two seconds from a cold start.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from fintech_dataops.lib.landing import resolve_data_dir


def register(subparsers) -> None:
    credit = subparsers.add_parser("credit", help="credit scores: look up and explain a customer's score")
    commands = credit.add_subparsers(dest="credit_command", metavar="SUBCOMMAND")
    score = commands.add_parser(
        "score", help="print a customer's score, band, components and reasons as JSON",
        description="Print the customer's stored score (credit.scores) as JSON: score, band, components, "
                    "evidence, scorability and reason codes.",
    )
    score.add_argument("customer_id", help="customer id, e.g. C0000042")
    score.add_argument("--explain", action="store_true",
                       help="also show how each component and factor was computed, with its inputs")
    score.add_argument("--live", action="store_true",
                       help="score from the core tables now instead of reading the stored score")
    score.add_argument("--wait", type=float, default=30.0,
                       help="seconds to wait while a pipeline holds the warehouse lock (default 30)")
    score.set_defaults(handler=score_command)
    credit.set_defaults(handler=lambda args: (credit.print_help(), 2)[1])


def score_command(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    from fintech_dataops.lib.credit.lookup import explain_features, live_score, stored_features, stored_score
    from fintech_dataops.lib.warehouse import WarehouseLockTimeout, connection

    database = resolve_data_dir(args.data_dir) / "warehouse.duckdb"
    if not database.exists():
        print(f"error: no warehouse at {database}; run the pipeline first (make run)", file=sys.stderr)
        return 1
    imported = time.perf_counter()
    try:
        with connection(database, read_only=True, wait_seconds=args.wait) as con:
            if args.live:
                result, features = live_score(con, args.customer_id)
            else:
                result = stored_score(con, args.customer_id)
                features = stored_features(con, args.customer_id) if args.explain and result else None
            if result is not None and args.explain:
                result["explain"] = (
                    explain_features(features) if features is not None and not features.empty
                    else {"note": "no stored features for this customer (materialize credit/features)"}
                )
    except WarehouseLockTimeout as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if result is None:
        print(f"error: customer {args.customer_id!r} not found in "
              f"{'core.customers' if args.live else 'credit.scores'}", file=sys.stderr)
        return 1
    done = time.perf_counter()
    result["timing_ms"] = {"imports": round((imported - started) * 1000, 1),
                           "lookup": round((done - imported) * 1000, 1)}
    try:
        print(json.dumps(result, indent=2, default=str, ensure_ascii=False), flush=True)
    except BrokenPipeError:  # e.g. piped into `head`: not an error of ours
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the interpreter from failing at exit
    return 0
