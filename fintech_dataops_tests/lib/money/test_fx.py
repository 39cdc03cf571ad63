"""Reference rates and conversion into the reporting currency: the date rule, staleness, SQL = numpy."""

import datetime as dt
import io
import zipfile
from decimal import ROUND_HALF_EVEN, Decimal

import duckdb
import numpy as np
import pandas as pd
import pytest

from fintech_dataops.lib.money.currencies import fits_minor_units, minor_units
from fintech_dataops.lib.money.fx import FxRates, MoneyConfig, reporting_amount_sql
from fintech_dataops.lib.money.rates import day_records, load_bundled_history, parse_history

FRIDAY = dt.date(2026, 10, 23)
SUNDAY = dt.date(2026, 10, 25)
MONDAY = dt.date(2026, 10, 26)


@pytest.fixture(scope="module")
def history():
    return load_bundled_history()


@pytest.fixture(scope="module")
def fx(history):
    return FxRates.from_history(history)


def days(*values) -> np.ndarray:
    return np.array([np.datetime64(v, "D") for v in values])


def test_bundled_ecb_history_is_the_real_one(history):
    # The ECB's first euro fixing (4 Jan 1999): 1 EUR = 1.1789 USD.
    assert history.days[dt.date(1999, 1, 4)]["USD"] == "1.1789"
    assert history.last_day >= dt.date(2026, 10, 1)
    assert SUNDAY not in history.days and FRIDAY in history.days


def test_minor_units_are_iso_4217():
    assert (minor_units("JPY"), minor_units("USD"), minor_units("EUR"), minor_units("KWD"), minor_units("BHD")) == \
        (0, 2, 2, 3, 3)
    assert fits_minor_units("800.00", "USD") and not fits_minor_units("800.001", "USD")
    assert fits_minor_units("900", "JPY") and not fits_minor_units("900.5", "JPY")
    assert fits_minor_units("1.234", "BHD") and not fits_minor_units("1.2345", "BHD")


def test_high_value_examples_convert_as_finance_expects(fx, history):
    quotes = history.days[FRIDAY]
    usd, gbp, eur_usd = float(quotes["USD"]), float(quotes["GBP"]), float(quotes["USD"])
    amounts, missing = fx.convert([700, 760, 900, 800.00], ["GBP", "EUR", "JPY", "USD"], days(*[FRIDAY] * 4))
    assert not missing.any()
    assert amounts[0] == round(700 / gbp * usd, 2) and amounts[0] > 800
    assert amounts[1] == round(760 * eur_usd, 2) and amounts[1] > 800
    assert amounts[2] < 10          # JPY 900 is a few dollars
    assert amounts[3] == 800.00     # USD needs no rate, and 800.00 is not above 800


def test_weekend_uses_fridays_rate_and_monday_its_own(fx, history):
    assert fx.rate_on("GBP", SUNDAY) == float(history.days[FRIDAY]["GBP"])
    assert fx.rate_on("GBP", MONDAY) == float(history.days[MONDAY]["GBP"])
    sunday, _ = fx.convert([700], ["GBP"], days(SUNDAY))
    friday, _ = fx.convert([700], ["GBP"], days(FRIDAY))
    assert sunday[0] == friday[0]


def test_a_rate_older_than_the_staleness_limit_is_missing(history):
    last = history.last_day
    strict = FxRates.from_history(history, MoneyConfig(max_staleness_days=3))
    values, missing = strict.convert([100, 100, 100], ["GBP", "GBP", "USD"],
                                     days(last + dt.timedelta(days=3), last + dt.timedelta(days=4), last + dt.timedelta(days=40)))
    assert list(missing) == [False, True, False]  # USD into USD never needs a rate
    assert np.isnan(values[1]) and values[2] == 100


def test_unknown_currency_and_days_before_the_history_are_missing(fx):
    _, missing = fx.convert([1, 1], ["XTS", "GBP"], days("2026-10-23", "1990-01-01"))
    assert missing.all()


def test_other_reporting_currencies_round_to_their_minor_units(history):
    jpy = FxRates.from_history(history, MoneyConfig(reporting_currency="JPY"))
    value, missing = jpy.convert([10.0], ["USD"], days(FRIDAY))
    assert not missing[0] and value[0] == round(value[0])
    eur = FxRates.from_history(history, MoneyConfig(reporting_currency="EUR"))
    value, _ = eur.convert([1.1789], ["USD"], days("1999-01-04"))
    assert value[0] == 1.00


def test_the_pegged_three_decimal_currency_converts_at_its_peg(fx):
    value, missing = fx.convert([37.6], ["BHD"], days(FRIDAY))
    assert not missing[0] and value[0] == 100.00  # 0.376 BHD per USD (Central Bank of Bahrain)


