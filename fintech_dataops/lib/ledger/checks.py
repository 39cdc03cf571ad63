"""SQL checks over the stored ledger (what the blocking asset checks re-read)."""

from __future__ import annotations

from datetime import date

import duckdb


def unbalanced_entries(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Entries whose stored postings do not sum to zero in a currency (one row per entry and currency)."""
    rows = con.execute("""
        SELECT e.entry_id, e.event_id, p.currency, sum(p.amount_minor) AS off_by_minor, count(*) AS postings
        FROM ledger.entries e LEFT JOIN ledger.postings p USING (entry_id)
        GROUP BY ALL HAVING coalesce(sum(p.amount_minor), 0) <> 0 OR count(p.entry_id) < 2
        ORDER BY e.entry_id, p.currency""").fetchall()
    return [{"entry_id": r[0], "event_id": r[1], "currency": r[2], "off_by_minor": r[3], "postings": r[4]}
            for r in rows]


def booked_days(con: duckdb.DuckDBPyConnection) -> list[date]:
    """Days with entries that the batch path has scored too: an approval the online path booked for a
    day the daily run has not scored yet is not a difference (yet), so its day waits for that run."""
    scored = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'fraud' "
                         "AND table_name = 'scored_transactions'").fetchone()[0]
    if not scored:
        return []
    return [r[0] for r in con.execute(
        "SELECT DISTINCT business_date FROM ledger.entries "
        "WHERE business_date IN (SELECT DISTINCT partition_date FROM fraud.scored_transactions) ORDER BY 1").fetchall()]
