"""What gets booked: the platform's own events turned into balanced ledger entries.

Accounts hold positions from the platform's point of view; debit = positive:
- card payment approved (``card:<transaction_id>``): Dr customer (the cardholder owes the amount),
  Cr merchant (owed the amount less the fee), Cr platform_fees (the fee);
- refund (``refund:<charge_id>``, Stripe charges with ``amount_refunded``): Dr merchant, Cr customer;
- chargeback (``chargeback:<label_id>`` from a confirmed fraud label on an approved payment, and
  ``dispute:<dispute_id>`` from a Stripe dispute): Dr chargebacks (recoverable from the merchant's
  acquirer), Cr customer;
- loan disbursed (``loan_disbursement:<loan_id>``, first partner report of a loan): Dr loans:<partner>,
  Cr settlement:<currency>; loan repaid (``loan_repayment:<report_id>``, the fall in outstanding since
  the previous report): Dr settlement:<currency>, Cr loans:<partner>.
Each event id is the idempotency key. Amounts go DECIMAL → integer minor units, never through a float;
an amount finer than its currency's minor unit is not booked but listed in ``ledger.unbookable``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import duckdb

from fintech_dataops.lib.ledger.model import (
    CHARGEBACKS, CUSTOMER, LOANS, MERCHANT, PLATFORM_FEES, SETTLEMENT, AmountPrecisionError, Entry, Posting,
    account_id, to_minor,
)
from fintech_dataops.lib.money.currencies import DEFAULT_MINOR_UNITS, MINOR_UNITS_NOT_TWO

CARD, REFUND, CHARGEBACK, DISPUTE, LOAN_DISBURSEMENT, LOAN_REPAYMENT = (
    "card_payment", "refund", "chargeback", "dispute", "loan_disbursement", "loan_repayment")


@dataclass(frozen=True)
class LedgerConfig:
    """Defaults of the ledger's Dagster config (one place for each)."""

    fee_bps: int = 150  # platform fee on an approved card payment, basis points of the amount
    batch_max_entries: int = 5000  # a settlement batch closes at this many entries ...
    batch_max_age_seconds: float = 5.0  # ... or when its oldest entry is this old (online path)
    stream: str = "main"


@dataclass
class DayEntries:
    entries: list[Entry] = field(default_factory=list)
    unbookable: list[tuple[str, str, object, str]] = field(default_factory=list)

    def by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for e in self.entries:
            counts[e.kind] = counts.get(e.kind, 0) + 1
        return counts


def fee_minor(amount_minor: int, fee_bps: int) -> int:
    """The fee in minor units, rounded half-even (banker's rounding) on the exact product, in integers."""
    quotient, remainder = divmod(amount_minor * fee_bps, 10_000)
    if remainder * 2 > 10_000 or (remainder * 2 == 10_000 and quotient % 2):
        quotient += 1
    return quotient


def card_payment_entry(transaction_id: str, customer_id: str, merchant_id: str, amount: Decimal, currency: str,
                       event_time: datetime, config: LedgerConfig = LedgerConfig(), *,
                       amount_minor: int | None = None) -> Entry:
    """``amount_minor`` when the caller already has it exactly (SQL on a DECIMAL column), else from ``amount``."""
    amount_minor = to_minor(amount, currency) if amount_minor is None else amount_minor
    fee = fee_minor(amount_minor, config.fee_bps)
    postings = [Posting(f"{CUSTOMER}:{customer_id}", currency, amount_minor),
                Posting(f"{MERCHANT}:{merchant_id}", currency, -(amount_minor - fee))]
    if fee:
        postings.append(Posting(f"{PLATFORM_FEES}:{currency}", currency, -fee))
    return Entry(event_id=f"card:{transaction_id}", kind=CARD, event_time=event_time, postings=tuple(postings),
                 stream=config.stream, description=f"approved card payment {transaction_id}")


def _two_leg(event_id: str, kind: str, event_time: datetime, debit: str, credit: str, amount_minor: int,
             currency: str, stream: str, description: str) -> Entry:
    return Entry(event_id=event_id, kind=kind, event_time=event_time, stream=stream, description=description,
                 postings=(Posting(debit, currency, amount_minor), Posting(credit, currency, -amount_minor)))


def _table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                            [schema, name]).fetchone()[0])


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    schema, name = table.split(".")
    return {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                                      "AND table_name = ?", [schema, name]).fetchall()}


def _money(column: str) -> str:
    """Read a money column as DECIMAL(18,3) whether it is stored DECIMAL (or still DOUBLE upstream)."""
    return f"CAST(round({column}, 3) AS DECIMAL(18, 3))"


def _factor(currency_column: str) -> str:
    """SQL for 10 ** (the currency's ISO 4217 minor units), exact (an integer, never a DOUBLE)."""
    cases = " ".join(f"WHEN '{c}' THEN {10 ** u}" for c, u in sorted(MINOR_UNITS_NOT_TWO.items()))
    return f"(CASE {currency_column} {cases} ELSE {10 ** DEFAULT_MINOR_UNITS} END)"


