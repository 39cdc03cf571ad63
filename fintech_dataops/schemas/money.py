"""pandera contract of the ``fx_rates`` feed, registered with the feed registry on import.

Rates are validated like every feed: a rate that is not a positive number, a currency that is not
an ISO 4217 code, a base other than EUR, a date in the future, a duplicated (date, currency) — each
is quarantined in ``quarantine.fx_rates`` with its reason instead of converting anything.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from fintech_dataops.lib.money.feed import FX_RATES_FEED
from fintech_dataops.lib.money.rates import BASE_CURRENCY
from fintech_dataops.schemas.feeds import FeedModel, not_in_future
from fintech_dataops.schemas.registry import feed_for, register_feed

# An ECB rate is units per 1 EUR: IDR ~20,000, KWD ~0.33. Outside this band it is a data error.
MIN_RATE, MAX_RATE = 1e-4, 1e6


class FxRatesSchema(FeedModel):
    rate_id: Series[str] = pa.Field(unique=True, str_length={"min_value": 1, "max_value": 64},
                                    description="Rate id: <rate_date>:<base>:<currency> (unique)")
    rate_date: Series[pa.typing.DateTime] = pa.Field(description="The day the rate applies to (ECB publication day)")
    base_currency: Series[str] = pa.Field(str_matches=f"^{BASE_CURRENCY}$", description="Base currency (EUR for ECB rates)")
    currency: Series[str] = pa.Field(str_matches=r"^[A-Z]{3}$", description="ISO 4217 code of the quoted currency")
    rate: Series[float] = pa.Field(in_range={"min_value": MIN_RATE, "max_value": MAX_RATE},
                                   description="Units of `currency` per 1 `base_currency` (DECIMAL, as published)")
    source: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 120},
                                   description="Who published it: ECB, a central-bank peg, or `simulated` (demo only)")
    published_time: Series[pa.typing.DateTime] = pa.Field(description="When the rate was published (UTC)")

    @pa.check("published_time", name="not_in_future")
    def _published(cls, s: Series[pd.Timestamp]) -> Series[bool]:
        return not_in_future(s)

    @pa.check("rate_date", name="not_in_future")
    def _rate_date(cls, s: Series[pd.Timestamp]) -> Series[bool]:
        return not_in_future(s)


def register_money_feeds() -> None:
    """Idempotent: registers the fx_rates feed with its contract."""
    try:
        if feed_for(FX_RATES_FEED.name) is FX_RATES_FEED:
            return
    except KeyError:
        pass
    register_feed(FX_RATES_FEED, FxRatesSchema, replace=True)


register_money_feeds()
