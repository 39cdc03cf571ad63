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
    for status, n, count in con.execute(
            "SELECT status, count(*), sum(entry_count) FROM ledger.batches GROUP BY 1 ORDER BY 1").fetchall():
        lines.append(f"  batches {status}: {n} ({count} entries)")
    return "\n".join(lines)
