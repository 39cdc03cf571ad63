"""Reconciliation: the ledger against the chain, and the ledger against the approved payments.

Both return one row per difference (never a sum that could hide two opposite errors).
"""

from __future__ import annotations

import duckdb

from fintech_dataops.lib.ledger.chain import Chain
from fintech_dataops.lib.ledger.merkle import merkle_root
from fintech_dataops.lib.money.currencies import DEFAULT_MINOR_UNITS, MINOR_UNITS_NOT_TWO
from fintech_dataops.lib.ledger.store import SETTLED, all_batches_material, positions_digest


def chain_differences(con: duckdb.DuckDBPyConnection, chain: Chain) -> list[dict]:
    """Every settled batch: its transaction is mined on this chain, sent by the settlement account,
    and anchors the batch number, the Merkle root of the batch's stored entries and the digest of
    their net positions. Also: no batch number anchored twice by the settlement account (where the
    backend can list its anchors)."""
    differences = []
    material = all_batches_material(con)
    for batch_no, batch_id, stream, first, last, tx_hash, block, chain_id in con.execute(
            "SELECT batch_no, batch_id, stream, first_seq, last_seq, tx_hash, block_number, chain_id "
            "FROM ledger.batches WHERE status = ? ORDER BY batch_no", [SETTLED]).fetchall():
        def diff(problem, ledger_value, chain_value):
            differences.append({"batch_id": batch_id, "problem": problem, "ledger": str(ledger_value),
                                "chain": str(chain_value), "tx_hash": tx_hash})

        if chain_id is not None and chain_id != chain.chain_id:
            diff("other_chain", chain_id, chain.chain_id)
            continue
        receipt = chain.receipt(tx_hash)
        if receipt is None:
            diff("tx_not_on_chain", f"settled in block {block}", "no such transaction")
            continue
        if receipt.block_number != block:
            diff("block_mismatch", block, receipt.block_number)
        anchor, sender = chain.anchor_in(tx_hash)
        if anchor is None:
            diff("no_anchor", "anchor data", "transaction carries no ledger anchor")
            continue
        if sender != chain.address:
            diff("wrong_sender", chain.address, sender)
        members, positions = material.get(batch_no, ([], []))
        root = merkle_root(members) if members else "(no entries)"
        if anchor.batch_no != batch_no:
            diff("batch_no_mismatch", batch_no, anchor.batch_no)
        if anchor.merkle_root != root:
            diff("root_mismatch", root, anchor.merkle_root)
        if members and anchor.positions_digest != positions_digest(positions):
            diff("positions_mismatch", positions_digest(positions), anchor.positions_digest)
    if hasattr(chain, "anchored_batches"):
        seen: dict[int, str] = {}
        for batch_no, tx_hash in chain.anchored_batches():
            if batch_no in seen:
                differences.append({"batch_id": f"B{batch_no:08d}", "problem": "anchored_twice",
                                    "ledger": seen[batch_no], "chain": tx_hash, "tx_hash": tx_hash})
            seen[batch_no] = tx_hash
    return differences


def _units_values() -> str:
    """(currency, 10 ** minor units) for the currencies whose minor units are not the default."""
    return ", ".join(f"('{c}', {10 ** u})" for c, u in sorted(MINOR_UNITS_NOT_TWO.items()))


def booking_differences(con: duckdb.DuckDBPyConnection, days: list | None = None) -> list[dict]:
    """Approved payments not booked, booked more than once, or booked for a different amount; and
    card entries with no approved payment behind them. ``days`` limits it to those business days."""
    day_filter = "" if days is None else "AND s.partition_date IN (SELECT unnest(?::DATE[]))"
    entry_filter = "" if days is None else "AND e.business_date IN (SELECT unnest(?::DATE[]))"
    params = [] if days is None else [list(days)]
    rows = con.execute(f"""
        WITH approved AS (
            SELECT 'card:' || transaction_id AS event_id, partition_date AS day, currency,
                   CAST(round(amount, 3) AS DECIMAL(18, 3)) AS amount
            FROM fraud.scored_transactions s WHERE decision = 'approve' {day_filter}),
        booked AS (
            SELECT e.event_id, any_value(e.business_date) AS day, count(DISTINCT e.entry_id) AS times,
                   sum(p.amount_minor) FILTER (WHERE p.account_id LIKE 'customer:%') AS customer_minor,
                   any_value(p.currency) AS currency
            FROM ledger.entries e JOIN ledger.postings p USING (entry_id)
            WHERE e.kind = 'card_payment' {entry_filter} GROUP BY e.event_id)
        SELECT coalesce(a.event_id, b.event_id), coalesce(a.day, b.day),
               CASE WHEN b.event_id IS NULL THEN 'not_booked'
                    WHEN a.event_id IS NULL THEN 'booked_without_approval'
                    WHEN b.times > 1 THEN 'booked_more_than_once'
                    ELSE 'amount_differs' END,
               a.amount, a.currency, b.customer_minor, b.times
        FROM approved a FULL JOIN booked b USING (event_id)
        WHERE b.event_id IS NULL OR a.event_id IS NULL OR b.times > 1
           OR b.customer_minor <> CAST(a.amount * coalesce(
                (SELECT factor FROM (VALUES {{units}}) m(currency, factor) WHERE m.currency = a.currency),
                {10 ** DEFAULT_MINOR_UNITS}) AS BIGINT)
        ORDER BY 2, 1""".replace("{units}", _units_values()), params * (2 if days is not None else 0)).fetchall()
    return [{"event_id": r[0], "day": str(r[1]), "problem": r[2], "approved_amount": None if r[3] is None else str(r[3]),
             "currency": r[4], "booked_minor": r[5], "times_booked": r[6]} for r in rows]
