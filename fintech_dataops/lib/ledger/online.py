"""The online path: book the decision service's approvals within a second, off its hot path.

The service fsyncs every event and its decision to its WAL (``<data dir>/wal/realtime/*.wal``, lines
``<day> D <decision JSON>``) before it answers, then lands each segment as
``landing/fraud_decisions/date=D/rt-*.jsonl``. ``DecisionFollower`` tails both: the open segments from
the last byte it read (only whole lines: a torn tail was never acknowledged), and landed files it has
not read (a segment that landed and was deleted between two polls). Every approval becomes the same
``card:<transaction_id>`` entry the daily path books, so whichever path comes first books it and the
other books nothing: exactly once, and the service itself is not changed ("acknowledged = landed"
keeps its meaning; the ledger only reads what is already durable).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import orjson

from fintech_dataops.lib.ledger.booking import LedgerConfig, card_payment_entry
from fintech_dataops.lib.ledger.model import AmountPrecisionError, Entry

DECISIONS_FEED = "fraud_decisions"
WAL_SUBDIR = ("wal", "realtime")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).replace(tzinfo=None)


@dataclass
class Approval:
    entry: Entry
    decided_at: datetime


@dataclass
class FollowerState:
    offsets: dict[str, int] = field(default_factory=dict)
    landed_seen: set[str] = field(default_factory=set)


class DecisionFollower:
    def __init__(self, data_dir: Path, config: LedgerConfig = LedgerConfig()):
        self.wal_dir = Path(data_dir).joinpath(*WAL_SUBDIR)
        self.landed_dir = Path(data_dir) / "landing" / DECISIONS_FEED
        self.config = config
        self.state = FollowerState()
        self.unbookable: list[tuple[str, str, object, str]] = []

    def poll(self) -> list[Approval]:
        """Approvals made durable since the last poll (may repeat one: booking is idempotent)."""
        approvals: list[Approval] = []
        live = set()
        for segment in sorted(self.wal_dir.glob("*.wal")) if self.wal_dir.is_dir() else []:
            live.add(segment.name)
            start = self.state.offsets.get(segment.name, 0)
            try:
                with open(segment, "rb") as handle:
                    handle.seek(start)
                    chunk = handle.read()
            except FileNotFoundError:  # landed and deleted meanwhile: its landed file is read below
                continue
            end = chunk.rfind(b"\n") + 1
            for line in chunk[:end].splitlines():
                day, kind, payload = line.split(b" ", 2) if line.count(b" ") >= 2 else (b"", b"", b"")
                if kind == b"D":
                    self._add(orjson.loads(payload), approvals)
            self.state.offsets[segment.name] = start + end
        for name in list(self.state.offsets):
            if name not in live:
                del self.state.offsets[name]
        live_stems = {Path(name).stem for name in live}
        for path in sorted(self.landed_dir.glob("date=*/rt-*.jsonl")) if self.landed_dir.is_dir() else []:
            key = f"{path.parent.name}/{path.name}"
            if key in self.state.landed_seen or path.stem in live_stems:
                continue  # read already, or its segment is still there (read it again next poll)
            self.state.landed_seen.add(key)
            for line in path.read_bytes().splitlines():
                if line.strip():
                    self._add(orjson.loads(line), approvals)
        return approvals

    def _add(self, decision: dict, approvals: list[Approval]) -> None:
        if decision.get("decision") != "approve":
            return
        tx = str(decision["transaction_id"])
        try:
            entry = card_payment_entry(tx, str(decision["customer_id"]), str(decision["merchant_id"]),
                                       Decimal(str(decision["amount"])), str(decision["currency"]),
                                       _parse_time(decision["event_time"]), self.config)
        except (AmountPrecisionError, KeyError, ValueError) as exc:
            self.unbookable.append((f"card:{tx}", "card_payment", None, f"{type(exc).__name__}: {exc}"))
            return
        approvals.append(Approval(entry, _parse_time(decision["decided_at"])))


@dataclass
class FollowStats:
    polls: int = 0
    booked: int = 0
    already_booked: int = 0
    batches_settled: int = 0
    posted_latency_ms: list[float] = field(default_factory=list)  # decided_at → entry committed, per new entry
    settle_errors: list[str] = field(default_factory=list)
    last_close: float = float("-inf")  # monotonic time of the last batch-closing pass
    schema_ready: bool = False


def follow_once(connect, follower: DecisionFollower, stats: FollowStats, *,
                batch_max_entries: int = LedgerConfig.batch_max_entries,
                batch_max_age_seconds: float = LedgerConfig.batch_max_age_seconds) -> int:
    """One poll: book the new approvals and close batches that are full or old enough. Settling is
    ``settle_pending``'s job, on its own thread, so a slow chain never delays booking."""
    from fintech_dataops.lib.ledger.store import (
        book, close_batches, ensure_ledger_schema, entry_id_for, record_unbookable,
    )

    stats.polls += 1
    approvals = follower.poll()
    booked = 0
    now = time.monotonic()
    if not approvals and not follower.unbookable and now - stats.last_close < min(1.0, batch_max_age_seconds / 2):
        return 0  # nothing new: do not take the warehouse lock on every poll
    with connect() as con:
        if not stats.schema_ready:
            ensure_ledger_schema(con)
            stats.schema_ready = True
        if approvals:
            result = book(con, [a.entry for a in approvals])
            posted = datetime.now(timezone.utc).replace(tzinfo=None)
            booked = result.booked
            stats.booked += result.booked
            stats.already_booked += result.already_booked
            new = set(result.entry_ids)
            stats.posted_latency_ms += [(posted - a.decided_at).total_seconds() * 1000 for a in approvals
                                        if entry_id_for(a.entry.event_id) in new]
        if follower.unbookable:
            record_unbookable(con, follower.unbookable)
            follower.unbookable = []
        close_batches(con, max_entries=batch_max_entries, max_age_seconds=batch_max_age_seconds)
        stats.last_close = time.monotonic()
    return booked


