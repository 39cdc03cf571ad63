"""The open-banking landing-zone feeds (kept out of ``lib.ingestion.feeds.FEEDS``: the simulator does not produce them).

Every landed record is an *envelope*: the contract fields below, extracted and
normalised (money in major units, times ISO-8601 UTC), plus ``api_object`` —
the object exactly as the SDK deserialised it from the API response — so the
landing stays lossless while the core contract stays small and typed.

Types are declared per feed (``OpenBankingFeed.types``) instead of by field
name, because API objects carry booleans and balances the platform-wide name
rules do not know. Money (amounts, balances, fees) is stored exact, ``MONEY_SQL_TYPE``
(DECIMAL, never DOUBLE), and gets its reporting-currency twin in core like every feed
with a ``currency`` (``lib.money.core_columns``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fintech_dataops.lib.ingestion.feeds import MONEY_SQL_TYPE, Feed


@dataclass(frozen=True)
class OpenBankingFeed(Feed):
    # Explicit DuckDB type per field; fields not listed are VARCHAR.
    types: tuple[tuple[str, str], ...] = field(default=())

    @property
    def core_types(self) -> dict[str, str]:
        explicit = dict(self.types)
        return {name: explicit.get(name, "VARCHAR") for name in self.fields}


_TS, _MONEY, _BOOL, _DATE = "TIMESTAMP", MONEY_SQL_TYPE, "BOOLEAN", "DATE"

PLAID_ACCOUNTS = OpenBankingFeed(
    name="plaid_accounts",
    id_field="snapshot_id",
    time_field="observed_time",
    fields=(
        "snapshot_id", "item_id", "customer_id", "account_id", "account_name", "account_type",
        "account_subtype", "currency", "available_balance", "current_balance", "credit_limit", "observed_time",
    ),
    description="Plaid accounts and balances (/accounts/balance/get): one snapshot per account per pull.",
    types=(("available_balance", _MONEY), ("current_balance", _MONEY), ("credit_limit", _MONEY),
           ("observed_time", _TS)),
)

PLAID_TRANSACTIONS = OpenBankingFeed(
    name="plaid_transactions",
    id_field="change_id",
    time_field="received_time",
    fields=(
        "change_id", "item_id", "customer_id", "change_type", "transaction_id", "account_id", "amount",
        "currency", "transaction_date", "event_time", "merchant_name", "description", "payment_channel",
        "category", "country", "is_pending", "received_time",
    ),
    description=(
        "Plaid /transactions/sync change log: one line per added / modified / removed transaction, "
        "in the order received (Plaid sign: positive = money out)."
    ),
    types=(("amount", _MONEY), ("transaction_date", _DATE), ("event_time", _TS), ("is_pending", _BOOL),
           ("received_time", _TS)),
)

STRIPE_CHARGES = OpenBankingFeed(
    name="stripe_charges",
    id_field="charge_id",
    time_field="event_time",
    fields=(
        "charge_id", "customer_id", "stripe_customer", "payment_intent_id", "amount", "amount_refunded",
        "currency", "status", "is_refunded", "is_disputed", "fraud_report", "card_country",
        "merchant_category", "event_time",
    ),
    description="Stripe charges (/v1/charges), incremental by `created`.",
    types=(("amount", _MONEY), ("amount_refunded", _MONEY), ("is_refunded", _BOOL), ("is_disputed", _BOOL),
           ("event_time", _TS)),
)

STRIPE_PAYMENT_INTENTS = OpenBankingFeed(
    name="stripe_payment_intents",
    id_field="payment_intent_id",
    time_field="event_time",
    fields=("payment_intent_id", "customer_id", "amount", "currency", "status", "latest_charge_id", "event_time"),
    description="Stripe payment intents (/v1/payment_intents), incremental by `created`.",
    types=(("amount", _MONEY), ("event_time", _TS)),
)

STRIPE_BALANCE_TRANSACTIONS = OpenBankingFeed(
    name="stripe_balance_transactions",
    id_field="balance_transaction_id",
    time_field="event_time",
    fields=(
        "balance_transaction_id", "txn_type", "reporting_category", "source_id", "amount", "fee", "net",
        "currency", "status", "event_time", "available_time",
    ),
    description="Stripe balance transactions (/v1/balance_transactions): money movements, fees, net.",
    types=(("amount", _MONEY), ("fee", _MONEY), ("net", _MONEY), ("event_time", _TS), ("available_time", _TS)),
)

STRIPE_DISPUTES = OpenBankingFeed(
    name="stripe_disputes",
    id_field="dispute_id",
    time_field="event_time",
    fields=("dispute_id", "charge_id", "payment_intent_id", "amount", "currency", "reason", "status", "event_time"),
    description="Stripe disputes (/v1/disputes): chargebacks, the late fraud labels.",
    types=(("amount", _MONEY), ("event_time", _TS)),
)

STRIPE_EVENTS = OpenBankingFeed(
    name="stripe_events",
    id_field="event_id",
    time_field="event_time",
    fields=(
        "event_id", "event_type", "object_type", "object_id", "charge_id", "customer_id", "amount", "currency",
        "fraud_report", "reason", "api_version", "event_time", "received_time",
    ),
    description="Stripe webhook events whose Stripe-Signature verified (lands updates such as refunds and dispute outcomes).",
    types=(("amount", _MONEY), ("event_time", _TS), ("received_time", _TS)),
)

OPEN_BANKING_FEEDS: dict[str, OpenBankingFeed] = {
    f.name: f
    for f in (PLAID_ACCOUNTS, PLAID_TRANSACTIONS, STRIPE_CHARGES, STRIPE_PAYMENT_INTENTS,
              STRIPE_BALANCE_TRANSACTIONS, STRIPE_DISPUTES, STRIPE_EVENTS)
}
STRIPE_LIST_FEEDS = {
    "charges": STRIPE_CHARGES,
    "payment_intents": STRIPE_PAYMENT_INTENTS,
    "balance_transactions": STRIPE_BALANCE_TRANSACTIONS,
    "disputes": STRIPE_DISPUTES,
}
