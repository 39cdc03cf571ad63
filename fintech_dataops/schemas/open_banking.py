"""The open-banking feeds (Plaid, Stripe), one declaration each (``schemas.declaration``).

Every landed record is an *envelope*: the contract columns below, extracted and normalised (money in
major units, times ISO-8601 UTC), plus ``api_object`` — the object exactly as the SDK deserialised it
from the API response — so the landing stays lossless while the core contract stays small and typed.
Money (amounts, balances, fees) is stored exact (DECIMAL, never DOUBLE) and gets its reporting-currency
twin in core like every feed with a ``currency`` (``lib.money.core_columns``). The pulls are cursor /
watermark driven, so the raw/core tables reload every landed day (``partitioning="landed_days"``).
"""

from __future__ import annotations

import pandas as pd

from fintech_dataops.schemas import vocabulary as v
from fintech_dataops.schemas.declaration import BOOLEAN, DATE, MONEY, NOT_IN_FUTURE, TIMESTAMP, VARCHAR, Column, Feed, Rule

PLAID_CHANGE_TYPES = ("added", "modified", "removed")
PLAID_PAYMENT_CHANNELS = ("online", "in store", "other")
ACCOUNT_TYPES = ("depository", "credit", "loan", "investment", "brokerage", "other")
CHARGE_STATUSES = ("succeeded", "pending", "failed")
INTENT_STATUSES = ("requires_payment_method", "requires_confirmation", "requires_action", "processing",
                   "requires_capture", "canceled", "succeeded")
DISPUTE_REASONS = ("bank_cannot_process", "check_returned", "credit_not_processed", "customer_initiated",
                   "debit_not_authorized", "duplicate", "fraudulent", "general", "incorrect_account_details",
                   "insufficient_funds", "noncompliant", "product_not_received", "product_unacceptable",
                   "subscription_canceled", "unrecognized")
DISPUTE_STATUSES = ("warning_needs_response", "warning_under_review", "warning_closed", "needs_response",
                    "under_review", "won", "lost", "prevented")


def _added_and_modified_carry_the_transaction(df: pd.DataFrame) -> pd.Series:
    removed = df["change_type"] == "removed"
    return removed | (df["amount"].notna() & df["currency"].notna() & df["event_time"].notna())


def _refund_not_above_amount(df: pd.DataFrame) -> pd.Series:
    return df["amount_refunded"] <= df["amount"]


def _net_is_amount_minus_fee(df: pd.DataFrame) -> pd.Series:
    return (df["amount"] - df["fee"] - df["net"]).abs() < 0.005


PLAID_ACCOUNTS = Feed(
    name="plaid_accounts",
    id_field="snapshot_id",
    time_field="observed_time",
    domain="open_banking",
    description="Plaid accounts and balances (/accounts/balance/get): one snapshot per account per pull.",
    partitioning="landed_days",
    columns=(
        Column("snapshot_id", VARCHAR, "Balance snapshot id (account × pull time)", unique=True, str_length=(1, 128)),
        Column("item_id", VARCHAR, "Plaid item (one linked bank login)", str_length=(1, 128)),
        Column("customer_id", VARCHAR, "Platform customer the item is linked to", str_length=(1, 128)),
        Column("account_id", VARCHAR, "Plaid account id", str_length=(1, 128)),
        Column("account_name", VARCHAR, "Account name at the institution", nullable=True, pii="direct"),
        Column("account_type", VARCHAR, "Plaid account type", isin=ACCOUNT_TYPES),
        Column("account_subtype", VARCHAR, "Plaid account subtype (checking, savings, ...)", nullable=True),
        Column("currency", VARCHAR, "ISO 4217 currency of the balances", nullable=True, isin=v.CURRENCY_CODES),
        Column("available_balance", MONEY, "Available balance, major units", nullable=True),
        Column("current_balance", MONEY, "Current (ledger) balance, major units", nullable=True),
        Column("credit_limit", MONEY, "Credit limit (credit accounts)", nullable=True, ge=0),
        Column("observed_time", TIMESTAMP, "When the balance was pulled (UTC)", rules=(NOT_IN_FUTURE,)),
    ),
)


