"""Referential links between feeds: which column points at which core table (plain data, no pandera).

Checked as WARN-severity asset checks, never as a quarantine rule. Another domain declares the
links of a feed it adds with :func:`register_references`.
"""

from __future__ import annotations

# (column, parent core table, parent column): events may arrive before master data, so an orphan
# is a warning, never a reason to quarantine.
REFERENCES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "transactions": (("customer_id", "core.customers", "customer_id"),),
    "consumer_events": (("customer_id", "core.customers", "customer_id"),),
    "public_records": (("customer_id", "core.customers", "customer_id"),),
    "partner_loans": (("customer_id", "core.customers", "customer_id"),),
    "utility_payments": (("customer_id", "core.customers", "customer_id"),),
    "telco_payments": (("customer_id", "core.customers", "customer_id"),),
    "loan_applications": (("customer_id", "core.customers", "customer_id"),),
    "fraud_labels": (
        ("transaction_id", "core.transactions", "transaction_id"),
        ("customer_id", "core.customers", "customer_id"),
    ),
    # An outcome matures 12 months after its application: the application is long gone from the
    # pending applications feed (core.loan_applications), so only the customer is a reference.
    "loan_outcomes": (("customer_id", "core.customers", "customer_id"),),
}


def register_references(feed_name: str, references: tuple[tuple[str, str, str], ...]) -> None:
    """Declare (column, parent core table, parent column) links for ``feed_name``."""
    REFERENCES[feed_name] = tuple(references)
