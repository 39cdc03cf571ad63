"""The ledger's DuckDB tables, append-only booking with idempotency, and settlement batches.

``ledger.entries`` / ``ledger.postings`` are only ever appended to: a correction is a reversal
entry. ``ledger.entries.event_id`` is unique (the business event id), so booking the same events
again — a rerun, a backfill, a replayed micro-batch — books nothing new. Each entry carries its
stream's previous entry hash (``prev_hash``) and its own (``entry_hash``, see ``model.canonical_bytes``).
``ledger.batches`` groups consecutive entries of a stream (a seq range) under a Merkle root; its
settlement columns (status, nonce, tx hash, block) are the only ones ever updated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import duckdb
import pandas as pd

from fintech_dataops.lib.ledger.model import (
    GENESIS_HASH, Entry, Posting, StoredEntry, check_balanced, entry_hash,
)
from fintech_dataops.lib.ledger.merkle import merkle_root

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS ledger;
CREATE TABLE IF NOT EXISTS ledger.accounts (
    account_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, owner VARCHAR NOT NULL, opened_at TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS ledger.entries (
    entry_id VARCHAR PRIMARY KEY, stream VARCHAR NOT NULL, seq BIGINT NOT NULL, event_id VARCHAR NOT NULL UNIQUE,
    kind VARCHAR NOT NULL, event_time TIMESTAMP NOT NULL, business_date DATE NOT NULL, reverses VARCHAR,
    description VARCHAR, prev_hash VARCHAR NOT NULL, entry_hash VARCHAR NOT NULL, booked_at TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS ledger.postings (
    entry_id VARCHAR NOT NULL, line_no INTEGER NOT NULL, account_id VARCHAR NOT NULL, currency VARCHAR NOT NULL,
    amount_minor BIGINT NOT NULL, PRIMARY KEY (entry_id, line_no));
CREATE TABLE IF NOT EXISTS ledger.batches (
    batch_no BIGINT PRIMARY KEY, batch_id VARCHAR NOT NULL, stream VARCHAR NOT NULL, first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL, entry_count BIGINT NOT NULL, merkle_root VARCHAR NOT NULL,
    positions_digest VARCHAR NOT NULL, closed_at TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL, chain_id BIGINT, sender VARCHAR, nonce BIGINT, tx_hash VARCHAR, raw_tx VARCHAR,
    block_number BIGINT, attempts INTEGER NOT NULL DEFAULT 0, last_error VARCHAR, settled_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS ledger.batch_positions (
    batch_no BIGINT NOT NULL, account_id VARCHAR NOT NULL, currency VARCHAR NOT NULL, net_minor BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger.unbookable (
    event_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, business_date DATE, reason VARCHAR NOT NULL,
    seen_at TIMESTAMP NOT NULL);
"""

# Batch settlement states: closed (root fixed, nothing signed) → signed (nonce + raw tx stored, maybe
# sent) → settled (receipt with block), or failed (last send raised; retried with the same signed tx).
CLOSED, SIGNED, FAILED, SETTLED = "closed", "signed", "failed", "settled"


def ensure_ledger_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SCHEMA_SQL)


def entry_id_for(event_id: str) -> str:
    """Stable id from the business event id (what ``ledger proof ENTRY_ID`` takes)."""
    return "le_" + hashlib.sha256(event_id.encode()).hexdigest()[:24]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class BookResult:
    booked: int = 0
    already_booked: int = 0
    postings: int = 0
    entry_ids: list[str] = field(default_factory=list)