PLAID_TRANSACTIONS = Feed(
    name="plaid_transactions",
    id_field="change_id",
    time_field="received_time",
    domain="open_banking",
    description=(
        "Plaid /transactions/sync change log: one line per added / modified / removed transaction, "
        "in the order received (Plaid sign: positive = money out)."
    ),
    partitioning="landed_days",
    columns=(
        Column("change_id", VARCHAR, "Change id (hash of item, change type, object)", unique=True, str_length=(1, 128)),
        Column("item_id", VARCHAR, "Plaid item", str_length=(1, 128)),
        Column("customer_id", VARCHAR, "Platform customer the item is linked to", str_length=(1, 128)),
        Column("change_type", VARCHAR, "added / modified / removed", isin=PLAID_CHANGE_TYPES),
        Column("transaction_id", VARCHAR, "Plaid transaction id", str_length=(1, 128)),
        Column("account_id", VARCHAR, "Plaid account id", nullable=True),
        Column("amount", MONEY, "Amount, major units; Plaid sign: positive = money out, negative = in", nullable=True, ge=-v.MAX_TRANSACTION_AMOUNT, le=v.MAX_TRANSACTION_AMOUNT),
        Column("currency", VARCHAR, "ISO 4217 currency", nullable=True, isin=v.CURRENCY_CODES),
        Column("transaction_date", DATE, "Posting date", nullable=True),
        Column("event_time", TIMESTAMP, "Authorisation time (UTC), else the date", nullable=True, rules=(NOT_IN_FUTURE,)),
        Column("merchant_name", VARCHAR, "Merchant name (enriched)", nullable=True),
        Column("description", VARCHAR, "Statement description", nullable=True, pii="free_text"),
        Column("payment_channel", VARCHAR, "online / in store / other", nullable=True, isin=PLAID_PAYMENT_CHANNELS),
        Column("category", VARCHAR, "Personal finance category (primary)", nullable=True),
        Column("country", VARCHAR, "Merchant country, when Plaid knows it", nullable=True),
        Column("is_pending", BOOLEAN, "Pending authorisation (not yet posted)", nullable=True),
        Column("received_time", TIMESTAMP, "When the sync received the change (UTC)"),
    ),
    row_rules=(Rule("added_and_modified_carry_the_transaction", _added_and_modified_carry_the_transaction),),
)


STRIPE_CHARGES = Feed(
    name="stripe_charges",
    id_field="charge_id",
    time_field="event_time",
    domain="open_banking",
    description="Stripe charges (/v1/charges), incremental by `created`.",
    partitioning="landed_days",
    columns=(
        Column("charge_id", VARCHAR, "Stripe charge id", unique=True, str_startswith="ch_"),
        Column("customer_id", VARCHAR, "Platform customer (charge metadata.customer_id)", nullable=True),
        Column("stripe_customer", VARCHAR, "Stripe customer id (cus_…)", nullable=True),
        Column("payment_intent_id", VARCHAR, "Payment intent that created the charge", nullable=True),
        Column("amount", MONEY, "Amount, major units", ge=0, le=v.MAX_TRANSACTION_AMOUNT),
        Column("amount_refunded", MONEY, "Refunded amount, major units", ge=0),
        Column("currency", VARCHAR, "ISO 4217 currency", isin=v.CURRENCY_CODES),
        Column("status", VARCHAR, "succeeded / pending / failed", isin=CHARGE_STATUSES),
        Column("is_refunded", BOOLEAN, "Fully refunded"),
        Column("is_disputed", BOOLEAN, "A dispute was opened"),
        Column("fraud_report", VARCHAR, "fraud_details user/stripe report ('fraudulent', 'safe')", nullable=True),
        Column("card_country", VARCHAR, "Card issuing country", nullable=True),
        Column("merchant_category", VARCHAR, "Merchant category (metadata)", nullable=True),
        Column("event_time", TIMESTAMP, "Charge created (UTC)"),
    ),
    row_rules=(Rule("refund_not_above_amount", _refund_not_above_amount),),
)


STRIPE_PAYMENT_INTENTS = Feed(
    name="stripe_payment_intents",
    id_field="payment_intent_id",
    time_field="event_time",
    domain="open_banking",
    description="Stripe payment intents (/v1/payment_intents), incremental by `created`.",
    partitioning="landed_days",
    columns=(
        Column("payment_intent_id", VARCHAR, "Payment intent id", unique=True, str_startswith="pi_"),
        Column("customer_id", VARCHAR, "Platform customer (metadata.customer_id)", nullable=True),
        Column("amount", MONEY, "Amount, major units", ge=0, le=v.MAX_TRANSACTION_AMOUNT),
        Column("currency", VARCHAR, "ISO 4217 currency", isin=v.CURRENCY_CODES),
        Column("status", VARCHAR, "Payment intent status", isin=INTENT_STATUSES),
        Column("latest_charge_id", VARCHAR, "Latest charge", nullable=True),
        Column("event_time", TIMESTAMP, "Created (UTC)"),
    ),
)


