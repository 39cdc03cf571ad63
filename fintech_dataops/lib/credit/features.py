"""Per-customer credit features: one DuckDB query over the core tables.

Every source is aggregated *per customer first* and only then left-joined on
the customer spine (``core.customers``). That ordering is the guard against
the classic join-then-compute failure: a customer without a public record
gets NULL academic features (a missing component), never a NaN that spreads
into everyone's aggregates, and a non-finite amount is excluded from that
customer's sums (and counted in ``tx_invalid_amounts``) instead of poisoning
them. A source table that does not exist yet is simply an empty source.

``as_of`` is the moment the features describe: by default the latest event in
any input, so rescoring the same data gives the same result.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from fintech_dataops.lib.ingestion.sources import transactions_sql
from fintech_dataops.lib.warehouse import table_exists

# Columns each source must provide (name → DuckDB type), used for empty stand-ins.
SOURCE_COLUMNS: dict[str, dict[str, str]] = {
    "core.customers": {"customer_id": "VARCHAR", "signup_time": "TIMESTAMP", "declared_monthly_income": "DOUBLE"},
    "core.public_records": {
        "customer_id": "VARCHAR", "academic_score": "DOUBLE", "education_level": "VARCHAR",
        "bankruptcies": "INTEGER", "as_of_time": "TIMESTAMP",
    },
    "core.partner_loans": {
        "customer_id": "VARCHAR", "loan_id": "VARCHAR", "principal": "DOUBLE", "opened_date": "DATE",
        "status": "VARCHAR", "days_past_due": "INTEGER", "outstanding": "DOUBLE", "reported_time": "TIMESTAMP",
    },
    "core.utility_payments": {
        "customer_id": "VARCHAR", "provider": "VARCHAR", "bill_amount": "DOUBLE", "amount_paid": "DOUBLE",
        "due_date": "DATE", "paid_date": "DATE", "event_time": "TIMESTAMP",
    },
    "core.telco_payments": {
        "customer_id": "VARCHAR", "provider": "VARCHAR", "bill_amount": "DOUBLE", "amount_paid": "DOUBLE",
        "due_date": "DATE", "paid_date": "DATE", "event_time": "TIMESTAMP",
    },
}
TRANSACTION_COLUMNS = {"customer_id": "VARCHAR", "amount": "DOUBLE", "event_time": "TIMESTAMP"}

EDUCATION_LEVELS = ("none", "high_school", "bachelor", "master", "doctorate")
# A payment within this much of the bill counts as paid in full (cents rounding).
FULL_PAYMENT_TOLERANCE = 0.005


def _empty(columns: dict[str, str]) -> str:
    return "SELECT " + ", ".join(f"NULL::{t} AS {c}" for c, t in columns.items()) + " WHERE false"


def _source(con: duckdb.DuckDBPyConnection, table: str) -> str:
    columns = SOURCE_COLUMNS[table]
    if not table_exists(con, table):
        return _empty(columns)
    return f"SELECT {', '.join(columns)} FROM {table}"


def _transactions(con: duckdb.DuckDBPyConnection) -> str:
    try:
        union = transactions_sql(con)
    except LookupError:
        return _empty(TRANSACTION_COLUMNS)
    return f"SELECT customer_id, amount, event_time FROM ({union})"


def _bills_features(prefix: str, source: str) -> str:
    """Aggregate one bill-payment source (utilities or telco) per customer."""
    tol = FULL_PAYMENT_TOLERANCE
    return f"""
    SELECT customer_id,
        count(*) AS {prefix}_bills,
        count(DISTINCT provider) AS {prefix}_accounts,
        count(*) FILTER (WHERE paid_date IS NOT NULL AND due_date IS NOT NULL AND paid_date > due_date) AS {prefix}_late,
        count(*) FILTER (WHERE paid_date IS NULL) AS {prefix}_unpaid,
        count(*) FILTER (WHERE paid_date IS NOT NULL AND isfinite(bill_amount) AND isfinite(amount_paid)
                         AND amount_paid < bill_amount - {tol}) AS {prefix}_partial,
        greatest(date_diff('day', min(due_date), $as_of::DATE), 0) AS {prefix}_history_days
    FROM {source} WHERE customer_id IS NOT NULL GROUP BY customer_id
    """


def features_sql(con: duckdb.DuckDBPyConnection) -> str:
    """The feature query; parameters ``$as_of`` (TIMESTAMP) and ``$customer_id`` (NULL = everyone)."""
    return f"""
    WITH customers_src AS ({_source(con, "core.customers")}),
    tx_src AS ({_transactions(con)}),
    public_src AS ({_source(con, "core.public_records")}),
    loans_src AS ({_source(con, "core.partner_loans")}),
    utility_src AS ({_source(con, "core.utility_payments")}),
    telco_src AS ({_source(con, "core.telco_payments")}),
    spine AS (
        SELECT customer_id, signup_time,
               CASE WHEN isfinite(declared_monthly_income) AND declared_monthly_income > 0
                    THEN declared_monthly_income END AS declared_monthly_income
        FROM customers_src
        WHERE customer_id IS NOT NULL AND ($customer_id IS NULL OR customer_id = $customer_id)
        QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY signup_time DESC NULLS LAST) = 1
    ),
    tx_window AS (SELECT min(event_time)::DATE AS window_start FROM tx_src),
    tx_daily AS (
        SELECT customer_id, event_time::DATE AS day, count(*) AS n,
               count(*) FILTER (WHERE NOT coalesce(isfinite(amount) AND amount > 0, false)) AS invalid,
               sum(CASE WHEN isfinite(amount) AND amount > 0 THEN amount END) AS spend
        FROM tx_src
        WHERE customer_id IS NOT NULL AND event_time <= $as_of
          AND ($customer_id IS NULL OR customer_id = $customer_id)
        GROUP BY ALL
    ),
    tx_feat AS (
        SELECT customer_id, sum(n) AS tx_count, sum(invalid) AS tx_invalid_amounts,
               count(*) AS tx_active_days, sum(spend) AS tx_spend,
               stddev_pop(coalesce(spend, 0)) / nullif(avg(coalesce(spend, 0)), 0) AS tx_daily_spend_cv
        FROM tx_daily GROUP BY customer_id
    ),
    public_feat AS (
        SELECT customer_id,
               CASE WHEN isfinite(academic_score) THEN academic_score END AS academic_score,
               education_level, bankruptcies
        FROM public_src
        WHERE customer_id IS NOT NULL AND ($customer_id IS NULL OR customer_id = $customer_id)
        QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY as_of_time DESC NULLS LAST) = 1
    ),
    loan_reports AS (
        SELECT * FROM loans_src
        WHERE customer_id IS NOT NULL AND reported_time <= $as_of
          AND ($customer_id IS NULL OR customer_id = $customer_id)
    ),
    loan_latest AS (
        SELECT * FROM loan_reports
        QUALIFY row_number() OVER (PARTITION BY customer_id, loan_id ORDER BY reported_time DESC) = 1
    ),
    loan_feat AS (
        SELECT customer_id, count(*) AS loan_reports,
               count(*) FILTER (WHERE status IN ('late', 'default') OR days_past_due > 0) AS loan_late_reports,
               count(DISTINCT loan_id) FILTER (WHERE status = 'default' OR days_past_due >= 90) AS loans_defaulted,
               date_diff('day', min(opened_date), $as_of::DATE) AS loan_history_days
        FROM loan_reports GROUP BY customer_id
    ),
    loan_open AS (
        SELECT customer_id, count(DISTINCT loan_id) AS loans,
               sum(CASE WHEN status IN ('current', 'late') AND isfinite(outstanding) AND isfinite(principal)
                        THEN outstanding END) AS loan_outstanding_open,
               sum(CASE WHEN status IN ('current', 'late') AND isfinite(outstanding) AND isfinite(principal)
                        THEN principal END) AS loan_principal_open
        FROM loan_latest GROUP BY customer_id
    ),
    utility_scoped AS (
        SELECT * FROM utility_src WHERE event_time <= $as_of AND ($customer_id IS NULL OR customer_id = $customer_id)
    ),
    telco_scoped AS (
        SELECT * FROM telco_src WHERE event_time <= $as_of AND ($customer_id IS NULL OR customer_id = $customer_id)
    ),
    utility_feat AS ({_bills_features("utility", "utility_scoped")}),
    telco_feat AS ({_bills_features("telco", "telco_scoped")})
    SELECT
        s.customer_id,
        $as_of::TIMESTAMP AS as_of,
        s.signup_time,
        greatest(date_diff('day', s.signup_time, $as_of::TIMESTAMP), 0) AS tenure_days,
        s.declared_monthly_income,
        greatest(date_diff('day', greatest(s.signup_time::DATE, w.window_start), $as_of::DATE) + 1, 1) AS observed_days,
        coalesce(t.tx_count, 0) AS tx_count,
        coalesce(t.tx_invalid_amounts, 0) AS tx_invalid_amounts,
        coalesce(t.tx_active_days, 0) AS tx_active_days,
        t.tx_spend,
        t.tx_daily_spend_cv,
        p.customer_id IS NOT NULL AS has_public_record,
        p.academic_score,
        p.education_level,
        p.bankruptcies,
        coalesce(lo.loans, 0) AS loans,
        coalesce(l.loan_reports, 0) AS loan_reports,
        coalesce(l.loan_late_reports, 0) AS loan_late_reports,
        coalesce(l.loans_defaulted, 0) AS loans_defaulted,
        lo.loan_outstanding_open,
        lo.loan_principal_open,
        l.loan_history_days,
        coalesce(u.utility_bills, 0) AS utility_bills,
        coalesce(u.utility_accounts, 0) AS utility_accounts,
        coalesce(u.utility_late, 0) AS utility_late,
        coalesce(u.utility_unpaid, 0) AS utility_unpaid,
        coalesce(u.utility_partial, 0) AS utility_partial,
        u.utility_history_days,
        coalesce(c.telco_bills, 0) AS telco_bills,
        coalesce(c.telco_accounts, 0) AS telco_accounts,
        coalesce(c.telco_late, 0) AS telco_late,
        coalesce(c.telco_unpaid, 0) AS telco_unpaid,
        coalesce(c.telco_partial, 0) AS telco_partial,
        c.telco_history_days
    FROM spine s
    CROSS JOIN tx_window w
    LEFT JOIN tx_feat t USING (customer_id)
    LEFT JOIN public_feat p USING (customer_id)
    LEFT JOIN loan_feat l USING (customer_id)
    LEFT JOIN loan_open lo USING (customer_id)
    LEFT JOIN utility_feat u USING (customer_id)
    LEFT JOIN telco_feat c USING (customer_id)
    ORDER BY s.customer_id
    """


def default_as_of(con: duckdb.DuckDBPyConnection) -> dt.datetime:
    """The latest event time in any scoring input (deterministic for the same data)."""
    candidates = [f"SELECT max(signup_time) AS t FROM ({_source(con, 'core.customers')})"]
    try:
        candidates.append(f"SELECT max(event_time) FROM ({transactions_sql(con)})")
    except LookupError:
        pass
    for table, column in (("core.utility_payments", "event_time"), ("core.telco_payments", "event_time"),
                          ("core.partner_loans", "reported_time"), ("core.public_records", "as_of_time")):
        if table_exists(con, table):
            candidates.append(f"SELECT max({column}) FROM {table}")
    latest = con.execute(f"SELECT max(t) FROM ({' UNION ALL '.join(candidates)})").fetchall()[0][0]
    if latest is None:
        return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    return latest


def build_features(
    con: duckdb.DuckDBPyConnection, *, as_of: dt.datetime | None = None, customer_id: str | None = None
) -> pd.DataFrame:
    """Features of every customer in ``core.customers`` (or only ``customer_id``)."""
    as_of = as_of or default_as_of(con)
    return con.execute(features_sql(con), {"as_of": as_of, "customer_id": customer_id}).df()