def settle_pending(connect, chain, stats: FollowStats) -> int:
    """Settle the closed batches, if any (for a settlement thread next to ``follow_once``)."""
    from fintech_dataops.lib.ledger.settle import settle_batches
    from fintech_dataops.lib.ledger.store import ensure_ledger_schema

    with connect() as con:
        ensure_ledger_schema(con)
        unsettled = con.execute("SELECT count(*) FROM ledger.batches WHERE status <> 'settled'").fetchone()[0]
    if not unsettled:
        return 0
    settled = len(settle_batches(connect, chain).settled)
    stats.batches_settled += settled
    return settled


def settlement_thread(connect, chain, stats: FollowStats, stop, interval: float) -> "threading.Thread":
    import threading

    def loop():
        while not stop.wait(interval):
            try:
                settle_pending(connect, chain, stats)
            except Exception as exc:  # noqa: BLE001 - a chain or lock hiccup: the batch stays unsettled, retried next tick
                stats.settle_errors.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=loop, name="ledger-settle", daemon=True)
    thread.start()
    return thread


class HeldConnection:
    """One warehouse connection held across polls (opening a DuckDB file and checkpointing it on close
    costs more than a poll), handed back whenever another process queues for the file lock
    (``warehouse.waiting_processes``). Each use gets its own cursor, so the settlement thread can
    share it safely."""

    def __init__(self, database: Path, wait_seconds: float = 120.0):
        import threading

        self.database = Path(database)
        self.wait_seconds = wait_seconds
        self._con = None
        self._lock = threading.Lock()

    def __call__(self):
        from contextlib import contextmanager

        @contextmanager
        def use():
            from fintech_dataops.lib import warehouse

            with self._lock:
                if self._con is None:
                    self._con = warehouse.connect(self.database, wait_seconds=self.wait_seconds)
                cursor = self._con.cursor()
            try:
                yield cursor
            finally:
                cursor.close()

        return use()

    def yield_if_waited(self) -> bool:
        """Close the held connection when another process waits for the warehouse; True if it did."""
        from fintech_dataops.lib import warehouse

        if self._con is None or not warehouse.waiting_processes(self.database):
            return False
        self.close()
        warehouse.yield_to_waiters(self.database)
        return True

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
