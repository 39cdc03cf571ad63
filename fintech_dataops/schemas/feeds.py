"""The landing-zone feeds the simulator writes: one declaration per feed (``schemas.declaration``).

A feed's columns are the *contract of what arrives*; extra fields in a record are allowed and kept
in raw (the whole original line is stored). Types, the pandera contract, column docs, the raw/core
assets and the PII masking are all derived from these declarations.
"""

from __future__ import annotations

from fintech_dataops.schemas import vocabulary as v
from fintech_dataops.schemas.declaration import (
    BOOLEAN, DATE, DOUBLE, INTEGER, ISO_COUNTRY, MONEY, NOT_IN_FUTURE, TIMESTAMP, VARCHAR, YEAR_NOT_IN_FUTURE,
    Column, Feed,
)

CUSTOMERS = Feed(
    name="customers",
    id_field="customer_id",
    time_field="signup_time",
    description="Customer master data, landed on the day the customer signs up.",
    columns=(
        Column("customer_id", VARCHAR, "Customer id (unique)", unique=True, str_length=(1, 64)),
        Column("full_name", VARCHAR, "Full name (PII)", str_length=(1, 200), pii="direct"),
        Column("email", VARCHAR, "E-mail address (PII)", str_matches="^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", pii="direct"),
        Column("country", VARCHAR, "ISO 3166 alpha-2 country of residence", rules=(ISO_COUNTRY,)),
        Column("birth_year", INTEGER, "Year of birth", ge=1900, rules=(YEAR_NOT_IN_FUTURE,)),
        Column("signup_time", TIMESTAMP, "When the customer signed up (UTC)", rules=(NOT_IN_FUTURE,)),
        Column("declared_monthly_income", MONEY, "Declared monthly income, major units", ge=0, le=v.MAX_MONTHLY_INCOME),
        Column("segment", VARCHAR, "Customer segment", isin=v.SEGMENTS),
    ),
)


TRANSACTIONS = Feed(
    name="transactions",
    id_field="transaction_id",
    time_field="event_time",
    description="Card transactions as authorised by the card processor.",
    columns=(
        Column("transaction_id", VARCHAR, "Transaction id (unique)", unique=True, str_length=(1, 64)),
        Column("customer_id", VARCHAR, "Paying customer (core.customers)", str_length=(1, 64)),
        Column("merchant_id", VARCHAR, "Merchant id", str_length=(1, 64)),
        Column("amount", MONEY, "Amount in major units of `currency` (> 0)", gt=0, le=v.MAX_TRANSACTION_AMOUNT),
        Column("currency", VARCHAR, "ISO 4217 currency code", isin=v.CURRENCY_CODES),
        Column("event_time", TIMESTAMP, "Authorisation time (UTC)", rules=(NOT_IN_FUTURE,)),
        Column("channel", VARCHAR, "Payment channel", nullable=True, isin=v.CHANNELS),
        Column("merchant_category", VARCHAR, "Merchant category", nullable=True),
        Column("country", VARCHAR, "ISO 3166 alpha-2 country of the merchant", nullable=True, rules=(ISO_COUNTRY,)),
        Column("device_id", VARCHAR, "Device that initiated the payment, if known", nullable=True),
    ),
)


CONSUMER_EVENTS = Feed(
    name="consumer_events",
    id_field="event_id",
    time_field="event_time",
    description="App and account events (logins, device and password changes, ...).",
    columns=(
        Column("event_id", VARCHAR, "Event id (unique)", unique=True, str_length=(1, 64)),
        Column("customer_id", VARCHAR, "Customer (core.customers)", str_length=(1, 64)),
        Column("event_type", VARCHAR, "Kind of app/account event", isin=v.EVENT_TYPES),
        Column("event_time", TIMESTAMP, "When it happened (UTC)", rules=(NOT_IN_FUTURE,)),
        Column("device_id", VARCHAR, "Device used", nullable=True),
        Column("ip_country", VARCHAR, "ISO 3166 alpha-2 country of the IP address", nullable=True, rules=(ISO_COUNTRY,)),
    ),
)