def test_sql_twin_gives_the_same_cents_as_numpy(fx, history):
    rng = np.random.default_rng(7)
    n = 5_000
    currencies = rng.choice(["USD", "EUR", "GBP", "JPY", "BHD", "CHF", "XTS"], n)
    amounts = np.round(rng.uniform(0.01, 5_000, n), 2)
    amounts = np.where(currencies == "JPY", np.round(amounts), amounts)
    stamps = pd.Timestamp("2026-09-01") + pd.to_timedelta(rng.integers(0, 75 * 86_400, n), unit="s")
    expected, missing = fx.convert(amounts, currencies, stamps.to_numpy().astype("datetime64[D]"))
    con = duckdb.connect()
    rates = pd.DataFrame([r for d in history.days if d >= dt.date(2026, 8, 1) for r in day_records(history, d)])
    rates["rate_date"] = pd.to_datetime(rates["rate_date"]).dt.date
    con.execute("CREATE TABLE fx AS SELECT CAST(rate_date AS DATE) rate_date, currency, "
                "CAST(CAST(rate AS VARCHAR) AS DECIMAL(18,8)) rate FROM rates")
    frame = pd.DataFrame({"i": np.arange(n), "amount": amounts, "currency": currencies, "event_time": stamps})
    con.register("tx", frame)
    converted = reporting_amount_sql(
        "SELECT i, CAST(amount AS DECIMAL(18,3)) AS amount, currency, event_time FROM tx", rates_sql="fx")
    got = con.execute(f"SELECT i, CAST(amount_reporting AS DOUBLE) FROM ({converted}) ORDER BY i").fetchnumpy()
    sql_values = list(got.values())[1]
    sql_missing = np.isnan(sql_values) if sql_values.dtype.kind == "f" else np.asarray(pd.isna(sql_values))
    assert (sql_missing == missing).all()
    assert np.array_equal(np.asarray(sql_values, dtype="float64")[~missing], expected[~missing])
    assert missing.any() and (~missing).sum() > n * 0.5


def _ecb_csv(rows: str) -> bytes:
    return ("Date,USD,JPY,GBP,\n" + rows).encode()


def test_parse_history_reads_zip_and_csv_and_skips_na():
    csv = _ecb_csv("2026-11-27,1.0500,160.10,0.8400,\n2026-11-26,1.0400,N/A,0.8300,\n")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("eurofxref-hist.csv", csv)
    for payload in (csv, buffer.getvalue()):
        history = parse_history(payload)
        assert history.days[dt.date(2026, 11, 27)] == {"USD": "1.0500", "JPY": "160.10", "GBP": "0.8400"}
        assert "JPY" not in history.days[dt.date(2026, 11, 26)]
    daily = parse_history(b"Date, USD, JPY, \n27 November 2026, 1.0500, 160.10, \n")
    assert daily.days == {dt.date(2026, 11, 27): {"USD": "1.0500", "JPY": "160.10"}}
    with pytest.raises(ValueError):
        parse_history(b"<html>not rates</html>")


# Exactness: amounts are thousandths (DECIMAL(18,3)), rates 1e-8 units (DECIMAL(18,8)); the conversion
# is a fraction of integers rounded half-to-even, in numpy and in SQL alike.
TIE_DAY = dt.date(2026, 10, 23)
_EXACT_RATES = {"GBP": "0.8", "USD": "1.1", "JPY": "160.1"}


def _exact_fx(reporting: str = "USD") -> FxRates:
    rates = pd.DataFrame({"rate_date": [TIE_DAY] * len(_EXACT_RATES), "currency": list(_EXACT_RATES),
                          "rate": list(_EXACT_RATES.values())})
    return FxRates(rates, MoneyConfig(reporting_currency=reporting))


def _expected_minor(amount: Decimal, currency: str, reporting: str = "USD") -> int:
    """The reference: Python decimal arithmetic (exact here), rounded half-to-even to minor units."""
    rate = {**{k: Decimal(v) for k, v in _EXACT_RATES.items()}, "EUR": Decimal(1)}
    value = amount if currency == reporting else amount / rate[currency] * rate[reporting]
    return int((value * 10 ** minor_units(reporting)).to_integral_value(rounding=ROUND_HALF_EVEN))


