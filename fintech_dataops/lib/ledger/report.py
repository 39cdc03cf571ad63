"""Human-readable ledger totals (for ``ledger totals`` and the run summary)."""

from __future__ import annotations

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