PUBLIC_RECORDS = Feed(
    name="public_records",
    id_field="record_id",
    time_field="as_of_time",
    description="Public and academic records (academic score 0-100, education level).",
    columns=(
        Column("record_id", VARCHAR, "Record id (unique)", unique=True, str_length=(1, 64)),
        Column("customer_id", VARCHAR, "Customer (core.customers)", str_length=(1, 64)),
        Column("academic_score", DOUBLE, "Academic score 0-100", in_range=(0, 100)),
        Column("education_level", VARCHAR, "Highest education level", isin=v.EDUCATION_LEVELS),
        Column("graduation_year", INTEGER, "Graduation year (none without a degree)", nullable=True, in_range=(1900, 2100)),
        Column("bankruptcies", INTEGER, "Bankruptcies on record", in_range=(0, 50)),
        Column("as_of_time", TIMESTAMP, "When the record was pulled (UTC)", rules=(NOT_IN_FUTURE,)),
    ),
)


PARTNER_LOANS = Feed(
    name="partner_loans",
    id_field="report_id",
    time_field="reported_time",
    description="Monthly loan status reports from partner fintechs (repayments, defaults).",
    columns=(
        Column("report_id", VARCHAR, "Report id (unique)", unique=True, str_length=(1, 64)),
        Column("loan_id", VARCHAR, "Partner loan id", str_length=(1, 64)),
        Column("customer_id", VARCHAR, "Customer (core.customers)", str_length=(1, 64)),
        Column("partner_id", VARCHAR, "Reporting partner fintech", str_length=(1, 64)),
        Column("principal", MONEY, "Principal, major units", gt=0, le=v.MAX_LOAN_AMOUNT),
        Column("currency", VARCHAR, "ISO 4217 currency code", isin=v.CURRENCY_CODES),
        Column("opened_date", DATE, "Loan opening date"),
        Column("term_months", INTEGER, "Term in months", in_range=(1, v.MAX_TERM_MONTHS)),
        Column("status", VARCHAR, "Loan status at report time", isin=v.LOAN_STATUSES),
        Column("days_past_due", INTEGER, "Days past due (0 = current)", ge=0),
        Column("outstanding", MONEY, "Outstanding balance, major units", ge=0, le=v.MAX_LOAN_AMOUNT),
        Column("reported_time", TIMESTAMP, "When the partner reported (UTC)", rules=(NOT_IN_FUTURE,)),
    ),
)


def _bill_payment_columns(provider: str, *after_provider: Column) -> tuple[Column, ...]:
    """The columns of a bill payment feed (utility, telco): one declaration for both."""
    return (
        Column("payment_id", VARCHAR, "Payment id (unique)", unique=True, str_length=(1, 64)),
        Column("customer_id", VARCHAR, "Customer (core.customers)", str_length=(1, 64)),
        Column("provider", VARCHAR, provider, str_length=(1, 100)),
        *after_provider,
        Column("bill_amount", MONEY, "Billed amount, major units", ge=0, le=v.MAX_BILL_AMOUNT),
        Column("amount_paid", MONEY, "Amount paid, major units", ge=0, le=v.MAX_BILL_AMOUNT),
        Column("currency", VARCHAR, "ISO 4217 currency code", isin=v.CURRENCY_CODES),
        Column("due_date", DATE, "Bill due date"),
        Column("paid_date", DATE, "Payment date (empty = unpaid)", nullable=True),
        Column("event_time", TIMESTAMP, "When the provider reported it (UTC)", rules=(NOT_IN_FUTURE,)),
    )


UTILITY_PAYMENTS = Feed(
    name="utility_payments",
    id_field="payment_id",
    time_field="event_time",
    description="Utility bills (electricity, water, gas) and how they were paid.",
    columns=_bill_payment_columns("Utility provider"),
)


