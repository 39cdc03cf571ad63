"""Settle closed batches on the chain and sync the on-chain status back into ``ledger.batches``.

Never double-settled, by nonce discipline: a batch's transaction is signed once (nonce + raw tx +
hash committed to the warehouse *before* it is sent), and every retry resends those same bytes; a
chain includes one nonce of one sender at most once. Batches settle strictly in order: a batch that
failed to send stops the round, so no later batch takes its nonce. A batch is re-signed (same batch
id, new nonce) only when the chain has provably moved past its nonce without including it — then the
old transaction can never be mined.

Crash safety (kill -9 anywhere): entries are booked before a batch closes; a batch row exists before
its transaction is signed; the signed transaction is stored before it is sent; so a restart finds
every batch in a state it can finish: closed → sign; signed/failed → look the hash up, resend if
unknown; settled → done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from fintech_dataops.lib.ledger.chain import Anchor, Chain, ChainSendError
from fintech_dataops.lib.ledger.store import CLOSED, FAILED, SETTLED, SIGNED, ensure_ledger_schema


@dataclass
class SettleReport:
    settled: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    resent: int = 0


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def settle_batches(connect, chain: Chain, *, receipt_timeout: float = 30.0, limit: int | None = None) -> SettleReport:
    """Settle every unsettled batch in batch order. ``connect`` is a context manager factory giving a
    warehouse connection; it is held only for the short reads/writes, never while waiting on the chain."""
    report = SettleReport()
    with connect() as con:
        ensure_ledger_schema(con)
        todo = con.execute(
            "SELECT batch_no, batch_id, merkle_root, positions_digest, status, nonce, tx_hash, raw_tx, sender "
            "FROM ledger.batches WHERE status <> ? ORDER BY batch_no", [SETTLED]).fetchall()
    for count, (batch_no, batch_id, root, digest, status, nonce, tx_hash, raw_tx, sender) in enumerate(todo):
        if limit is not None and count >= limit:
            report.pending.append(batch_id)
            continue
        if raw_tx is not None and sender is not None and sender != chain.address:
            report.failed.append((batch_id, f"signed by {sender}, this chain's settlement account is {chain.address}"))
            break
        if raw_tx is not None:
            receipt = chain.receipt(tx_hash)
            if receipt is None and nonce is not None and chain.confirmed_nonce() > nonce:
                raw_tx = None  # the chain moved past this nonce without our tx: it can never be mined; re-sign
        else:
            receipt = None
        if raw_tx is None:
            nonce = chain.next_nonce()
            raw_tx, tx_hash = chain.sign_anchor(Anchor(batch_no, root, digest), nonce)
            with connect() as con:
                con.execute("UPDATE ledger.batches SET status = ?, chain_id = ?, sender = ?, nonce = ?, tx_hash = ?, "
                            "raw_tx = ? WHERE batch_no = ?",
                            [SIGNED, chain.chain_id, chain.address, nonce, tx_hash, raw_tx, batch_no])
        if receipt is None:
            try:
                chain.send_raw(raw_tx)
            except ChainSendError as exc:
                receipt = chain.receipt(tx_hash)  # sent before, or the reply was lost after the node took it
                if receipt is None:
                    with connect() as con:
                        con.execute("UPDATE ledger.batches SET status = ?, attempts = attempts + 1, last_error = ? "
                                    "WHERE batch_no = ?", [FAILED, str(exc)[:500], batch_no])
                    report.failed.append((batch_id, str(exc)))
                    break  # later batches would take this batch's nonce: retry it first next round
            else:
                report.resent += int(status in (SIGNED, FAILED))
            if receipt is None:
                receipt = chain.wait_receipt(tx_hash, receipt_timeout)
            if receipt is None:
                with connect() as con:
                    con.execute("UPDATE ledger.batches SET attempts = attempts + 1 WHERE batch_no = ?", [batch_no])
                report.pending.append(batch_id)
                break
            chain.after_mined(raw_tx)
        if not receipt.succeeded:
            with connect() as con:  # reverted: the nonce is spent; re-sign next round under the same batch id
                con.execute("UPDATE ledger.batches SET status = ?, raw_tx = NULL, nonce = NULL, tx_hash = NULL, "
                            "attempts = attempts + 1, last_error = ? WHERE batch_no = ?",
                            [FAILED, f"reverted in block {receipt.block_number}", batch_no])
            report.failed.append((batch_id, "reverted"))
            break
        with connect() as con:
            con.execute("UPDATE ledger.batches SET status = ?, block_number = ?, settled_at = ?, last_error = NULL, "
                        "attempts = attempts + 1 WHERE batch_no = ?",
                        [SETTLED, receipt.block_number, _now(), batch_no])
        report.settled.append(batch_id)
    return report


__all__ = ["settle_batches", "SettleReport", "CLOSED"]
