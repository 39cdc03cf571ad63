"""Ledger: entries booked per second, settlement, verification, and event → posted latency online.

- **booking**: N approved card payments (quick: 20k) built and booked (balance check, idempotency
  anti-join on event ids, SHA-256 hash chain, postings, accounts) into a fresh DuckDB file, in
  day-sized calls of 6000. Peer, same run: a plain INSERT of the same postings rows (no checks, no
  chain, no idempotency); the ratio is what the ledger's guarantees cost.
- **settlement**: close batches of 5000 and anchor each on the local py-evm chain (sign, send, receipt,
  journal, status sync); and `verify_ledger` over everything booked (entries/s).
- **online**: the decision service's own WAL (``realtime.wal.DurableLog``, fsync per append) written by
  a thread at ``rate`` approvals/s in 10 ms groups, while ``follow_once`` polls every 0.1 s (booking,
  5 s batches) and a settlement thread anchors closed batches on the local chain, as
  ``fintech-dataops ledger follow`` does. Event → posted =
  the decision's ``decided_at`` (acknowledged: the WAL is fsynced before the answer) → the commit of its
  ledger entry; p50/p99/max.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import duckdb


def _connector(path: Path):
    @contextmanager
    def connect():
        con = duckdb.connect(str(path))
        try:
            yield con
        finally:
            con.close()
    return connect


def _payments(n: int, start: datetime):
    from fintech_dataops.lib.ledger.booking import card_payment_entry

    currencies = ("USD", "EUR", "GBP", "JPY")
    return [card_payment_entry(f"T{i:09d}", f"C{i % 3000:07d}", f"M{i % 400:05d}",
                               Decimal(1500 + i % 90000) if currencies[i % 4] == "JPY" else Decimal(i % 90000 + 101) / 100,
                               currencies[i % 4], start + timedelta(seconds=i)) for i in range(n)]


def bench_booking(n: int, workdir: Path) -> dict:
    from fintech_dataops.lib.ledger.store import book, close_batches
    from fintech_dataops.lib.ledger.verify import verify_ledger

    start = datetime(2026, 11, 1)
    t0 = time.perf_counter()
    entries = _payments(n, start)
    built = time.perf_counter() - t0
    connect = _connector(workdir / "warehouse.duckdb")
    t0 = time.perf_counter()
    with connect() as con:
        for i in range(0, n, 6000):
            book(con, entries[i:i + 6000])
    booked = time.perf_counter() - t0
    with connect() as con:
        t0 = time.perf_counter()
        again = book(con, entries[:6000])
        replay = time.perf_counter() - t0
    # Peer: the same postings, plain INSERT, no guarantees.
    import pandas as pd

    rows = [(f"e{i}", j, p.account_id, p.currency, p.amount_minor) for i, e in enumerate(entries)
            for j, p in enumerate(e.postings)]
    frame = pd.DataFrame(rows, columns=["entry_id", "line_no", "account_id", "currency", "amount_minor"])
    peer = duckdb.connect(str(workdir / "peer.duckdb"))
    peer.execute("CREATE TABLE postings (entry_id VARCHAR, line_no INTEGER, account_id VARCHAR, currency VARCHAR, "
                 "amount_minor BIGINT)")
    t0 = time.perf_counter()
    for i in range(0, len(frame), 18000):
        peer.register("chunk", frame.iloc[i:i + 18000])
        peer.execute("INSERT INTO postings SELECT * FROM chunk")
        peer.unregister("chunk")
    plain = time.perf_counter() - t0
    peer.close()
    with connect() as con:
        t0 = time.perf_counter()
        batches = close_batches(con, max_entries=5000)
        closed = time.perf_counter() - t0
    from fintech_dataops.lib.ledger.chain import LocalChain
    from fintech_dataops.lib.ledger.settle import settle_batches

    t0 = time.perf_counter()
    chain = LocalChain(workdir / "chain")
    opened = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        report = settle_batches(connect, chain)
        settled = time.perf_counter() - t0
    finally:
        chain.close()
    with connect() as con:
        t0 = time.perf_counter()
        verified = verify_ledger(con)
        verify_s = time.perf_counter() - t0
    return {
        "entries": n, "build_s": round(built, 3), "book_s": round(booked, 3),
        "entries_booked_per_s": round(n / booked), "entries_built_and_booked_per_s": round(n / (built + booked)),
        "replay_6000_s": round(replay, 3), "replay_booked": again.booked,
        "peer_plain_insert_s": round(plain, 3), "ledger_vs_plain_insert_time_ratio": round(booked / plain, 1),
        "batches": len(batches), "close_batches_s": round(closed, 3), "chain_open_s": round(opened, 3),
        "settled": len(report.settled), "settle_s": round(settled, 3),
        "settle_ms_per_batch": round(settled * 1000 / max(1, len(report.settled)), 1),
        "verify_ok": verified.ok, "verify_s": round(verify_s, 3), "verify_entries_per_s": round(n / verify_s),
    }


def bench_online(seconds: float, rate: int, workdir: Path) -> dict:
    from fintech_dataops.lib.ledger.chain import LocalChain
    from fintech_dataops.lib.ledger.online import (
        DecisionFollower, FollowStats, HeldConnection, follow_once, settle_pending, settlement_thread,
    )
    from fintech_dataops.lib.realtime.wal import DurableLog, LogEntry

    data_dir = workdir / "online"
    log = DurableLog(data_dir, rotate_seconds=1.0)
    log.start()
    connect = HeldConnection(data_dir / "warehouse.duckdb")  # as `ledger follow` does
    follower, stats = DecisionFollower(data_dir), FollowStats()
    chain = LocalChain(data_dir / "chain")
    stop = threading.Event()
    sent = [0]

    def service():
        group = max(1, rate // 100)
        while not stop.is_set():
            now = datetime.now(timezone.utc)
            decided = now.isoformat().replace("+00:00", "Z")
            batch = []
            for _ in range(group):
                i = sent[0]
                sent[0] += 1
                batch.append(LogEntry(line='{"transaction_id":"T%09d"}' % i, day=now.date().isoformat(), decision={
                    "transaction_id": f"T{i:09d}", "customer_id": f"C{i % 3000:07d}", "merchant_id": f"M{i % 400:05d}",
                    "amount": round(10 + (i % 9000) / 100, 2), "currency": "USD", "event_time": decided,
                    "decision": "approve", "decided_at": decided}))
            log.append(batch)
            time.sleep(0.01)

    writer = threading.Thread(target=service, daemon=True)
    writer.start()
    settle_stop = threading.Event()
    settler = settlement_thread(connect, chain, stats, settle_stop, 2.5)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            follow_once(connect, follower, stats, batch_max_age_seconds=5.0)
            time.sleep(0.1)
        stop.set()
        writer.join()
        log.close()
        for _ in range(3):  # drain what the last rotation landed
            follow_once(connect, follower, stats, batch_max_age_seconds=0.0)
        settle_stop.set()
        settler.join()
        settle_pending(connect, chain, stats)
    finally:
        chain.close()
        connect.close()
    latencies = sorted(stats.posted_latency_ms)
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else latencies * 99
    return {
        "seconds": seconds, "approvals_acknowledged": sent[0], "booked": stats.booked,
        "booked_exactly_once": stats.booked == sent[0], "batches_settled": stats.batches_settled,
        "event_to_posted_ms_p50": round(q[49], 1), "event_to_posted_ms_p99": round(q[98], 1),
        "event_to_posted_ms_max": round(latencies[-1], 1) if latencies else None, "poll_interval_s": 0.1,
    }


def run(quick: bool = False) -> dict:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-ledger-", ignore_cleanup_errors=True) as tmp:
        booking = bench_booking(20_000 if quick else 180_000, Path(tmp))
        online = bench_online(5.0 if quick else 20.0, 200, Path(tmp))
    return {"booking": booking, "online": online, "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()]}


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=os.environ.get("QUICK") == "1"), indent=2))
