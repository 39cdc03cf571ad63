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
from fintech_dataops.lib.ledger.store import all_batches_material, positions_digest


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


# The canonical bytes of model.canonical_bytes, built by DuckDB for every entry at once (vectorised).
# Python stays the judge: an entry whose SQL hash differs is recomputed with model.entry_hash before it
# is reported, so a difference in JSON escaping between the two can cost time, never a false finding.
_ENTRY_CHECKS_SQL = """
WITH legs AS (
    SELECT entry_id, '[' || string_agg('[' || to_json(account_id) || ',' || to_json(currency) || ',' || amount_minor
                                       || ']', ',' ORDER BY line_no) || ']' AS postings
    FROM ledger.postings GROUP BY entry_id),
hashed AS (
    SELECT e.stream, e.seq, e.entry_id, e.entry_hash, e.prev_hash,
           sha256('{"event_id":' || to_json(e.event_id)
                  || ',"event_time":' || to_json(strftime(e.event_time, '%Y-%m-%dT%H:%M:%S.%f'))
                  || ',"kind":' || to_json(e.kind) || ',"postings":' || coalesce(l.postings, '[]')
                  || ',"prev_hash":' || to_json(e.prev_hash) || ',"reverses":' || coalesce(to_json(e.reverses), 'null')
                  || ',"seq":' || e.seq || ',"stream":' || to_json(e.stream) || '}') AS recomputed,
           lag(e.entry_hash) OVER w AS previous_hash, lag(e.seq) OVER w AS previous_seq
    FROM ledger.entries e LEFT JOIN legs l USING (entry_id)
    WINDOW w AS (PARTITION BY e.stream ORDER BY e.seq, e.entry_id))
SELECT stream, seq, entry_id, entry_hash, recomputed, recomputed <> entry_hash AS hash_differs,
       prev_hash <> coalesce(previous_hash, ?) AS chain_broken, previous_hash,
       seq <> coalesce(previous_seq, 0) + 1 AS seq_off, coalesce(previous_seq, 0) + 1 AS expected_seq
FROM hashed
WHERE recomputed <> entry_hash OR prev_hash <> coalesce(previous_hash, ?) OR seq <> coalesce(previous_seq, 0) + 1
ORDER BY stream, seq, entry_id"""


def _python_hash(con: duckdb.DuckDBPyConnection, entry_id: str) -> str:
    from fintech_dataops.lib.ledger.store import load_entry

    e = load_entry(con, entry_id)
    return entry_hash(e.stream, e.seq, e.event_id, e.kind, e.event_time, e.postings, e.prev_hash, e.reverses)


def verify_ledger(con: duckdb.DuckDBPyConnection) -> VerifyReport:
    report = VerifyReport()
    con.execute("SET enable_progress_bar = false")  # this connection only: no bar in `ledger verify` or the summary
    if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ledger' "
                       "AND table_name = 'entries'").fetchone()[0]:
        return report
    report.entries = con.execute("SELECT count(*) FROM ledger.entries").fetchone()[0]
    for (stream, seq, entry_id, stored, recomputed, hash_differs, chain_broken, previous, seq_off,
         expected_seq) in con.execute(_ENTRY_CHECKS_SQL, [GENESIS_HASH, GENESIS_HASH]).fetchall():
        if seq_off:
            what = "repeated" if seq < expected_seq else f"missing seq {expected_seq}..{seq - 1} before it"
            report.findings.append(Finding("seq_gap", stream, seq, entry_id, f"sequence {what}"))
        if hash_differs:
            recomputed = _python_hash(con, entry_id)
            if recomputed != stored:
                report.findings.append(Finding("hash_mismatch", stream, seq, entry_id,
                                               f"stored hash {stored[:16]}… but its content hashes to "
                                               f"{recomputed[:16]}…"))
        if chain_broken:
            report.findings.append(Finding("chain_break", stream, seq, entry_id,
                                           f"prev_hash is not the hash of the entry before it "
                                           f"({(previous or GENESIS_HASH)[:16]}…)"))
    batches = con.execute("SELECT batch_no, batch_id, stream, first_seq, last_seq, entry_count, merkle_root, "
                          "positions_digest FROM ledger.batches ORDER BY batch_no").fetchall()
    material = all_batches_material(con)
    for batch_no, batch_id, stream, first, last, count, root, digest in batches:
        report.batches += 1
        members, positions = material.get(batch_no, ([], []))
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
