"""pandera contracts of the open-banking feeds (Plaid, Stripe), registered with the feed registry.

Importing this module registers the feeds, so ``lib.quality.core_gate`` validates
``raw.<feed>`` into ``core.<feed>`` / ``quarantine.<feed>`` like any other feed.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from fintech_dataops.lib.open_banking.feeds import (
    PLAID_ACCOUNTS,
    PLAID_TRANSACTIONS,
    STRIPE_BALANCE_TRANSACTIONS,
    STRIPE_CHARGES,
    STRIPE_DISPUTES,
    STRIPE_EVENTS,
    STRIPE_PAYMENT_INTENTS,
)
from fintech_dataops.schemas import vocabulary as v
from fintech_dataops.schemas.feeds import FeedModel, not_in_future
from fintech_dataops.schemas.registry import feed_for, register_feed

_ID = {"str_length": {"min_value": 1, "max_value": 128}}
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
CURRENCIES = tuple(c for c in v.CURRENCY_CODES)


class PlaidAccountsSchema(FeedModel):
    snapshot_id: Series[str] = pa.Field(unique=True, **_ID, description="Balance snapshot id (account × pull time)")
    item_id: Series[str] = pa.Field(**_ID, description="Plaid item (one linked bank login)")
    customer_id: Series[str] = pa.Field(**_ID, description="Platform customer the item is linked to")
    account_id: Series[str] = pa.Field(**_ID, description="Plaid account id")
    account_name: Series[str] = pa.Field(nullable=True, description="Account name at the institution")
    account_type: Series[str] = pa.Field(isin=ACCOUNT_TYPES, description="Plaid account type")
    account_subtype: Series[str] = pa.Field(nullable=True, description="Plaid account subtype (checking, savings, ...)")
    currency: Series[str] = pa.Field(nullable=True, isin=CURRENCIES, description="ISO 4217 currency of the balances")
    available_balance: Series[float] = pa.Field(nullable=True, description="Available balance, major units")
    current_balance: Series[float] = pa.Field(nullable=True, description="Current (ledger) balance, major units")
    credit_limit: Series[float] = pa.Field(nullable=True, ge=0, description="Credit limit (credit accounts)")
    observed_time: Series[pa.typing.DateTime] = pa.Field(description="When the balance was pulled (UTC)")

    @pa.check("observed_time", name="not_in_future")
    def _observed(cls, s: Series[pd.Timestamp]) -> Series[bool]:
        return not_in_future(s)


class PlaidTransactionsSchema(FeedModel):
    change_id: Series[str] = pa.Field(unique=True, **_ID, description="Change id (hash of item, change type, object)")
    item_id: Series[str] = pa.Field(**_ID, description="Plaid item")
    customer_id: Series[str] = pa.Field(**_ID, description="Platform customer the item is linked to")
    change_type: Series[str] = pa.Field(isin=PLAID_CHANGE_TYPES, description="added / modified / removed")
    transaction_id: Series[str] = pa.Field(**_ID, description="Plaid transaction id")
    account_id: Series[str] = pa.Field(nullable=True, description="Plaid account id")
    amount: Series[float] = pa.Field(nullable=True, ge=-v.MAX_TRANSACTION_AMOUNT, le=v.MAX_TRANSACTION_AMOUNT,
                                     description="Amount, major units; Plaid sign: positive = money out, negative = in")
    currency: Series[str] = pa.Field(nullable=True, isin=CURRENCIES, description="ISO 4217 currency")
    transaction_date: Series[pa.typing.DateTime] = pa.Field(nullable=True, description="Posting date")
    event_time: Series[pa.typing.DateTime] = pa.Field(nullable=True, description="Authorisation time (UTC), else the date")
    merchant_name: Series[str] = pa.Field(nullable=True, description="Merchant name (enriched)")
    description: Series[str] = pa.Field(nullable=True, description="Statement description")
    payment_channel: Series[str] = pa.Field(nullable=True, isin=PLAID_PAYMENT_CHANNELS, description="online / in store / other")
    category: Series[str] = pa.Field(nullable=True, description="Personal finance category (primary)")
    country: Series[str] = pa.Field(nullable=True, description="Merchant country, when Plaid knows it")
    is_pending: Series[pd.BooleanDtype] = pa.Field(nullable=True, description="Pending authorisation (not yet posted)")
    received_time: Series[pa.typing.DateTime] = pa.Field(description="When the sync received the change (UTC)")

    @pa.dataframe_check(name="added_and_modified_carry_the_transaction")
    def _complete(cls, df: pd.DataFrame) -> Series[bool]:
        removed = df["change_type"] == "removed"
        return removed | (df["amount"].notna() & df["currency"].notna() & df["event_time"].notna())

    @pa.check("event_time", name="not_in_future")
    def _event_time(cls, s: Series[pd.Timestamp]) -> Series[bool]:
        return s.isna() | not_in_future(s)


class StripeChargesSchema(FeedModel):
    charge_id: Series[str] = pa.Field(unique=True, str_startswith="ch_", description="Stripe charge id")
    customer_id: Series[str] = pa.Field(nullable=True, description="Platform customer (charge metadata.customer_id)")
    stripe_customer: Series[str] = pa.Field(nullable=True, description="Stripe customer id (cus_…)")
    payment_intent_id: Series[str] = pa.Field(nullable=True, description="Payment intent that created the charge")
    amount: Series[float] = pa.Field(ge=0, le=v.MAX_TRANSACTION_AMOUNT, description="Amount, major units")
    amount_refunded: Series[float] = pa.Field(ge=0, description="Refunded amount, major units")
    currency: Series[str] = pa.Field(isin=CURRENCIES, description="ISO 4217 currency")
    status: Series[str] = pa.Field(isin=CHARGE_STATUSES, description="succeeded / pending / failed")
    is_refunded: Series[pd.BooleanDtype] = pa.Field(description="Fully refunded")
    is_disputed: Series[pd.BooleanDtype] = pa.Field(description="A dispute was opened")
    fraud_report: Series[str] = pa.Field(nullable=True, description="fraud_details user/stripe report ('fraudulent', 'safe')")
    card_country: Series[str] = pa.Field(nullable=True, description="Card issuing country")
    merchant_category: Series[str] = pa.Field(nullable=True, description="Merchant category (metadata)")
    event_time: Series[pa.typing.DateTime] = pa.Field(description="Charge created (UTC)")

    @pa.dataframe_check(name="refund_not_above_amount")
    def _refund(cls, df: pd.DataFrame) -> Series[bool]:
        return df["amount_refunded"] <= df["amount"]


class StripePaymentIntentsSchema(FeedModel):
    payment_intent_id: Series[str] = pa.Field(unique=True, str_startswith="pi_", description="Payment intent id")
    customer_id: Series[str] = pa.Field(nullable=True, description="Platform customer (metadata.customer_id)")
    amount: Series[float] = pa.Field(ge=0, le=v.MAX_TRANSACTION_AMOUNT, description="Amount, major units")
    currency: Series[str] = pa.Field(isin=CURRENCIES, description="ISO 4217 currency")
    status: Series[str] = pa.Field(isin=INTENT_STATUSES, description="Payment intent status")
    latest_charge_id: Series[str] = pa.Field(nullable=True, description="Latest charge")
    event_time: Series[pa.typing.DateTime] = pa.Field(description="Created (UTC)")


class StripeBalanceTransactionsSchema(FeedModel):
    balance_transaction_id: Series[str] = pa.Field(unique=True, str_startswith="txn_", description="Balance transaction id")
    txn_type: Series[str] = pa.Field(description="Type (charge, refund, adjustment, payout, ...)")
    reporting_category: Series[str] = pa.Field(nullable=True, description="Reporting category (charge, refund, dispute, ...)")
    source_id: Series[str] = pa.Field(nullable=True, description="Object that caused it (ch_, re_, dp_, ...)")
    amount: Series[float] = pa.Field(description="Gross amount, major units (negative = money out)")
    fee: Series[float] = pa.Field(ge=0, description="Stripe fees, major units")
    net: Series[float] = pa.Field(description="Net amount, major units")
    currency: Series[str] = pa.Field(isin=CURRENCIES, description="ISO 4217 currency")
    status: Series[str] = pa.Field(isin=("available", "pending"), description="available / pending")
    event_time: Series[pa.typing.DateTime] = pa.Field(description="Created (UTC)")
    available_time: Series[pa.typing.DateTime] = pa.Field(nullable=True, description="When the funds become available")

    @pa.dataframe_check(name="net_is_amount_minus_fee")
    def _net(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["amount"] - df["fee"] - df["net"]).abs() < 0.005


class StripeDisputesSchema(FeedModel):
    dispute_id: Series[str] = pa.Field(unique=True, str_startswith="dp_", description="Dispute id")
    charge_id: Series[str] = pa.Field(str_startswith="ch_", description="Disputed charge")
    payment_intent_id: Series[str] = pa.Field(nullable=True, description="Payment intent of the charge")
    amount: Series[float] = pa.Field(ge=0, description="Disputed amount, major units")
    currency: Series[str] = pa.Field(isin=CURRENCIES, description="ISO 4217 currency")
    reason: Series[str] = pa.Field(isin=DISPUTE_REASONS, description="Dispute reason ('fraudulent' = fraud chargeback)")
    status: Series[str] = pa.Field(isin=DISPUTE_STATUSES, description="Dispute status")
    event_time: Series[pa.typing.DateTime] = pa.Field(description="Dispute created (UTC)")


class StripeEventsSchema(FeedModel):
    event_id: Series[str] = pa.Field(unique=True, str_startswith="evt_", description="Event id")
    event_type: Series[str] = pa.Field(description="Event type (charge.refunded, charge.dispute.created, ...)")
    object_type: Series[str] = pa.Field(nullable=True, description="Type of data.object")
    object_id: Series[str] = pa.Field(nullable=True, description="Id of data.object")
    charge_id: Series[str] = pa.Field(nullable=True, description="Charge concerned (charge or dispute events)")
    customer_id: Series[str] = pa.Field(nullable=True, description="Platform customer (metadata.customer_id)")
    amount: Series[float] = pa.Field(nullable=True, description="Object amount, major units")
    currency: Series[str] = pa.Field(nullable=True, description="ISO 4217 currency")
    fraud_report: Series[str] = pa.Field(nullable=True, description="Charge fraud_details report")
    reason: Series[str] = pa.Field(nullable=True, description="Dispute reason")
    api_version: Series[str] = pa.Field(nullable=True, description="API version the event was rendered with")
    event_time: Series[pa.typing.DateTime] = pa.Field(description="Event created (UTC)")
    received_time: Series[pa.typing.DateTime] = pa.Field(description="When the receiver verified it (UTC)")


OPEN_BANKING_SCHEMAS: dict[str, type[pa.DataFrameModel]] = {
    PLAID_ACCOUNTS.name: PlaidAccountsSchema,
    PLAID_TRANSACTIONS.name: PlaidTransactionsSchema,
    STRIPE_CHARGES.name: StripeChargesSchema,
    STRIPE_PAYMENT_INTENTS.name: StripePaymentIntentsSchema,
    STRIPE_BALANCE_TRANSACTIONS.name: StripeBalanceTransactionsSchema,
    STRIPE_DISPUTES.name: StripeDisputesSchema,
    STRIPE_EVENTS.name: StripeEventsSchema,
}
_FEEDS = (PLAID_ACCOUNTS, PLAID_TRANSACTIONS, STRIPE_CHARGES, STRIPE_PAYMENT_INTENTS, STRIPE_BALANCE_TRANSACTIONS,
          STRIPE_DISPUTES, STRIPE_EVENTS)


def register_open_banking_feeds() -> None:
    """Idempotent: registers each open-banking feed with its contract."""
    for feed in _FEEDS:
        try:
            if feed_for(feed.name) is feed:
                continue
        except KeyError:
            pass
        register_feed(feed, OPEN_BANKING_SCHEMAS[feed.name], replace=True)


register_open_banking_feeds()
