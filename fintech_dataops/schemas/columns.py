"""Human descriptions of every feed column (the Dagster column schema of core tables).

Plain data, no pandera import: Dagster definitions read these at load time, and the
pandera contracts in ``feeds.py`` use the same text.
"""

# Utility and telco bills share their columns (telco adds the plan type), as their contracts do.
_BILL_PAYMENT = {
    "payment_id": 'Payment id (unique)',
    "customer_id": 'Customer (core.customers)',
    "bill_amount": 'Billed amount, major units',
    "amount_paid": 'Amount paid, major units',
    "currency": 'ISO 4217 currency code',
    "due_date": 'Bill due date',
    "paid_date": 'Payment date (empty = unpaid)',
    "event_time": 'When the provider reported it (UTC)',
}

COLUMN_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "customers": {
        "customer_id": 'Customer id (unique)',
        "full_name": 'Full name (PII)',
        "email": 'E-mail address (PII)',
        "country": 'ISO 3166 alpha-2 country of residence',
        "birth_year": 'Year of birth',
        "signup_time": 'When the customer signed up (UTC)',
        "declared_monthly_income": 'Declared monthly income, major units',
        "segment": 'Customer segment',
    },
    "transactions": {
        "transaction_id": 'Transaction id (unique)',
        "customer_id": 'Paying customer (core.customers)',
        "merchant_id": 'Merchant id',
        "amount": 'Amount in major units of `currency` (> 0)',
        "currency": 'ISO 4217 currency code',
        "event_time": 'Authorisation time (UTC)',
        "channel": 'Payment channel',
        "merchant_category": 'Merchant category',
        "country": 'ISO 3166 alpha-2 country of the merchant',
        "device_id": 'Device that initiated the payment, if known',
    },
    "consumer_events": {
        "event_id": 'Event id (unique)',
        "customer_id": 'Customer (core.customers)',
        "event_type": 'Kind of app/account event',
        "event_time": 'When it happened (UTC)',
        "device_id": 'Device used',
        "ip_country": 'ISO 3166 alpha-2 country of the IP address',
    },
    "public_records": {
        "record_id": 'Record id (unique)',
        "customer_id": 'Customer (core.customers)',
        "academic_score": 'Academic score 0-100',
        "education_level": 'Highest education level',
        "graduation_year": 'Graduation year (none without a degree)',
        "bankruptcies": 'Bankruptcies on record',
        "as_of_time": 'When the record was pulled (UTC)',
    },
    "partner_loans": {
        "report_id": 'Report id (unique)',
        "loan_id": 'Partner loan id',
        "customer_id": 'Customer (core.customers)',
        "partner_id": 'Reporting partner fintech',
        "principal": 'Principal, major units',
        "currency": 'ISO 4217 currency code',
        "opened_date": 'Loan opening date',
        "term_months": 'Term in months',
        "status": 'Loan status at report time',
        "days_past_due": 'Days past due (0 = current)',
        "outstanding": 'Outstanding balance, major units',
        "reported_time": 'When the partner reported (UTC)',
    },
    "utility_payments": {**_BILL_PAYMENT, "provider": 'Utility provider'},
    "telco_payments": {**_BILL_PAYMENT, "provider": 'Telco provider', "plan_type": 'Mobile / internet plan type'},
    "loan_applications": {
        "application_id": 'Application id (unique)',
        "customer_id": 'Applicant (core.customers)',
        "requested_amount": 'Requested amount, major units',
        "currency": 'ISO 4217 currency code',
        "term_months": 'Requested term in months',
        "purpose": 'Declared purpose',
        "declared_monthly_income": 'Declared monthly income, major units',
        "event_time": 'When the application was submitted (UTC)',
    },
    "fraud_labels": {
        "label_id": 'Label id (unique)',
        "transaction_id": 'Labelled transaction (core.transactions)',
        "customer_id": 'Customer (core.customers)',
        "is_fraud": 'Confirmed fraud?',
        "fraud_type": 'Kind of fraud, when known',
        "amount": 'Charged-back amount, major units',
        "reported_time": 'When the chargeback was reported (UTC)',
    },
    "loan_outcomes": {
        "application_id": 'Application id (of the loan book: usually older than core.loan_applications)',
        "customer_id": 'Customer (core.customers)',
        "defaulted": 'Defaulted within the observation window?',
        "months_observed": 'Months observed after applied_time',
        "applied_time": 'When the application was submitted (UTC): its vintage',
        "observed_time": 'When the outcome was observed (UTC)',
    },
}