STRIPE_BALANCE_TRANSACTIONS = Feed(
    name="stripe_balance_transactions",
    id_field="balance_transaction_id",
    time_field="event_time",
    domain="open_banking",
    description="Stripe balance transactions (/v1/balance_transactions): money movements, fees, net.",
    partitioning="landed_days",
    columns=(
        Column("balance_transaction_id", VARCHAR, "Balance transaction id", unique=True, str_startswith="txn_"),
        Column("txn_type", VARCHAR, "Type (charge, refund, adjustment, payout, ...)"),
        Column("reporting_category", VARCHAR, "Reporting category (charge, refund, dispute, ...)", nullable=True),
        Column("source_id", VARCHAR, "Object that caused it (ch_, re_, dp_, ...)", nullable=True),
        Column("amount", MONEY, "Gross amount, major units (negative = money out)"),
        Column("fee", MONEY, "Stripe fees, major units", ge=0),
        Column("net", MONEY, "Net amount, major units"),
        Column("currency", VARCHAR, "ISO 4217 currency", isin=v.CURRENCY_CODES),
        Column("status", VARCHAR, "available / pending", isin=("available", "pending")),
        Column("event_time", TIMESTAMP, "Created (UTC)"),
        Column("available_time", TIMESTAMP, "When the funds become available", nullable=True),
    ),
    row_rules=(Rule("net_is_amount_minus_fee", _net_is_amount_minus_fee),),
)


STRIPE_DISPUTES = Feed(
    name="stripe_disputes",
    id_field="dispute_id",
    time_field="event_time",
    domain="open_banking",
    description="Stripe disputes (/v1/disputes): chargebacks, the late fraud labels.",
    partitioning="landed_days",
    columns=(
        Column("dispute_id", VARCHAR, "Dispute id", unique=True, str_startswith="dp_"),
        Column("charge_id", VARCHAR, "Disputed charge", str_startswith="ch_"),
        Column("payment_intent_id", VARCHAR, "Payment intent of the charge", nullable=True),
        Column("amount", MONEY, "Disputed amount, major units", ge=0),
        Column("currency", VARCHAR, "ISO 4217 currency", isin=v.CURRENCY_CODES),
        Column("reason", VARCHAR, "Dispute reason ('fraudulent' = fraud chargeback)", isin=DISPUTE_REASONS),
        Column("status", VARCHAR, "Dispute status", isin=DISPUTE_STATUSES),
        Column("event_time", TIMESTAMP, "Dispute created (UTC)"),
    ),
)


STRIPE_EVENTS = Feed(
    name="stripe_events",
    id_field="event_id",
    time_field="event_time",
    domain="open_banking",
    description="Stripe webhook events whose Stripe-Signature verified (lands updates such as refunds and dispute outcomes).",
    partitioning="landed_days",
    columns=(
        Column("event_id", VARCHAR, "Event id", unique=True, str_startswith="evt_"),
        Column("event_type", VARCHAR, "Event type (charge.refunded, charge.dispute.created, ...)"),
        Column("object_type", VARCHAR, "Type of data.object", nullable=True),
        Column("object_id", VARCHAR, "Id of data.object", nullable=True),
        Column("charge_id", VARCHAR, "Charge concerned (charge or dispute events)", nullable=True),
        Column("customer_id", VARCHAR, "Platform customer (metadata.customer_id)", nullable=True),
        Column("amount", MONEY, "Object amount, major units", nullable=True),
        Column("currency", VARCHAR, "ISO 4217 currency", nullable=True),
        Column("fraud_report", VARCHAR, "Charge fraud_details report", nullable=True),
        Column("reason", VARCHAR, "Dispute reason", nullable=True),
        Column("api_version", VARCHAR, "API version the event was rendered with", nullable=True),
        Column("event_time", TIMESTAMP, "Event created (UTC)"),
        Column("received_time", TIMESTAMP, "When the receiver verified it (UTC)"),
    ),
)

OPEN_BANKING_FEEDS: dict[str, Feed] = {
    f.name: f
    for f in (PLAID_ACCOUNTS, PLAID_TRANSACTIONS, STRIPE_CHARGES, STRIPE_PAYMENT_INTENTS,
              STRIPE_BALANCE_TRANSACTIONS, STRIPE_DISPUTES, STRIPE_EVENTS)
}
