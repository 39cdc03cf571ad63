"""Recompute every stream's hash chain and every batch's Merkle root from the stored rows.

What each finding means:
- ``hash_mismatch``: the entry's stored columns or postings no longer hash to its ``entry_hash``
  (an amount, account, time or id was changed);
- ``chain_break``: the entry's ``prev_hash`` is not the hash of the entry stored before it (entries
  reordered, or one removed in between);
- ``seq_gap``: a sequence number is missing (an entry deleted) or repeated;
- ``batch_root_mismatch`` / ``batch_count_mismatch``: a batch's stored root or size does not match
  its entries any more.
The first finding names the first bad entry in stream order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from fintech_dataops.lib.ledger.merkle import merkle_root
from fintech_dataops.lib.ledger.model import GENESIS_HASH, entry_hash
from fintech_dataops.lib.ledger.store import batch_material, load_stream, positions_digest, streams


@dataclass
class Finding:
    problem: str
    stream: str
    seq: int | None
    entry_id: str | None
    detail: str

    def __str__(self) -> str:
        where = f"entry {self.entry_id} (stream {self.stream}, seq {self.seq})" if self.entry_id else \
            f"stream {self.stream}"
        return f"{self.problem}: {where}: {self.detail}"


@dataclass
class VerifyReport:
    entries: int = 0
    batches: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None


def verify_ledger(con: duckdb.DuckDBPyConnection) -> VerifyReport:
    report = VerifyReport()
    if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ledger' "
                       "AND table_name = 'entries'").fetchone()[0]:
        return report
    for stream in streams(con):
        stored = load_stream(con, stream)
        report.entries += len(stored)
        prev, expected_seq = GENESIS_HASH, 1
        for e in stored:
            if e.seq != expected_seq:
                what = "repeated" if e.seq < expected_seq else f"missing seq {expected_seq}..{e.seq - 1} before it"
                report.findings.append(Finding("seq_gap", stream, e.seq, e.entry_id, f"sequence {what}"))
            recomputed = entry_hash(e.stream, e.seq, e.event_id, e.kind, e.event_time, e.postings, e.prev_hash,
                                    e.reverses)
            if recomputed != e.entry_hash:
                report.findings.append(Finding("hash_mismatch", stream, e.seq, e.entry_id,
                                               f"stored hash {e.entry_hash[:16]}… but its content hashes to "
                                               f"{recomputed[:16]}…"))
            if e.prev_hash != prev:
                report.findings.append(Finding("chain_break", stream, e.seq, e.entry_id,
                                               f"prev_hash {e.prev_hash[:16]}… is not the hash of the entry "
                                               f"before it ({prev[:16]}…)"))
            prev, expected_seq = e.entry_hash, e.seq + 1
    for batch_no, batch_id, stream, first, last, count, root, digest in con.execute(
            "SELECT batch_no, batch_id, stream, first_seq, last_seq, entry_count, merkle_root, positions_digest "
            "FROM ledger.batches ORDER BY batch_no").fetchall():
        report.batches += 1
        members, positions = batch_material(con, stream, first, last)
        if len(members) != count:
            report.findings.append(Finding("batch_count_mismatch", stream, None, None,
                                           f"batch {batch_id} holds {len(members)} entries, {count} when closed"))
        if members and merkle_root(members) != root:
            report.findings.append(Finding("batch_root_mismatch", stream, None, None,
                                           f"batch {batch_id}: its entries no longer give Merkle root {root[:16]}…"))
        if members and positions_digest(positions) != digest:
            report.findings.append(Finding("batch_positions_mismatch", stream, None, None,
                                           f"batch {batch_id}: net positions changed since it was closed"))
    report.findings.sort(key=lambda f: (f.stream, f.seq if f.seq is not None else 1 << 62))
    return report
