"""The landing-zone feeds and the fields each record carries.

This is the single list of feeds: the simulator writes them, the raw layer
loads them, the pandera contracts validate them. A field list here is the
*contract of what arrives*; extra fields in a record are allowed and kept in
raw (the whole original line is stored).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The transaction contract (required and optional fields) lives with its validator.
from fintech_dataops.schemas.transaction_contract import CONTRACT_FIELDS as TRANSACTION_FIELDS


@dataclass(frozen=True)
class Feed:
    name: str
    id_field: str
    time_field: str
    fields: tuple[str, ...]
    description: str
    # Columns a product manager must never see in clear text.
    pii_fields: tuple[str, ...] = field(default=())

    @property
    def core_types(self) -> dict[str, str]:
        """DuckDB type of each field in ``core.<feed>`` (times are naive UTC TIMESTAMPs)."""
        return {name: core_type(name) for name in self.fields}


# Typing is by field name, so one name means one type everywhere.
_TIMESTAMP_FIELDS = {"event_time", "signup_time", "as_of_time", "reported_time", "observed_time", "applied_time"}
_DATE_FIELDS = {"due_date", "paid_date", "opened_date"}
_DOUBLE_FIELDS = {"academic_score"}
# Stored money is exact (DECIMAL, never DOUBLE); with a ``currency`` field in the record, an amount
# with more decimals than that currency allows is quarantined (``minor_units``, lib/quality/core_parse_sql.py).
_MONEY_FIELDS = {
    "amount", "declared_monthly_income", "principal", "outstanding", "bill_amount", "amount_paid", "requested_amount",
}
MONEY_SQL_TYPE = "DECIMAL(18,3)"
_INTEGER_FIELDS = {"birth_year", "graduation_year", "bankruptcies", "term_months", "days_past_due", "months_observed"}
_BOOLEAN_FIELDS = {"is_fraud", "defaulted"}

# Lineage columns every core/quarantine row carries back to its raw line.
LINEAGE_COLUMNS = {"partition_date": "DATE", "source_file": "VARCHAR", "line_number": "BIGINT"}


def core_type(name: str) -> str:
    if name in _TIMESTAMP_FIELDS:
        return "TIMESTAMP"
    if name in _DATE_FIELDS:
        return "DATE"
    if name in _MONEY_FIELDS:
        return MONEY_SQL_TYPE
    if name in _DOUBLE_FIELDS:
        return "DOUBLE"
    if name in _INTEGER_FIELDS:
        return "INTEGER"
    if name in _BOOLEAN_FIELDS:
        return "BOOLEAN"
    return "VARCHAR"


FEEDS: dict[str, Feed] = {
    f.name: f
    for f in (
        Feed(
            name="customers",
            id_field="customer_id",
            time_field="signup_time",
            fields=(
                "customer_id", "full_name", "email", "country", "birth_year",
                "signup_time", "declared_monthly_income", "segment",
            ),
            description="Customer master data, landed on the day the customer signs up.",
            pii_fields=("full_name", "email"),
        ),
        Feed(
            name="transactions",
            id_field="transaction_id",
            time_field="event_time",
            fields=TRANSACTION_FIELDS,
            description="Card transactions as authorised by the card processor.",
        ),
        Feed(
            name="consumer_events",
            id_field="event_id",
            time_field="event_time",
            fields=("event_id", "customer_id", "event_type", "event_time", "device_id", "ip_country"),
            description="App and account events (logins, device and password changes, ...).",
        ),
        Feed(
            name="public_records",
            id_field="record_id",
            time_field="as_of_time",
            fields=(
                "record_id", "customer_id", "academic_score", "education_level",
                "graduation_year", "bankruptcies", "as_of_time",
            ),
            description="Public and academic records (academic score 0-100, education level).",
        ),
        Feed(
            name="partner_loans",
            id_field="report_id",
            time_field="reported_time",
            fields=(
                "report_id", "loan_id", "customer_id", "partner_id", "principal", "currency",
                "opened_date", "term_months", "status", "days_past_due", "outstanding",
                "reported_time",
            ),
            description="Monthly loan status reports from partner fintechs (repayments, defaults).",
        ),
        Feed(
            name="utility_payments",
            id_field="payment_id",
            time_field="event_time",
            fields=(
                "payment_id", "customer_id", "provider", "bill_amount", "amount_paid", "currency",
                "due_date", "paid_date", "event_time",
            ),
            description="Utility bills (electricity, water, gas) and how they were paid.",
        ),
        Feed(
            name="telco_payments",
            id_field="payment_id",
            time_field="event_time",
            fields=(
                "payment_id", "customer_id", "provider", "plan_type", "bill_amount", "amount_paid",
                "currency", "due_date", "paid_date", "event_time",
            ),
            description="Mobile and internet bills and how they were paid.",
        ),
        Feed(
            name="loan_applications",
            id_field="application_id",
            time_field="event_time",
            fields=(
                "application_id", "customer_id", "requested_amount", "currency", "term_months",
                "purpose", "declared_monthly_income", "event_time",
            ),
            description="Loan applications waiting for a credit decision.",
        ),
        Feed(
            name="fraud_labels",
            id_field="label_id",
            time_field="reported_time",
            fields=(
                "label_id", "transaction_id", "customer_id", "is_fraud", "fraud_type",
                "amount", "reported_time",
            ),
            description="Chargebacks confirming fraud; they arrive days after the transaction.",
        ),
        Feed(
            name="loan_outcomes",
            id_field="application_id",
            time_field="observed_time",
            fields=("application_id", "customer_id", "defaulted", "months_observed", "applied_time", "observed_time"),
            description="Whether an earlier application's loan defaulted within the months observed after "
                        "applied_time (matured outcomes, for fitting and validating the credit score).",
        ),
    )
}

FEED_NAMES: tuple[str, ...] = tuple(FEEDS)
