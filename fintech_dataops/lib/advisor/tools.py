"""The advisor's look-ups: the platform's own tables and functions, read-only, scoped by the caller.

Each function takes an open read-only DuckDB connection and an already *resolved* customer id (see
``scope.Session.resolve_customer``) and returns a JSON-ready dict whose ``sources`` name the tables it
read. Free text that comes from the data (merchant names, descriptions, reason texts) is returned as data
inside ``untrusted_text`` fields: it is never an instruction, and whatever it says, the scope checks
stand (they live in ``scope``, not in any prompt).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb

from fintech_dataops.lib.warehouse import table_exists

MAX_ROWS = 20
SCORE_RANGE = (300, 850)

# What moves each component of the score (the scorecard's factor families, lib/credit/components.py).
IMPROVEMENT_BY_PREFIX = {
    "TX": "a longer and steadier history of card transactions with us",
    "SP": "a lower share of income going to spending and credit requests in line with declared income",
    "AC": "academic and public-record data on file (education, academic record, no bankruptcies)",
    "LH": "repaying partner loans on time and keeping outstanding balances low",
    "UT": "paying utility bills on time and in full",
    "TC": "paying phone and internet bills on time and in full",
}


def plain(value):
    """JSON-friendly: Decimal → str (exact money), times → ISO text, containers recursively."""
    if isinstance(value, Decimal):  # exact, with the scale it is stored with (64.00, not 64)
        return format(value, "f")
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 4)
    return value


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [{k: plain(v) for k, v in zip(names, row)} for row in cursor.fetchall()]


def _missing(table: str) -> dict:
    return {"available": False, "note": f"{table} is not built yet (run the pipeline)", "sources": [table]}


def credit_explanation(con: duckdb.DuckDBPyConnection, customer_id: str) -> dict:
    """The stored score (``credit.scores``), its reason codes (adverse-action order) and what would move them."""
    from fintech_dataops.lib.credit.lookup import stored_score

    if not table_exists(con, "credit.scores"):
        return _missing("credit.scores")
    stored = stored_score(con, customer_id)
    if stored is None:
        return {"available": False, "customer_id": customer_id, "note": "no stored score for this customer",
                "sources": ["credit.scores"]}
    reasons = [
        {"code": r["code"], "untrusted_text": r["text"], "points_lost": r["points_lost"],
         "what_would_help": IMPROVEMENT_BY_PREFIX.get(str(r["code"]).split("_")[0], "")}
        for r in (stored.get("reasons") or [])
    ]
    return {
        "available": True, "customer_id": customer_id, "score": stored["score"], "band": stored["band"],
        "score_range": list(SCORE_RANGE), "confidence": stored["confidence"],
        "components": stored["components"], "reasons": reasons,
        "as_of": plain(stored["as_of"]), "model_version": stored["model_version"],
        "sources": ["credit.scores"],
    }


def loan_status(con: duckdb.DuckDBPyConnection, customer_id: str) -> dict:
    """The customer's loan applications and their decisions (``credit.loan_decisions``)."""
    if not table_exists(con, "credit.loan_decisions"):
        return _missing("credit.loan_decisions")
    rows = _rows(con, """
        SELECT application_id, requested_amount, CAST(applied_at AS DATE) AS applied_on, score, band, decision,
               cutoff, [r.code FOR r IN reasons] AS reason_codes, [r.text FOR r IN reasons] AS untrusted_reason_texts
        FROM credit.loan_decisions WHERE customer_id = ? ORDER BY applied_at DESC LIMIT ?""",
                 [customer_id, MAX_ROWS])
    return {"customer_id": customer_id, "applications": rows, "sources": ["credit.loan_decisions"]}


