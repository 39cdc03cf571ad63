from datetime import date, datetime
from decimal import Decimal

import pytest

from fintech_dataops.lib.ledger.booking import LedgerConfig, card_payment_entry, entries_for_day, fee_minor
from fintech_dataops.lib.ledger.model import (
    AmountPrecisionError, Entry, Posting, UnbalancedEntryError, reversal_of, to_minor,
)
from fintech_dataops.lib.ledger.store import book, ensure_ledger_schema, record_unbookable

AT = datetime(2026, 11, 1, 10)


def test_unbalanced_entry_is_refused_on_construction():
    with pytest.raises(UnbalancedEntryError, match="does not balance"):
        Entry("e1", "card_payment", AT, (Posting("customer:C1", "USD", 100), Posting("merchant:M1", "USD", -99)))


def test_balance_is_per_currency():
    with pytest.raises(UnbalancedEntryError):
        Entry("e1", "fx", AT, (Posting("customer:C1", "USD", 100), Posting("merchant:M1", "EUR", -100)))


def test_forged_unbalanced_entry_is_refused_by_the_store_and_nothing_is_written(connect):
    good = card_payment_entry("T1", "C1", "M1", Decimal("10.00"), "USD", AT)
    forged = object.__new__(Entry)  # bypasses __post_init__, as a buggy caller might
    for name, value in dict(event_id="bad", kind="card_payment", event_time=AT, stream="main", reverses=None,
                            description="", postings=(Posting("customer:C1", "USD", 5),
                                                      Posting("merchant:M1", "USD", -4))).items():
        object.__setattr__(forged, name, value)
    with connect() as con:
        ensure_ledger_schema(con)
        with pytest.raises(UnbalancedEntryError):
            book(con, [good, forged])
        assert con.execute("SELECT count(*) FROM ledger.entries").fetchone()[0] == 0


def test_minor_units_are_exact_and_refuse_floats_and_sub_minor_amounts():
    assert to_minor(Decimal("12.34"), "USD") == 1234
    assert to_minor(Decimal("1500"), "JPY") == 1500
    assert to_minor(Decimal("7.125"), "BHD") == 7125
    with pytest.raises(AmountPrecisionError):
        to_minor(Decimal("1.5"), "JPY")
    with pytest.raises(TypeError):
        to_minor(12.34, "USD")


def test_card_payment_splits_fee_with_bankers_rounding():
    assert fee_minor(1234, 150) == 19  # 18.51 -> 19
    assert fee_minor(100, 50) == 0  # 0.5 -> 0 (half-even)
    assert fee_minor(300, 50) == 2  # 1.5 -> 2
    entry = card_payment_entry("T1", "C1", "M1", Decimal("12.34"), "USD", AT, LedgerConfig(fee_bps=150))
    assert [(p.account_id, p.amount_minor) for p in entry.postings] == [
        ("customer:C1", 1234), ("merchant:M1", -1215), ("platform_fees:USD", -19)]


def test_reversal_negates_and_points_back():
    entry = card_payment_entry("T1", "C1", "M1", Decimal("12.34"), "USD", AT)
    rev = reversal_of(entry, "reversal:T1", AT)
    assert rev.reverses == "card:T1"
    assert [p.amount_minor for p in rev.postings] == [-p.amount_minor for p in entry.postings]


def test_day_books_every_event_kind(connect):
    with connect() as con:
        day1 = entries_for_day(con, date(2026, 11, 1))
        day2 = entries_for_day(con, date(2026, 11, 2))
    assert day1.by_kind() == {"card_payment": 10, "loan_disbursement": 1, "loan_repayment": 1}
    assert day2.by_kind() == {"card_payment": 10, "chargeback": 1, "refund": 1, "dispute": 1, "loan_repayment": 1}
    repayments = {e.event_id: e.postings[0].amount_minor for e in day1.entries + day2.entries
                  if e.kind == "loan_repayment"}
    assert repayments == {"loan_repayment:R1": 10000, "loan_repayment:R2": 14950}
    refund = next(e for e in day2.entries if e.kind == "refund")
    assert [(p.account_id, p.currency, p.amount_minor) for p in refund.postings] == [
        ("merchant:stripe", "USD", 2000), ("customer:C2", "USD", -2000)]


def test_replaying_a_day_books_nothing_new(connect):
    with connect() as con:
        first = book(con, entries_for_day(con, date(2026, 11, 1)).entries)
        again = book(con, entries_for_day(con, date(2026, 11, 1)).entries)
        rows = con.execute("SELECT count(*), count(DISTINCT event_id) FROM ledger.entries").fetchone()
        postings = con.execute("SELECT count(*) FROM ledger.postings").fetchone()[0]
    assert first.booked == 12 and again.booked == 0 and again.already_booked == 12
    assert rows == (12, 12)
    assert postings == first.postings


def test_same_event_twice_in_one_call_is_booked_once(connect):
    entry = card_payment_entry("T1", "C1", "M1", Decimal("1.00"), "USD", AT)
    with connect() as con:
        result = book(con, [entry, entry])
    assert (result.booked, result.already_booked) == (1, 1)


def test_an_amount_finer_than_the_currency_is_listed_not_booked(connect):
    with connect() as con:
        con.execute("UPDATE fraud.scored_transactions SET amount = 12.345 WHERE transaction_id = 'T0000'")
        found = entries_for_day(con, date(2026, 11, 1))
        record_unbookable(con, found.unbookable)
        listed = con.execute("SELECT event_id, reason FROM ledger.unbookable").fetchall()
    assert "card:T0000" not in {e.event_id for e in found.entries}
    assert listed[0][0] == "card:T0000" and "more decimals" in listed[0][1]
