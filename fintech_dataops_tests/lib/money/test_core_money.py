"""Money in core tables: DECIMAL amounts, ISO minor units quarantined, the reporting-currency column."""

import datetime as dt
import json
from decimal import Decimal

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.money.fx import MoneyConfig
from fintech_dataops.lib.money.landing import land_day
from fintech_dataops.lib.money.rates import load_bundled_history
from fintech_dataops.lib.quality.core_gate import load_core_partitions
from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions

FRIDAY, SATURDAY = dt.date(2026, 10, 23), dt.date(2026, 10, 24)


def tx(tid: str, amount, currency: str, when: str) -> str:
    return json.dumps({"transaction_id": tid, "customer_id": "C1", "merchant_id": "M1", "amount": amount,
                       "currency": currency, "event_time": when, "channel": "online", "merchant_category": "retail",
                       "country": "GB", "device_id": "D1"})


def load(con, landing_dir, feed, days):
    days = [d.isoformat() for d in days]
    load_raw_partitions(con, landing_dir, feed, days)
    return load_core_partitions(con, feed, days)


@pytest.fixture()
def warehouse(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield con, tmp_path / "landing"
    con.close()


def test_core_fx_rates_are_validated_and_stored_exact(warehouse):
    con, landing_dir = warehouse
    history = load_bundled_history()
    assert land_day(landing_dir, history, FRIDAY).records >= 30  # 29 ECB quotes + the BHD peg
    assert land_day(landing_dir, history, FRIDAY).note == "already landed"
    assert land_day(landing_dir, history, SATURDAY).records == 0
    landing.land_lines(landing_dir, "fx_rates", FRIDAY, "broken", [
        json.dumps({"rate_id": "bad-1", "rate_date": "2026-10-23", "base_currency": "EUR", "currency": "XYZ",
                    "rate": -1, "source": "ECB", "published_time": "2026-10-23T15:00:00Z"}),
        json.dumps({"rate_id": "bad-2", "rate_date": "2026-10-23", "base_currency": "USD", "currency": "ABC",
                    "rate": 1.5, "source": "ECB", "published_time": "2026-10-23T15:00:00Z"}),
    ])
    result = load(con, landing_dir, "fx_rates", [FRIDAY])
    assert result.quarantined_rows == 2
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_schema = 'core' AND table_name = 'fx_rates'").fetchall())
    assert types["rate"] == "DECIMAL(18,8)" and types["rate_date"] == "DATE"
    gbp = con.execute("SELECT rate FROM core.fx_rates WHERE currency = 'GBP'").fetchone()[0]
    assert gbp == Decimal(history.days[FRIDAY]["GBP"])


def test_core_transactions_carry_decimal_amounts_and_the_reporting_amount(warehouse):
    con, landing_dir = warehouse
    land_day(landing_dir, load_bundled_history(), FRIDAY)
    load(con, landing_dir, "fx_rates", [FRIDAY])
    landing.land_lines(landing_dir, "transactions", SATURDAY, "b1", [
        tx("T1", 700, "GBP", "2026-10-24T10:00:00Z"),      # Saturday: Friday's rate
        tx("T2", 800.00, "USD", "2026-10-24T10:00:00Z"),
        tx("T3", 900, "JPY", "2026-10-24T10:00:00Z"),
        tx("T4", 900.5, "JPY", "2026-10-24T10:00:00Z"),    # yen have no decimals
        tx("T5", 10.005, "USD", "2026-10-24T10:00:00Z"),   # a tenth of a cent
        tx("T6", 10.005, "BHD", "2026-10-24T10:00:00Z"),   # fils: fine
        tx("T7", 50, "CHF", "2026-10-31T10:00:00Z"),       # 8 days after the last landed rate
    ])
    result = load(con, landing_dir, "transactions", [SATURDAY])
    assert result.failed_checks == {"minor_units": 2}
    reasons = dict(con.execute("SELECT json_extract_string(record, '$.transaction_id'), reason "
                               "FROM quarantine.transactions").fetchall())
    assert "more decimals than JPY allows (0)" in reasons["T4"] and "USD allows (2)" in reasons["T5"]
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_schema = 'core' AND table_name = 'transactions'").fetchall())
    assert types["amount"] == "DECIMAL(18,3)" and types["amount_reporting"] == "DECIMAL(18,3)"
    rows = dict(con.execute("SELECT transaction_id, amount_reporting FROM core.transactions").fetchall())
    assert rows["T1"] > 800 and rows["T2"] == Decimal("800.00") and rows["T3"] < 10
    assert rows["T6"] == Decimal("26.61")  # 10.005 BHD / 0.376 BHD per USD
    assert rows["T7"] is None              # rate missing: no reporting value, never a guess


_CURRENCIES = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "BHD": 3}


@st.composite
def landed_amounts(draw):
    rows = []
    for _ in range(draw(st.integers(1, 25))):
        currency = draw(st.sampled_from(sorted(_CURRENCIES)))
        minor = draw(st.integers(1, 10**9))
        rows.append((currency, Decimal(minor).scaleb(-_CURRENCIES[currency])))
    return rows


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=landed_amounts())
def test_stored_sums_equal_the_exact_decimal_sums_of_landed_values(tmp_path_factory, rows):
    root = tmp_path_factory.mktemp("prop")
    con = duckdb.connect(str(root / "w.duckdb"))
    try:
        # The text as landed (e.g. 1234567.891 BHD, 0.01 USD): json numbers written exactly.
        lines = [tx(f"T{i}", 0, c, "2026-10-24T10:00:00Z").replace('"amount": 0', f'"amount": {a}')
                 for i, (c, a) in enumerate(rows)]
        landing.land_lines(root / "landing", "transactions", SATURDAY, "p", lines)
        result = load(con, root / "landing", "transactions", [SATURDAY])
        assert result.quarantined_rows == sum(1 for _, a in rows if a > 1_000_000)  # contract ceiling
        expected: dict[str, Decimal] = {}
        for currency, amount in rows:
            if amount <= 1_000_000:
                expected[currency] = expected.get(currency, Decimal(0)) + amount
        stored = dict(con.execute("SELECT currency, sum(amount) FROM core.transactions GROUP BY 1").fetchall())
        assert stored == expected
    finally:
        con.close()


def test_money_config_rejects_nonsense():
    with pytest.raises(ValueError):
        MoneyConfig(reporting_currency="DOLLARS")
    with pytest.raises(ValueError):
        MoneyConfig(max_staleness_days=-1)


def test_missing_rates_are_reported_by_currency_and_day(warehouse):
    from fintech_dataops.lib.money.core_columns import missing_rates

    con, landing_dir = warehouse
    assert missing_rates(con)["missing"] == 0  # no table yet: nothing to report
    land_day(landing_dir, load_bundled_history(), FRIDAY)
    load(con, landing_dir, "fx_rates", [FRIDAY])
    landing.land_lines(landing_dir, "transactions", SATURDAY, "b1", [
        tx("T1", 700, "GBP", "2026-10-24T10:00:00Z"), tx("T2", 100, "ARS", "2026-10-24T11:00:00Z")])
    load(con, landing_dir, "transactions", [SATURDAY])
    found = missing_rates(con)
    assert found["rows"] == 2 and found["missing"] == 1
    assert found["by_currency_day"] == [{"currency": "ARS", "day": "2026-10-24", "transactions": 1}]