def book(con: duckdb.DuckDBPyConnection, entries: Iterable[Entry], *, business_date=None,
         booked_at: datetime | None = None) -> BookResult:
    """Append ``entries`` in one transaction: balanced (re-checked here), new event ids only, chained.

    An entry whose event id is already in the ledger (or repeated in ``entries``) is skipped and
    counted in ``already_booked``: the ledger is idempotent by business event id.
    """
    entries = list(entries)
    result = BookResult()
    if not entries:
        return result
    for e in entries:
        check_balanced(e.event_id, e.postings)  # an Entry balances on construction; a forged one may not
    booked_at = booked_at or _utcnow()
    ensure_ledger_schema(con)
    con.execute("BEGIN TRANSACTION")
    try:
        ids = pd.DataFrame({"event_id": [e.event_id for e in entries]})
        con.register("_ledger_candidate_ids", ids)
        existing = {r[0] for r in con.execute(
            "SELECT e.event_id FROM ledger.entries e JOIN _ledger_candidate_ids c USING (event_id)").fetchall()}
        con.unregister("_ledger_candidate_ids")
        tails = {s: (seq, h) for s, seq, h in con.execute(
            "SELECT stream, max(seq), arg_max(entry_hash, seq) FROM ledger.entries GROUP BY stream").fetchall()}
        entry_rows, posting_rows = [], []
        for e in entries:
            if e.event_id in existing:
                result.already_booked += 1
                continue
            existing.add(e.event_id)
            seq, prev = tails.get(e.stream, (0, GENESIS_HASH))
            seq += 1
            h = entry_hash(e.stream, seq, e.event_id, e.kind, e.event_time, e.postings, prev, e.reverses)
            tails[e.stream] = (seq, h)
            eid = entry_id_for(e.event_id)
            day = business_date if business_date is not None else e.event_time.date()
            entry_rows.append((eid, e.stream, seq, e.event_id, e.kind, e.event_time, day, e.reverses,
                               e.description, prev, h, booked_at))
            posting_rows += [(eid, i, p.account_id, p.currency, p.amount_minor) for i, p in enumerate(e.postings)]
            result.entry_ids.append(eid)
        if entry_rows:
            entry_frame = pd.DataFrame(entry_rows, columns=[
                "entry_id", "stream", "seq", "event_id", "kind", "event_time", "business_date", "reverses",
                "description", "prev_hash", "entry_hash", "booked_at"])
            posting_frame = pd.DataFrame(posting_rows, columns=["entry_id", "line_no", "account_id", "currency",
                                                                "amount_minor"])
            posting_frame["amount_minor"] = posting_frame["amount_minor"].astype("int64")
            con.register("_ledger_new_entries", entry_frame)
            con.register("_ledger_new_postings", posting_frame)
            con.execute("INSERT INTO ledger.entries SELECT entry_id, stream, seq, event_id, kind, event_time, "
                        "CAST(business_date AS DATE), reverses, description, prev_hash, entry_hash, booked_at "
                        "FROM _ledger_new_entries")
            con.execute("INSERT INTO ledger.postings SELECT entry_id, line_no, account_id, currency, amount_minor "
                        "FROM _ledger_new_postings")
            con.execute("""
                INSERT INTO ledger.accounts
                SELECT DISTINCT p.account_id, split_part(p.account_id, ':', 1), substr(p.account_id, strpos(p.account_id, ':') + 1), ?
                FROM _ledger_new_postings p ANTI JOIN ledger.accounts a USING (account_id)""", [booked_at])
            con.unregister("_ledger_new_entries")
            con.unregister("_ledger_new_postings")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    result.booked = len(entry_rows)
    result.postings = len(posting_rows)
    return result


def record_unbookable(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, object, str]]) -> int:
    """Events that cannot be booked (e.g. an amount finer than its currency's minor unit), with the reason."""
    if not rows:
        return 0
    ensure_ledger_schema(con)
    now = _utcnow()
    con.executemany(
        "INSERT INTO ledger.unbookable SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS "
        "(SELECT 1 FROM ledger.unbookable WHERE event_id = ?)",
        [(eid, kind, day, reason, now, eid) for eid, kind, day, reason in rows])
    return len(rows)


