"""Inclusion proof of one entry in its settlement batch (JSON anyone can check with ``merkle.verify_proof``)."""

from __future__ import annotations

import duckdb

from fintech_dataops.lib.ledger.merkle import inclusion_proof, merkle_root, verify_proof
from fintech_dataops.lib.ledger.model import canonical_bytes, entry_hash
from fintech_dataops.lib.ledger.store import load_stream


class ProofUnavailable(LookupError):
    pass


def entry_proof(con: duckdb.DuckDBPyConnection, entry_id: str) -> dict:
    row = con.execute("SELECT stream, seq FROM ledger.entries WHERE entry_id = ?", [entry_id]).fetchone()
    if row is None:
        raise ProofUnavailable(f"no ledger entry {entry_id}")
    stream, seq = row
    batch = con.execute(
        "SELECT batch_id, first_seq, last_seq, merkle_root, status, chain_id, tx_hash, block_number "
        "FROM ledger.batches WHERE stream = ? AND ? BETWEEN first_seq AND last_seq", [stream, seq]).fetchone()
    if batch is None:
        raise ProofUnavailable(f"entry {entry_id} is not in a settlement batch yet")
    batch_id, first, last, root, status, chain_id, tx_hash, block = batch
    members = load_stream(con, stream, first, last)
    index = next(i for i, e in enumerate(members) if e.entry_id == entry_id)
    e = members[index]
    return {
        "entry_id": e.entry_id,
        "entry": {"stream": e.stream, "seq": e.seq, "event_id": e.event_id, "kind": e.kind,
                  "event_time": e.event_time.isoformat(timespec="microseconds"), "reverses": e.reverses,
                  "prev_hash": e.prev_hash,
                  "postings": [[p.account_id, p.currency, p.amount_minor] for p in e.postings]},
        "canonical": canonical_bytes(e.stream, e.seq, e.event_id, e.kind, e.event_time, e.postings, e.prev_hash,
                                     e.reverses).decode(),
        "entry_hash": e.entry_hash,
        "batch_id": batch_id, "leaf_index": index, "leaf_count": len(members),
        "proof": inclusion_proof([m.entry_hash for m in members], index),
        "merkle_root": root,
        "anchor": {"status": status, "chain_id": chain_id, "tx_hash": tx_hash, "block_number": block},
        "how_to_verify": ("sha256(canonical) must equal entry_hash; node = sha256(0x00 || entry_hash); for each "
                          "proof step node = sha256(0x01 || hash || node) if side is 'left' else "
                          "sha256(0x01 || node || hash); node must equal merkle_root, which is bytes 12..44 of "
                          "the anchor transaction's input data"),
    }


def check_proof(document: dict) -> list[str]:
    """Problems with a proof document (empty = valid): the canonical bytes hash to entry_hash, the
    entry fields are the canonical ones, and the Merkle path leads to the root."""
    import hashlib
    from datetime import datetime

    from fintech_dataops.lib.ledger.model import Posting

    problems = []
    if hashlib.sha256(document["canonical"].encode()).hexdigest() != document["entry_hash"]:
        problems.append("canonical bytes do not hash to entry_hash")
    e = document["entry"]
    recomputed = entry_hash(e["stream"], e["seq"], e["event_id"], e["kind"], datetime.fromisoformat(e["event_time"]),
                            [Posting(a, c, int(v)) for a, c, v in e["postings"]], e["prev_hash"], e["reverses"])
    if recomputed != document["entry_hash"]:
        problems.append("entry fields do not hash to entry_hash")
    if not verify_proof(document["entry_hash"], document["proof"], document["merkle_root"]):
        problems.append("Merkle path does not lead to merkle_root")
    return problems


__all__ = ["entry_proof", "check_proof", "ProofUnavailable", "merkle_root"]
