"""``fintech-dataops ledger …``: book, settle, verify and prove the double-entry ledger.

- ``ledger book --start D [--end D]``   book the days' events (idempotent: a rerun books nothing new)
- ``ledger settle``                      close batches of unbatched entries and settle them on the chain
- ``ledger verify``                      recompute hash chains and Merkle roots; exit 1 naming the first bad entry
- ``ledger proof ENTRY_ID``              an entry's inclusion proof in its batch, as JSON
- ``ledger verify-proof FILE``           check a proof document (``-`` = stdin); exit 1 if it does not hold
- ``ledger reconcile``                   the ledger against the chain and the approved payments; exit 1 on a difference
- ``ledger totals``                      balances per account kind and currency, batches by status
No Dagster import on any of these paths. The chain is the local one under the data dir unless
``FINTECH_CHAIN_RPC_URL`` / ``FINTECH_CHAIN_PRIVATE_KEY`` are set.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import contextmanager
from datetime import date, timedelta

from fintech_dataops.lib.ingestion.landing import resolve_data_dir

EXIT_PROBLEM = 1


def register(subparsers) -> None:
    ledger = subparsers.add_parser("ledger", help="double-entry ledger: book, settle on chain, verify, prove")
    commands = ledger.add_subparsers(dest="ledger_command", metavar="SUBCOMMAND")
    book = commands.add_parser("book", help="book the days' approved payments, refunds, chargebacks and loans")
    book.add_argument("--start", type=date.fromisoformat, required=True)
    book.add_argument("--end", type=date.fromisoformat, default=None)
    book.add_argument("--fee-bps", type=int, default=None, help="platform fee on card payments (basis points)")
    book.set_defaults(handler=book_command)
    settle = commands.add_parser("settle", help="close batches and settle them on the chain (retries failed ones)")
    settle.add_argument("--max-entries", type=int, default=None, help="entries per batch at most")
    settle.set_defaults(handler=settle_command)
    verify = commands.add_parser("verify", help="recompute hash chains and batch roots; exit 1 naming the first bad entry")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(handler=verify_command)
    proof = commands.add_parser("proof", help="print an entry's Merkle inclusion proof (JSON)")
    proof.add_argument("entry_id")
    proof.set_defaults(handler=proof_command)
    check = commands.add_parser("verify-proof", help="check a proof document printed by `ledger proof`")
    check.add_argument("file", help="the proof JSON file, or - for stdin")
    check.set_defaults(handler=verify_proof_command)
    reconcile = commands.add_parser("reconcile", help="ledger vs chain anchors and vs approved payments")
    reconcile.set_defaults(handler=reconcile_command)
    follow = commands.add_parser(
        "follow", help="book the decision service's approvals as they become durable (WAL + landed decisions)",
        description="Tails <data dir>/wal/realtime and landing/fraud_decisions; books each approval (card:<id>, "
                    "the daily path's event id: booked once whichever path sees it first), closes batches every "
                    "--batch-seconds or --max-entries and settles them. Stops on Ctrl-C / SIGTERM.")
    follow.add_argument("--interval", type=float, default=0.1, help="seconds between polls (default 0.1)")
    follow.add_argument("--batch-seconds", type=float, default=None, help="close a batch when its oldest entry is this old")
    follow.add_argument("--max-entries", type=int, default=None, help="entries per batch at most")
    follow.add_argument("--no-settle", action="store_true", help="book and batch only; settle with `ledger settle`")
    follow.set_defaults(handler=follow_command)
    totals = commands.add_parser("totals", help="balances per account kind and currency, batches by status")
    totals.set_defaults(handler=totals_command)


def _database():
    return resolve_data_dir() / "warehouse.duckdb"


@contextmanager
def _connect(read_only: bool = False):
    from fintech_dataops.lib.warehouse import connection

    with connection(_database(), read_only=read_only) as con:
        yield con


def _chain():
    from fintech_dataops.lib.ledger.chain import open_chain

    return open_chain(os.environ.get("FINTECH_CHAIN_RPC_URL", ""), os.environ.get("FINTECH_CHAIN_PRIVATE_KEY", ""))


def _has_ledger(con) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ledger' "
                            "AND table_name = 'entries'").fetchone()[0])


def book_command(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.ledger.booking import LedgerConfig, entries_for_day
    from fintech_dataops.lib.ledger.store import book, record_unbookable

    config = LedgerConfig() if args.fee_bps is None else LedgerConfig(fee_bps=args.fee_bps)
    day, end = args.start, args.end or args.start
    total = already = 0
    while day <= end:
        with _connect() as con:
            found = entries_for_day(con, day, config)
            result = book(con, found.entries, business_date=day)
            record_unbookable(con, found.unbookable)
        print(f"{day}: {result.booked} booked, {result.already_booked} already booked, "
              f"{len(found.unbookable)} unbookable")
        total, already = total + result.booked, already + result.already_booked
        day += timedelta(days=1)
    print(f"booked {total} entries ({already} already booked)")
    return 0


def settle_command(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.ledger.booking import LedgerConfig
    from fintech_dataops.lib.ledger.settle import settle_batches
    from fintech_dataops.lib.ledger.store import close_batches

    with _connect() as con:
        closed = close_batches(con, max_entries=args.max_entries or LedgerConfig().batch_max_entries)
    with _chain() as chain:
        report = settle_batches(_connect, chain)
    print(f"closed {len(closed)} batch(es); settled {len(report.settled)}; failed {len(report.failed)}; "
          f"pending {len(report.pending)}")
    for batch_id, error in report.failed:
        print(f"  {batch_id}: {error}", file=sys.stderr)
    return EXIT_PROBLEM if report.failed or report.pending else 0


def verify_command(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.ledger.verify import verify_ledger

    with _connect(read_only=True) as con:
        report = verify_ledger(con)
    if args.json:
        print(json.dumps({"ok": report.ok, "entries": report.entries, "batches": report.batches,
                          "findings": [vars(f) for f in report.findings]}, indent=2))
    elif report.ok:
        print(f"ledger verified: {report.entries} entries, {report.batches} batches, chains and roots intact")
    else:
        print(f"LEDGER VERIFY FAILED: first bad: {report.first}")
        for finding in report.findings[1:20]:
            print(f"  also: {finding}")
    return 0 if report.ok else EXIT_PROBLEM


def proof_command(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.ledger.proof import ProofUnavailable, entry_proof

    with _connect(read_only=True) as con:
        try:
            print(json.dumps(entry_proof(con, args.entry_id), indent=2))
        except ProofUnavailable as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_PROBLEM
    return 0


def verify_proof_command(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.ledger.proof import check_proof

    text = sys.stdin.read() if args.file == "-" else open(args.file).read()
    problems = check_proof(json.loads(text))
    print("proof valid" if not problems else "proof INVALID: " + "; ".join(problems))
    return 0 if not problems else EXIT_PROBLEM


def reconcile_command(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.ledger.checks import booked_days
    from fintech_dataops.lib.ledger.reconcile import booking_differences, chain_differences

    with _chain() as chain, _connect(read_only=True) as con:
        on_chain = chain_differences(con, chain)
        days = booked_days(con)
        bookings = booking_differences(con, days) if days else []
    print(json.dumps({"chain_differences": on_chain, "booking_differences": bookings}, indent=2, default=str))
    return EXIT_PROBLEM if on_chain or bookings else 0


def follow_command(args: argparse.Namespace) -> int:
    import contextlib
    import threading
    import time

    from fintech_dataops.lib.ledger.booking import LedgerConfig
    from fintech_dataops.lib.ledger.online import (
        DecisionFollower, FollowStats, HeldConnection, follow_once, settle_pending, settlement_thread,
    )

    defaults = LedgerConfig()
    held = HeldConnection(_database())
    batch_seconds = args.batch_seconds or defaults.batch_max_age_seconds
    follower, stats, stop = DecisionFollower(resolve_data_dir()), FollowStats(), threading.Event()
    with contextlib.ExitStack() as stack:
        chain = None if args.no_settle else stack.enter_context(_chain())
        settler = None if chain is None else settlement_thread(held, chain, stats, stop, batch_seconds / 2)
        stack.callback(held.close)
        print(f"following {follower.wal_dir} and {follower.landed_dir} every {args.interval}s", flush=True)
        try:
            while True:
                held.yield_if_waited()  # a pipeline run or a reader queued for the warehouse: let it in
                booked = follow_once(held, follower, stats,
                                     batch_max_entries=args.max_entries or defaults.batch_max_entries,
                                     batch_max_age_seconds=batch_seconds)
                if booked:
                    print(f"booked {booked} approval(s); total {stats.booked}, batches settled "
                          f"{stats.batches_settled}", flush=True)
                time.sleep(args.interval)
        except (KeyboardInterrupt, RuntimeError) as exc:
            # DuckDB turns Ctrl-C / SIGTERM during a query into RuntimeError("Query interrupted"); the
            # query's transaction rolled back, so stopping here loses nothing.
            if isinstance(exc, RuntimeError) and "interrupted" not in str(exc).lower():
                raise
            stop.set()
            if settler is not None:
                settler.join()
                settle_pending(held, chain, stats)
            print(f"stopped: {stats.booked} booked, {stats.batches_settled} batches settled", flush=True)
    return 0


def totals_command(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.ledger.report import ledger_totals

    with _connect(read_only=True) as con:
        if not _has_ledger(con):
            print("no ledger yet")
            return 0
        print(ledger_totals(con))
    return 0