def entries_for_day(con: duckdb.DuckDBPyConnection, day: date, config: LedgerConfig = LedgerConfig()) -> DayEntries:
    """Every bookable event of one business day (``partition_date``), from the tables that exist."""
    out = DayEntries()

    def add(make, event_id: str, kind: str):
        try:
            out.entries.append(make())
        except AmountPrecisionError as exc:
            out.unbookable.append((event_id, kind, day, str(exc)))

    if _table_exists(con, "fraud.scored_transactions"):
        for tx, customer, merchant, amount, currency, at, exact_minor in con.execute(
                f"SELECT transaction_id, customer_id, merchant_id, {_money('amount')} AS amount, currency, event_time, "
                f"CASE WHEN amount * {_factor('currency')} = trunc(amount * {_factor('currency')}) "
                f"THEN CAST(amount * {_factor('currency')} AS BIGINT) END "
                "FROM fraud.scored_transactions WHERE partition_date = ? AND decision = 'approve' "
                "ORDER BY event_time, transaction_id", [day]).fetchall():
            add(lambda: card_payment_entry(tx, customer, merchant, amount, currency, at, config,
                                           amount_minor=exact_minor), f"card:{tx}", CARD)
        if _table_exists(con, "core.fraud_labels"):
            for label, tx, customer, amount, currency, at in con.execute(
                    f"SELECT l.label_id, l.transaction_id, s.customer_id, {_money('l.amount')}, s.currency, "
                    "l.reported_time FROM core.fraud_labels l JOIN fraud.scored_transactions s USING (transaction_id) "
                    "WHERE l.partition_date = ? AND l.is_fraud AND s.decision = 'approve' "
                    "ORDER BY l.reported_time, l.label_id", [day]).fetchall():
                add(lambda: _two_leg(f"chargeback:{label}", CHARGEBACK, at, account_id(CHARGEBACKS, currency),
                                     account_id(CUSTOMER, customer), to_minor(amount, currency), currency,
                                     config.stream, f"chargeback (fraud label) on {tx}"),
                    f"chargeback:{label}", CHARGEBACK)
    if _table_exists(con, "core.stripe_charges") and "amount_refunded" in _columns(con, "core.stripe_charges"):
        for charge, customer, amount, currency, at in con.execute(
                f"SELECT charge_id, customer_id, {_money('amount_refunded')}, upper(currency), event_time "
                "FROM core.stripe_charges WHERE partition_date = ? AND amount_refunded > 0 "
                "ORDER BY event_time, charge_id", [day]).fetchall():
            add(lambda: _two_leg(f"refund:{charge}", REFUND, at, account_id(MERCHANT, "stripe"),
                                 account_id(CUSTOMER, customer), to_minor(amount, currency), currency, config.stream,
                                 f"refund of Stripe charge {charge}"), f"refund:{charge}", REFUND)
    if _table_exists(con, "core.stripe_disputes") and _table_exists(con, "core.stripe_charges"):
        for dispute, customer, amount, currency, at in con.execute(
                f"SELECT d.dispute_id, c.customer_id, {_money('d.amount')}, upper(d.currency), d.event_time "
                "FROM core.stripe_disputes d JOIN core.stripe_charges c USING (charge_id) "
                "WHERE d.partition_date = ? ORDER BY d.event_time, d.dispute_id", [day]).fetchall():
            add(lambda: _two_leg(f"dispute:{dispute}", DISPUTE, at, account_id(CHARGEBACKS, currency),
                                 account_id(CUSTOMER, customer), to_minor(amount, currency), currency, config.stream,
                                 f"Stripe dispute {dispute}"), f"dispute:{dispute}", DISPUTE)
    if _table_exists(con, "core.partner_loans"):
        for report, loan, partner, principal, currency, outstanding, previous, first, at in con.execute(f"""
                WITH ordered AS (
                    SELECT report_id, loan_id, partner_id, {_money('principal')} AS principal, currency,
                           {_money('outstanding')} AS outstanding, reported_time, partition_date,
                           lag({_money('outstanding')}) OVER w AS previous, row_number() OVER w = 1 AS first_report
                    FROM core.partner_loans WINDOW w AS (PARTITION BY loan_id ORDER BY reported_time, report_id))
                SELECT report_id, loan_id, partner_id, principal, currency, outstanding, previous, first_report,
                       reported_time FROM ordered WHERE partition_date = ? ORDER BY reported_time, report_id""",
                [day]).fetchall():
            if first:
                add(lambda: _two_leg(f"loan_disbursement:{loan}", LOAN_DISBURSEMENT, at, account_id(LOANS, partner),
                                     account_id(SETTLEMENT, currency), to_minor(principal, currency), currency,
                                     config.stream, f"loan {loan} disbursed"), f"loan_disbursement:{loan}",
                    LOAN_DISBURSEMENT)
            repaid = (principal if previous is None else previous) - outstanding
            if repaid > 0:
                add(lambda: _two_leg(f"loan_repayment:{report}", LOAN_REPAYMENT, at, account_id(SETTLEMENT, currency),
                                     account_id(LOANS, partner), to_minor(repaid, currency), currency, config.stream,
                                     f"loan {loan} repaid (report {report})"), f"loan_repayment:{report}",
                    LOAN_REPAYMENT)
    return out