def _sql_minor(amounts: list[Decimal], currencies: list[str], reporting: str = "USD") -> list[int]:
    con = duckdb.connect()
    con.execute("CREATE TABLE fx (rate_date DATE, currency VARCHAR, rate DECIMAL(18,8))")
    con.executemany("INSERT INTO fx VALUES (?, ?, ?)", [(TIE_DAY, c, r) for c, r in _EXACT_RATES.items()])
    con.execute("CREATE TABLE tx (i INTEGER, amount DECIMAL(18,3), currency VARCHAR, event_time TIMESTAMP)")
    con.executemany("INSERT INTO tx VALUES (?, ?, ?, ?)",
                    [(i, a, c, dt.datetime(2026, 10, 23, 12)) for i, (a, c) in enumerate(zip(amounts, currencies))])
    sql = reporting_amount_sql("SELECT * FROM tx", rates_sql="fx", config=MoneyConfig(reporting_currency=reporting))
    rows = con.execute(f"SELECT amount_reporting FROM ({sql}) ORDER BY i").fetchall()
    return [int(value.scaleb(minor_units(reporting))) for (value,) in rows]


def _on_tie_day(n: int) -> np.ndarray:
    return np.array([np.datetime64(TIE_DAY, "D")] * n)


def test_half_cent_ties_round_half_to_even_in_numpy_and_sql():
    # x.xx5 USD exactly: from GBP (× 1.375), and USD amounts finer than a cent (× 1), both signs
    targets = [Decimal(c).scaleb(-2) + Decimal("0.005") for c in range(0, 30000, 3)]
    gbp = [(t / Decimal("1.375")).quantize(Decimal("0.001")) for t in targets]
    gbp = [a for a in gbp if a * Decimal("1.375") * 100 % 1 == Decimal("0.5")]  # the exact half-cent ties
    amounts = gbp + [-a for a in gbp] + [Decimal("0.125"), Decimal("0.135"), Decimal("-2.345"), Decimal("1.005")]
    currencies = ["GBP"] * (2 * len(gbp)) + ["USD"] * 4
    expected = [_expected_minor(a, c) for a, c in zip(amounts, currencies)]
    assert len(gbp) > 50 and expected[-4:] == [12, 14, -234, 100]  # 0.125 → 0.12, 0.135 → 0.14: to even
    fx = _exact_fx()
    minor, missing = fx.convert_minor([float(a) for a in amounts], currencies, _on_tie_day(len(amounts)))
    assert not missing.any() and minor.tolist() == expected
    values, _ = fx.convert([float(a) for a in amounts], currencies, _on_tie_day(len(amounts)))
    assert values.tolist() == [float(Decimal(m).scaleb(-2)) for m in expected]
    assert _sql_minor(amounts, currencies) == expected
    # what float64 did (amount / rate × rate, then numpy's round): the ties land on either side
    old = np.round(np.array([float(a) for a in gbp]) / 0.8 * 1.1, 2)
    assert (np.rint(old * 100).astype(int) != np.array(expected[:len(gbp)])).any()


def test_large_amounts_convert_to_the_exact_cent_where_float64_does_not():
    rng = np.random.default_rng(11)
    amounts = [Decimal(int(m)).scaleb(-3) for m in rng.integers(10 ** 11, 10 ** 17, 400)]  # up to 10^14 GBP
    amounts += [Decimal("123456789012345.678"), Decimal("-99999999999999.999")]
    currencies = ["GBP"] * len(amounts)
    expected = [_expected_minor(a, "GBP") for a in amounts]
    minor, missing = _exact_fx().convert_minor(np.array(amounts, dtype=object), currencies,
                                               _on_tie_day(len(amounts)))
    assert not missing.any() and minor.tolist() == expected
    assert _sql_minor(amounts, currencies) == expected
    old = np.round(np.array([float(a) for a in amounts]) / 0.8 * 1.1, 2)
    assert sum(round(o * 100) != e for o, e in zip(old, expected)) > 10   # float64 misses cents here
    # the same amounts given as float64 (exact thousandths below 2^53 / 1000): the same cents
    small = [i for i, a in enumerate(amounts) if abs(a) < Decimal(2 ** 53) / 1000]
    as_float, _ = _exact_fx().convert_minor([float(amounts[i]) for i in small], ["GBP"] * len(small),
                                            _on_tie_day(len(small)))
    assert len(small) > 10 and as_float.tolist() == [expected[i] for i in small]


def test_zero_decimal_reporting_currency_rounds_ties_to_even():
    fx = _exact_fx("JPY")
    amounts = [Decimal("0.5"), Decimal("1.5"), Decimal("2.5"), Decimal("-0.5")]  # JPY into JPY: half yen
    amounts_gbp = [Decimal("0.004"), Decimal("1.000")]
    currencies = ["JPY"] * 4 + ["GBP"] * 2
    expected = [_expected_minor(a, c, "JPY") for a, c in zip(amounts + amounts_gbp, currencies)]
    assert expected[:4] == [0, 2, 2, 0]
    minor, _ = fx.convert_minor([float(a) for a in amounts + amounts_gbp], currencies, _on_tie_day(6))
    assert minor.tolist() == expected == _sql_minor(amounts + amounts_gbp, currencies, "JPY")
