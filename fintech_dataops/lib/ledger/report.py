"""Human-readable ledger totals (for ``ledger totals`` and the run summary)."""

from __future__ import annotations

from decimal import Decimal

import duckdb

from fintech_dataops.lib.ledger.model import from_minor


def ledger_totals(con: duckdb.DuckDBPyConnection) -> str:
    entries, accounts = con.execute(
        "SELECT (SELECT count(*) FROM ledger.entries), (SELECT count(*) FROM ledger.accounts)").fetchone()
    lines = [f"ledger: {entries} entries on {accounts} accounts"]
    for kind, n in con.execute("SELECT kind, count(*) FROM ledger.entries GROUP BY 1 ORDER BY 2 DESC").fetchall():
        lines.append(f"  {kind:<18} {n:>9} entries")
    lines.append("  balances by account kind (debit +, credit -):")
    for kind, currency, balance in con.execute(
            "SELECT split_part(account_id, ':', 1), currency, sum(amount_minor) FROM ledger.postings "
            "GROUP BY 1, 2 ORDER BY 1, 2").fetchall():
        lines.append(f"    {kind:<14} {currency} {from_minor(int(balance), currency):>18,}")
    for status, n, count, first_block, last_block in con.execute(
            "SELECT status, count(*), sum(entry_count), min(block_number), max(block_number) FROM ledger.batches "
            "GROUP BY 1 ORDER BY 1").fetchall():
        blocks = f", blocks {first_block}…{last_block}" if first_block is not None else ""
        lines.append(f"  settlement batches {status}: {n} ({count} entries{blocks})")
    return "\n".join(lines)


def ledger_summary(con: duckdb.DuckDBPyConnection) -> str:
    """Totals, batches settled and the verify result, for the run summary ("" when nothing is booked)."""
    from fintech_dataops.lib.ledger.verify import verify_ledger

    if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ledger' "
                       "AND table_name = 'entries'").fetchone()[0]:
        return ""
    report = verify_ledger(con)
    verdict = (f"ledger verify: OK ({report.entries} entries, {report.batches} batches: chains and Merkle roots "
               "recomputed)" if report.ok else f"ledger verify: FAILED, first bad: {report.first}")
    return ledger_totals(con) + "\n" + verdict


SETTLEMENT_MART = "marts.ledger_settlement"


def settlement_mart_sql() -> str:
    """Per business day and currency: what was booked and what of it is settled on chain (exact DECIMAL
    amounts from integer minor units; the column a North Star or finance view reads as settled money)."""
    from fintech_dataops.lib.money.currencies import DEFAULT_MINOR_UNITS, MINOR_UNITS_NOT_TWO

    def unit(decimals: int) -> str:  # one minor unit as an exact DECIMAL (DuckDB's DECIMAL / INT is a DOUBLE)
        return f"CAST({Decimal(1).scaleb(-decimals)} AS DECIMAL(4, 3))"

    cases = " ".join(f"WHEN '{c}' THEN {unit(u)}" for c, u in sorted(MINOR_UNITS_NOT_TWO.items()))
    factor = f"(CASE p.currency {cases} ELSE {unit(DEFAULT_MINOR_UNITS)} END)"
    return f"""
        WITH legs AS (
            SELECT e.business_date, p.currency, e.kind, e.entry_id, p.account_id, p.amount_minor, {factor} AS factor,
                   b.status = 'settled' AS settled
            FROM ledger.entries e JOIN ledger.postings p USING (entry_id)
            LEFT JOIN ledger.batches b ON b.stream = e.stream AND e.seq BETWEEN b.first_seq AND b.last_seq)
        SELECT business_date, currency,
               count(DISTINCT entry_id) AS entries,
               count(DISTINCT entry_id) FILTER (WHERE settled) AS entries_settled,
               CAST(CAST(sum(amount_minor) FILTER (WHERE kind = 'card_payment' AND account_id LIKE 'customer:%')
                    AS DECIMAL(38, 0)) * any_value(factor) AS DECIMAL(18, 3)) AS card_volume,
               CAST(CAST(-sum(amount_minor) FILTER (WHERE account_id LIKE 'platform_fees:%')
                    AS DECIMAL(38, 0)) * any_value(factor) AS DECIMAL(18, 3)) AS platform_fees,
               CAST(CAST(sum(amount_minor) FILTER (WHERE account_id LIKE 'chargebacks:%')
                    AS DECIMAL(38, 0)) * any_value(factor) AS DECIMAL(18, 3)) AS chargebacks,
               CAST(CAST(sum(amount_minor) FILTER (WHERE settled AND kind = 'card_payment' AND account_id LIKE 'customer:%')
                    AS DECIMAL(38, 0)) * any_value(factor) AS DECIMAL(18, 3)) AS card_volume_settled
        FROM legs GROUP BY ALL ORDER BY business_date, currency"""