def spending_summary(con: duckdb.DuckDBPyConnection, customer_id: str, month: str | None = None) -> dict:
    """Card spending (``core.transactions``, reporting currency) by month, category and merchant; open-banking
    merchants (``open_banking.plaid_transactions``) when the customer linked a bank account."""
    if not table_exists(con, "core.transactions"):
        return _missing("core.transactions")
    months = [r["month"] for r in _rows(con, """
        SELECT DISTINCT strftime(event_time, '%Y-%m') AS month FROM core.transactions
        WHERE customer_id = ? ORDER BY 1 DESC""", [customer_id])]
    if month is None:
        month = months[0] if months else None
    result = {"customer_id": customer_id, "month": month, "months_with_spending": months[:12],
              "sources": ["core.transactions"]}
    if month is None or month not in months:  # never answer a month with another month's figures
        result["note"] = (f"no card transactions in {month}" if month else "no card transactions for this customer")
        return result
    amount = "COALESCE(amount_reporting, amount)"
    where = "customer_id = ? AND strftime(event_time, '%Y-%m') = ?"
    result["total_spent"] = _rows(con, f"""
        SELECT CAST(sum({amount}) AS DECIMAL(18,2)) AS amount, count(*) AS transactions
        FROM core.transactions WHERE {where}""", [customer_id, month])[0]
    result["by_category"] = _rows(con, f"""
        SELECT merchant_category AS category, CAST(sum({amount}) AS DECIMAL(18,2)) AS amount, count(*) AS transactions
        FROM core.transactions WHERE {where} GROUP BY 1 ORDER BY 2 DESC LIMIT ?""", [customer_id, month, MAX_ROWS])
    result["top_merchants"] = _rows(con, f"""
        SELECT merchant_id, CAST(sum({amount}) AS DECIMAL(18,2)) AS amount, count(*) AS transactions
        FROM core.transactions WHERE {where} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5""", [customer_id, month])
    if table_exists(con, "open_banking.plaid_transactions"):
        linked = _rows(con, """
            SELECT merchant_name AS untrusted_merchant_name, CAST(sum(amount) AS DECIMAL(18,2)) AS amount,
                   count(*) AS transactions
            FROM open_banking.plaid_transactions
            WHERE customer_id = ? AND strftime(transaction_date, '%Y-%m') = ? AND amount > 0
            GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5""", [customer_id, month])
        if linked:
            result["linked_bank_merchants"] = linked
            result["sources"].append("open_banking.plaid_transactions")
    return result


def fraud_decisions(con: duckdb.DuckDBPyConnection, customer_id: str, transaction_id: str | None = None) -> dict:
    """The customer's reviewed / blocked transactions with the reasons the fraud engine gave (``fraud.alerts``)."""
    if not table_exists(con, "fraud.alerts"):
        return _missing("fraud.alerts")
    params: list = [customer_id]
    extra = ""
    if transaction_id:
        extra, params = " AND transaction_id = ?", [customer_id, transaction_id.strip()]
    rows = _rows(con, f"""
        SELECT transaction_id, merchant_id, amount, currency, CAST(event_time AS DATE) AS day, decision,
               round(risk_score, 4) AS risk_score, rule_ids, reasons AS untrusted_reasons
        FROM fraud.alerts WHERE customer_id = ?{extra} ORDER BY event_time DESC LIMIT ?""", [*params, MAX_ROWS])
    out = {"customer_id": customer_id, "alerts": rows, "sources": ["fraud.alerts"]}
    if transaction_id and not rows:
        out["note"] = "this transaction was not reviewed or blocked (or is not this customer's)"
    return out


def masked_sql(data_dir: Path, sql: str, *, limit: int = MAX_ROWS, timeout_seconds: float = 20.0) -> dict:
    """Read-only SQL through the existing guard, on the PII-masked published view (staff only)."""
    from fintech_dataops.lib.self_service.pm_view import ensure_snapshot, open_pm_connection, snapshot_path_for
    from fintech_dataops.lib.self_service.sql_guard import check_query, tables_read
    from fintech_dataops.lib.self_service.sql_runner import run_query

    check_query(sql)  # RefusedQuery before touching any file
    status = ensure_snapshot(Path(data_dir) / "warehouse.duckdb", snapshot_path_for(Path(data_dir)),
                             first_wait_seconds=30.0)
    con = open_pm_connection(status.path)
    try:
        result = run_query(con, sql, limit=limit, timeout_seconds=timeout_seconds)
    finally:
        con.close()
    return {
        "columns": result.columns, "row_count": len(result.rows), "rows": [plain(list(r)) for r in result.rows],
        "truncated": result.truncated,
        "sources": ["published PM view (PII masked)", *tables_read(sql)],
    }
