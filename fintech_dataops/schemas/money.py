"""The ``fx_rates`` feed, declared once: one record per (rate date, currency), units of currency per 1 EUR.

Rates are validated like every feed: a rate that is not a positive number, a currency that is not
an ISO 4217 code, a base other than EUR, a date in the future, a duplicated (date, currency) — each
is quarantined in ``quarantine.fx_rates`` with its reason instead of converting anything.
"""

from __future__ import annotations

from fintech_dataops.schemas.declaration import DATE, NOT_IN_FUTURE, TIMESTAMP, VARCHAR, Column, Feed

BASE_CURRENCY = "EUR"
RATE_SQL_TYPE = "DECIMAL(18,8)"
# An ECB rate is units per 1 EUR: IDR ~20,000, KWD ~0.33. Outside this band it is a data error.
MIN_RATE, MAX_RATE = 1e-4, 1e6

FX_RATES_FEED = Feed(
    name="fx_rates",
    id_field="rate_id",
    time_field="published_time",
    domain="money",
    description=(
        "Daily FX reference rates (ECB euro reference rates by default): units of `currency` per 1 EUR, "
        "versioned by the date they apply to."
    ),
    columns=(
        Column("rate_id", VARCHAR, "Rate id: <rate_date>:<base>:<currency> (unique)", unique=True, str_length=(1, 64)),
        Column("rate_date", DATE, "The day the rate applies to (ECB publication day)", rules=(NOT_IN_FUTURE,)),
        Column("base_currency", VARCHAR, "Base currency (EUR for ECB rates)", str_matches=f"^{BASE_CURRENCY}$"),
        Column("currency", VARCHAR, "ISO 4217 code of the quoted currency", str_matches="^[A-Z]{3}$"),
        Column("rate", RATE_SQL_TYPE, "Units of `currency` per 1 `base_currency` (DECIMAL, as published)", in_range=(MIN_RATE, MAX_RATE)),
        Column("source", VARCHAR, "Who published it: ECB, a central-bank peg, or `simulated` (demo only)", str_length=(1, 120)),
        Column("published_time", TIMESTAMP, "When the rate was published (UTC)", rules=(NOT_IN_FUTURE,)),
    ),
)
