"""The open-banking landing-zone feeds (kept out of ``lib.ingestion.feeds.FEEDS``: the simulator does not produce them).

Each feed is declared once, in ``fintech_dataops/schemas/open_banking.py`` (columns, types, rules,
descriptions, PII class); this module names them for the pulls and the layers.
"""

from __future__ import annotations

from fintech_dataops.schemas.open_banking import (
    OPEN_BANKING_FEEDS,
    PLAID_ACCOUNTS,
    PLAID_TRANSACTIONS,
    STRIPE_BALANCE_TRANSACTIONS,
    STRIPE_CHARGES,
    STRIPE_DISPUTES,
    STRIPE_EVENTS,
    STRIPE_PAYMENT_INTENTS,
)

__all__ = ["OPEN_BANKING_FEEDS", "PLAID_ACCOUNTS", "PLAID_TRANSACTIONS", "STRIPE_BALANCE_TRANSACTIONS", "STRIPE_CHARGES",
           "STRIPE_DISPUTES", "STRIPE_EVENTS", "STRIPE_LIST_FEEDS", "STRIPE_PAYMENT_INTENTS"]

STRIPE_LIST_FEEDS = {
    "charges": STRIPE_CHARGES,
    "payment_intents": STRIPE_PAYMENT_INTENTS,
    "balance_transactions": STRIPE_BALANCE_TRANSACTIONS,
    "disputes": STRIPE_DISPUTES,
}
