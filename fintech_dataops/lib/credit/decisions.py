"""Loan decisions: every application in ``core.loan_applications`` against the cutoff.

Rules, in order (the first that applies wins):

1. no score for the customer → ``manual_review`` (NO_CREDIT_FILE);
2. requested amount missing, non-positive or not finite → ``manual_review`` (INVALID_REQUEST);
3. not enhanced-scorable (too little evidence) → ``manual_review`` (INSUFFICIENT_EVIDENCE);
4. requested amount > ``max_request_to_monthly_income`` × declared monthly income
   → ``manual_review`` (AMOUNT_ABOVE_AFFORDABILITY);
5. score ≥ ``approve_cutoff`` → ``approve``;
6. score ≥ cutoff − ``manual_review_margin`` → ``manual_review`` (SCORE_NEAR_CUTOFF);
7. otherwise ``decline``.

Each decision carries the customer's score reasons (the adverse-action
reasons for a decline), preceded by the decision's own code when a rule 1–4
or 6 applied. Decisions are a single SQL statement: no per-application loop.

Money is exact: ``requested_amount`` is DECIMAL in the application's ``currency``, and
``requested_amount_reporting`` is the same amount in ``reporting_currency``, converted by the core
gate through ``lib/money`` at the application's date (NULL when no reference rate: never a guess).
Sums across applications (marts, KPIs) use the reporting column, never the mixed-currency one.
"""

from __future__ import annotations

import datetime as dt

from fintech_dataops.lib.credit.config import NO_SCORE_BAND, ScoringConfig
from fintech_dataops.lib.ingestion.feeds import MONEY_SQL_TYPE

DECISION_CODES = {
    "NO_CREDIT_FILE": "No credit file: the applicant has not been scored yet",
    "INVALID_REQUEST": "The requested amount is missing or invalid",
    "INSUFFICIENT_EVIDENCE": "Not enough verified data to decide automatically",
    "AMOUNT_ABOVE_AFFORDABILITY": "Requested amount is high relative to declared income",
    "SCORE_NEAR_CUTOFF": "Score is close to the approval cutoff",
}

_APPLICATIONS_EMPTY = (
    f"SELECT NULL::VARCHAR AS application_id, NULL::VARCHAR AS customer_id, NULL::{MONEY_SQL_TYPE} AS requested_amount, "
    "NULL::VARCHAR AS currency, NULL::DOUBLE AS declared_monthly_income, "
    f"NULL::{MONEY_SQL_TYPE} AS requested_amount_reporting, NULL::TIMESTAMP AS event_time WHERE false"
)


def decisions_sql(config: ScoringConfig, *, applications_exist: bool, decided_at: dt.datetime,
                  reporting_currency: str = "USD", application_columns: set[str] | None = None) -> tuple[str, dict]:
    """SELECT producing ``credit.loan_decisions`` from ``core.loan_applications`` and ``credit.scores``.

    ``application_columns``: the columns ``core.loan_applications`` has (None = the current core
    contract). An older table without ``currency`` / ``requested_amount_reporting`` yields NULL there:
    its amounts are then counted as unconverted, never summed as if they were in the reporting currency.
    """
    columns = application_columns if application_columns is not None else {"currency", "requested_amount_reporting"}
    currency = "currency" if "currency" in columns else "NULL::VARCHAR AS currency"
    reporting = ("requested_amount_reporting" if "requested_amount_reporting" in columns
                 else f"NULL::{MONEY_SQL_TYPE} AS requested_amount_reporting")
    applications = (
        f"SELECT application_id, customer_id, requested_amount, {currency}, declared_monthly_income, {reporting}, "
        "event_time FROM core.loan_applications"
        if applications_exist else _APPLICATIONS_EMPTY
    )
    code = " ".join(
        f"WHEN {condition} THEN '{name}'"
        for name, condition in (
            ("NO_CREDIT_FILE", "s.score IS NULL"),
            ("INVALID_REQUEST", "NOT coalesce(isfinite(a.requested_amount::DOUBLE) AND a.requested_amount > 0, false)"),
            ("INSUFFICIENT_EVIDENCE", "NOT s.scorable_enhanced"),
            ("AMOUNT_ABOVE_AFFORDABILITY",
             "isfinite(a.declared_monthly_income::DOUBLE) AND a.declared_monthly_income > 0 "
             "AND a.requested_amount > $max_ratio * a.declared_monthly_income"),
            ("APPROVE", "s.score >= $cutoff"),
            ("SCORE_NEAR_CUTOFF", "s.score >= $cutoff - $margin"),
        )
    )
    texts = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in DECISION_CODES.items())
    sql = f"""
    WITH apps AS (
        SELECT * FROM ({applications})
        WHERE application_id IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY application_id ORDER BY event_time DESC NULLS LAST) = 1
    ),
    ruled AS (
        SELECT a.*, s.score, s.band, s.reasons, s.scorable_traditional, s.scorable_enhanced,
               CASE {code} ELSE 'DECLINE' END AS rule
        FROM apps a LEFT JOIN credit.scores s USING (customer_id)
    )
    SELECT application_id::VARCHAR AS application_id, customer_id::VARCHAR AS customer_id,
           CASE WHEN isfinite(requested_amount::DOUBLE) THEN requested_amount::{MONEY_SQL_TYPE} END AS requested_amount,
           currency::VARCHAR AS currency,
           requested_amount_reporting::{MONEY_SQL_TYPE} AS requested_amount_reporting,
           $reporting_currency::VARCHAR AS reporting_currency,
           event_time AS applied_at,
           score::INTEGER AS score, coalesce(band, '{NO_SCORE_BAND}') AS band,
           CASE rule WHEN 'APPROVE' THEN 'approve' WHEN 'DECLINE' THEN 'decline' ELSE 'manual_review' END
               AS decision,
           CASE WHEN rule IN ('APPROVE', 'DECLINE') THEN coalesce(reasons, [])
                ELSE list_prepend(
                    struct_pack(code := rule, text := CASE rule {texts} END, points_lost := NULL::DOUBLE),
                    coalesce(reasons, []))
           END AS reasons,
           coalesce(scorable_traditional, false) AS scorable_traditional,
           coalesce(scorable_enhanced, false) AS scorable_enhanced,
           $cutoff::INTEGER AS cutoff,
           $model_version::VARCHAR AS model_version,
           $decided_at::TIMESTAMP AS decided_at
    FROM ruled
    ORDER BY application_id
    """
    params = {
        "cutoff": config.approve_cutoff, "margin": config.manual_review_margin,
        "max_ratio": config.max_request_to_monthly_income, "model_version": config.model_version,
        "decided_at": decided_at, "reporting_currency": reporting_currency.upper(),
    }
    return sql, params