def stored_rows_of_day(con: duckdb.DuckDBPyConnection, business_date) -> dict[str, int]:
    """What the ledger holds for one business day: its entries, their postings, its unbookable events,
    and the accounts opened so far (accounts are not per day: the table's size after that day)."""
    ensure_ledger_schema(con)
    entries, postings = con.execute(
        "SELECT count(DISTINCT e.entry_id), count(p.entry_id) FROM ledger.entries e "
        "LEFT JOIN ledger.postings p USING (entry_id) WHERE e.business_date = ?", [business_date]).fetchone()
    unbookable = con.execute("SELECT count(*) FROM ledger.unbookable WHERE business_date = ?",
                             [business_date]).fetchone()[0]
    accounts = con.execute("SELECT count(*) FROM ledger.accounts").fetchone()[0]
    return {"entries": int(entries), "postings": int(postings), "unbookable": int(unbookable),
            "accounts": int(accounts)}


def load_stream(con: duckdb.DuckDBPyConnection, stream: str, first_seq: int | None = None,
                last_seq: int | None = None) -> list[StoredEntry]:
    """A stream's stored entries in seq order (optionally a seq range), with their postings."""
    where, params = "stream = ?", [stream]
    if first_seq is not None:
        where += " AND seq BETWEEN ? AND ?"
        params += [first_seq, last_seq]
    entry_rows = con.execute(
        f"SELECT entry_id, stream, seq, event_id, kind, event_time, prev_hash, entry_hash, reverses "
        f"FROM ledger.entries WHERE {where} ORDER BY seq, entry_id", params).fetchall()
    postings: dict[str, list[Posting]] = {}
    for eid, account, currency, amount in con.execute(
            f"SELECT p.entry_id, p.account_id, p.currency, p.amount_minor FROM ledger.postings p "
            f"SEMI JOIN (SELECT entry_id FROM ledger.entries WHERE {where}) e USING (entry_id) "
            "ORDER BY p.entry_id, p.line_no", params).fetchall():
        postings.setdefault(eid, []).append(Posting(account, currency, int(amount)))
    return [StoredEntry(entry_id=r[0], stream=r[1], seq=r[2], event_id=r[3], kind=r[4], event_time=r[5],
                        prev_hash=r[6], entry_hash=r[7], reverses=r[8], postings=tuple(postings.get(r[0], ())))
            for r in entry_rows]


def load_entry(con: duckdb.DuckDBPyConnection, entry_id: str) -> StoredEntry:
    r = con.execute("SELECT entry_id, stream, seq, event_id, kind, event_time, prev_hash, entry_hash, reverses "
                    "FROM ledger.entries WHERE entry_id = ?", [entry_id]).fetchone()
    postings = tuple(Posting(a, c, int(v)) for a, c, v in con.execute(
        "SELECT account_id, currency, amount_minor FROM ledger.postings WHERE entry_id = ? ORDER BY line_no",
        [entry_id]).fetchall())
    return StoredEntry(entry_id=r[0], stream=r[1], seq=r[2], event_id=r[3], kind=r[4], event_time=r[5],
                       prev_hash=r[6], entry_hash=r[7], reverses=r[8], postings=postings)


def all_batches_material(con: duckdb.DuckDBPyConnection) -> dict[int, tuple[list[str], list[tuple[str, str, int]]]]:
    """``batch_material`` for every batch in two set-based queries (verify and reconcile read them all)."""
    material: dict[int, tuple[list[str], list[tuple[str, str, int]]]] = {}
    for batch_no, hash_hex in con.execute(
            "SELECT b.batch_no, e.entry_hash FROM ledger.entries e JOIN ledger.batches b "
            "ON e.stream = b.stream AND e.seq BETWEEN b.first_seq AND b.last_seq ORDER BY b.batch_no, e.seq").fetchall():
        material.setdefault(batch_no, ([], []))[0].append(hash_hex)
    for batch_no, account, currency, net in con.execute(
            "SELECT b.batch_no, p.account_id, p.currency, sum(p.amount_minor) FROM ledger.postings p "
            "JOIN ledger.entries e USING (entry_id) JOIN ledger.batches b "
            "ON e.stream = b.stream AND e.seq BETWEEN b.first_seq AND b.last_seq "
            "GROUP BY ALL HAVING sum(p.amount_minor) <> 0").fetchall():
        material.setdefault(batch_no, ([], []))[1].append((account, currency, int(net)))
    for _, positions in material.values():
        positions.sort()
    return material