TELCO_PAYMENTS = Feed(
    name="telco_payments",
    id_field="payment_id",
    time_field="event_time",
    description="Mobile and internet bills and how they were paid.",
    columns=_bill_payment_columns(
        "Telco provider", Column("plan_type", VARCHAR, "Mobile / internet plan type", isin=v.PLAN_TYPES)),
)


LOAN_APPLICATIONS = Feed(
    name="loan_applications",
    id_field="application_id",
    time_field="event_time",
    description="Loan applications waiting for a credit decision.",
    columns=(
        Column("application_id", VARCHAR, "Application id (unique)", unique=True, str_length=(1, 64)),
        Column("customer_id", VARCHAR, "Applicant (core.customers)", str_length=(1, 64)),
        Column("requested_amount", MONEY, "Requested amount, major units", gt=0, le=v.MAX_LOAN_AMOUNT),
        Column("currency", VARCHAR, "ISO 4217 currency code", isin=v.CURRENCY_CODES),
        Column("term_months", INTEGER, "Requested term in months", in_range=(1, v.MAX_TERM_MONTHS)),
        Column("purpose", VARCHAR, "Declared purpose", isin=v.LOAN_PURPOSES),
        Column("declared_monthly_income", MONEY, "Declared monthly income, major units", nullable=True, ge=0, le=v.MAX_MONTHLY_INCOME),
        Column("event_time", TIMESTAMP, "When the application was submitted (UTC)", rules=(NOT_IN_FUTURE,)),
    ),
)


FRAUD_LABELS = Feed(
    name="fraud_labels",
    id_field="label_id",
    time_field="reported_time",
    description="Chargebacks confirming fraud; they arrive days after the transaction.",
    columns=(
        Column("label_id", VARCHAR, "Label id (unique)", unique=True, str_length=(1, 64)),
        Column("transaction_id", VARCHAR, "Labelled transaction (core.transactions)", str_length=(1, 64)),
        Column("customer_id", VARCHAR, "Customer (core.customers)", str_length=(1, 64)),
        Column("is_fraud", BOOLEAN, "Confirmed fraud?"),
        Column("fraud_type", VARCHAR, "Kind of fraud, when known", nullable=True),
        Column("amount", MONEY, "Charged-back amount, major units", gt=0, le=v.MAX_TRANSACTION_AMOUNT),
        Column("reported_time", TIMESTAMP, "When the chargeback was reported (UTC)", rules=(NOT_IN_FUTURE,)),
    ),
)


LOAN_OUTCOMES = Feed(
    name="loan_outcomes",
    id_field="application_id",
    time_field="observed_time",
    description=(
        "Whether an earlier application's loan defaulted within the months observed after "
        "applied_time (matured outcomes, for fitting and validating the credit score)."
    ),
    columns=(
        Column("application_id", VARCHAR, "Application id (of the loan book: usually older than core.loan_applications)", unique=True, str_length=(1, 64)),
        Column("customer_id", VARCHAR, "Customer (core.customers)", str_length=(1, 64)),
        Column("defaulted", BOOLEAN, "Defaulted within the observation window?"),
        Column("months_observed", INTEGER, "Months observed after applied_time", in_range=(0, 600)),
        Column("applied_time", TIMESTAMP, "When the application was submitted (UTC): its vintage"),
        Column("observed_time", TIMESTAMP, "When the outcome was observed (UTC)", rules=(NOT_IN_FUTURE,)),
    ),
)


FEEDS: dict[str, Feed] = {
    f.name: f
    for f in (CUSTOMERS, TRANSACTIONS, CONSUMER_EVENTS, PUBLIC_RECORDS, PARTNER_LOANS, UTILITY_PAYMENTS,
              TELCO_PAYMENTS, LOAN_APPLICATIONS, FRAUD_LABELS, LOAN_OUTCOMES)
}
FEED_NAMES: tuple[str, ...] = tuple(FEEDS)
