"""The tables one domain reads from another: their asset keys, and the domain that defines each.

A domain depends on another domain's tables through these keys, never by importing its package,
so every ``fintech_dataops.defs.<domain>`` imports on its own and no domain needs to know which
others are loaded. A key is ``[layer, table]`` for the DuckDB table ``layer.table``; the owner is
the domain package that defines the asset (its ``domain`` tag in the UI).

``fintech_dataops_tests/defs/test_catalog.py`` keeps this honest: every key here is defined by the
domain named here, and every dependency in the graph that crosses domains is a key here. Reading a
new table from another domain is adding it below (the test names the missing key).
"""

from __future__ import annotations

import dagster as dg

from fintech_dataops.lib.ingestion.feeds import FEED_NAMES


def table_key(table: str) -> dg.AssetKey:
    """``layer.table`` → ``AssetKey([layer, table])``."""
    return dg.AssetKey(table.split("."))


# ingestion lands every simulator feed in raw.<feed>; quality validates it into core.<feed>.
RAW_FEEDS = {feed: table_key(f"raw.{feed}") for feed in FEED_NAMES}
CORE_FEEDS = {feed: table_key(f"core.{feed}") for feed in FEED_NAMES}
CORE_TRANSACTIONS = CORE_FEEDS["transactions"]
CORE_FRAUD_LABELS = CORE_FEEDS["fraud_labels"]
DQ_SCORES = table_key("quality.dq_scores")
UNROUTABLE_FILES = table_key("quality.unroutable_files")

FX_RATES = table_key("core.fx_rates")

PLATFORM_TRANSACTIONS = table_key("open_banking.platform_transactions")
STRIPE_FRAUD_LABELS = table_key("open_banking.stripe_fraud_labels")
PLAID_TRANSACTIONS = table_key("open_banking.plaid_transactions")
STRIPE_CHARGES = table_key("core.stripe_charges")
STRIPE_DISPUTES = table_key("core.stripe_disputes")

FRAUD_DISPOSITIONS = table_key("core.fraud_dispositions")

SCORED_TRANSACTIONS = table_key("fraud.scored_transactions")
FRAUD_ALERTS = table_key("fraud.alerts")

CREDIT_SCORES = table_key("credit.scores")
LOAN_DECISIONS = table_key("credit.loan_decisions")

BATCH_LATENCY = table_key("realtime.batch_latency")

OWNERS: dict[dg.AssetKey, str] = {
    **{key: "ingestion" for key in RAW_FEEDS.values()},
    **{key: "quality" for key in (*CORE_FEEDS.values(), DQ_SCORES, UNROUTABLE_FILES)},
    FX_RATES: "money",
    **{key: "open_banking" for key in (PLATFORM_TRANSACTIONS, STRIPE_FRAUD_LABELS, PLAID_TRANSACTIONS,
                                       STRIPE_CHARGES, STRIPE_DISPUTES)},
    FRAUD_DISPOSITIONS: "monitor",
    SCORED_TRANSACTIONS: "fraud",
    FRAUD_ALERTS: "fraud",
    CREDIT_SCORES: "credit",
    LOAN_DECISIONS: "credit",
    BATCH_LATENCY: "realtime",
}