def batch_material(con: duckdb.DuckDBPyConnection, stream: str, first_seq: int, last_seq: int
                   ) -> tuple[list[str], list[tuple[str, str, int]]]:
    """A batch's entry hashes (stream order) and its net positions, straight from the stored rows."""
    hashes = [r[0] for r in con.execute(
        "SELECT entry_hash FROM ledger.entries WHERE stream = ? AND seq BETWEEN ? AND ? ORDER BY seq",
        [stream, first_seq, last_seq]).fetchall()]
    positions = sorted((a, c, int(v)) for a, c, v in con.execute(
        "SELECT p.account_id, p.currency, sum(p.amount_minor) FROM ledger.postings p "
        "JOIN ledger.entries e USING (entry_id) WHERE e.stream = ? AND e.seq BETWEEN ? AND ? "
        "GROUP BY ALL HAVING sum(p.amount_minor) <> 0", [stream, first_seq, last_seq]).fetchall())
    return hashes, positions


def streams(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT DISTINCT stream FROM ledger.entries ORDER BY 1").fetchall()]


def positions_digest(positions: list[tuple[str, str, int]]) -> str:
    return hashlib.sha256(json.dumps([list(p) for p in positions], separators=(",", ":")).encode()).hexdigest()


def close_batches(con: duckdb.DuckDBPyConnection, *, max_entries: int = 5000, max_age_seconds: float | None = None,
                  now: datetime | None = None) -> list[int]:
    """Group every stream's unbatched entries into batches of at most ``max_entries``.

    A short tail (fewer than ``max_entries``) is closed too, unless ``max_age_seconds`` is given and
    its oldest entry is younger than that (the online path: batches every N entries or N seconds).
    Returns the new batch numbers.
    """
    ensure_ledger_schema(con)
    now = now or _utcnow()
    created: list[int] = []
    con.execute("BEGIN TRANSACTION")
    try:
        next_no = con.execute("SELECT coalesce(max(batch_no), 0) + 1 FROM ledger.batches").fetchone()[0]
        for stream in streams(con):
            done, last = con.execute(
                "SELECT coalesce(max(last_seq), 0), (SELECT max(seq) FROM ledger.entries WHERE stream = ?) "
                "FROM ledger.batches WHERE stream = ?", [stream, stream]).fetchone()
            first = done + 1
            while last is not None and first <= last:
                end = min(first + max_entries - 1, last)
                if end - first + 1 < max_entries and max_age_seconds is not None:
                    oldest = con.execute("SELECT min(booked_at) FROM ledger.entries WHERE stream = ? AND seq >= ?",
                                         [stream, first]).fetchone()[0]
                    if oldest is not None and (now - oldest).total_seconds() < max_age_seconds:
                        break
                hashes, positions = batch_material(con, stream, first, end)
                root = merkle_root(hashes)
                con.execute(
                    "INSERT INTO ledger.batches (batch_no, batch_id, stream, first_seq, last_seq, entry_count, "
                    "merkle_root, positions_digest, closed_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [next_no, f"B{next_no:08d}", stream, first, end, len(hashes), root,
                     positions_digest(positions), now, CLOSED])
                if positions:
                    frame = pd.DataFrame(positions, columns=["account_id", "currency", "net_minor"])
                    frame["net_minor"] = frame["net_minor"].astype("int64")
                    con.register("_ledger_batch_positions", frame)
                    con.execute("INSERT INTO ledger.batch_positions SELECT ?, account_id, currency, net_minor "
                                "FROM _ledger_batch_positions", [next_no])
                    con.unregister("_ledger_batch_positions")
                created.append(next_no)
                next_no += 1
                first = end + 1
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return created
