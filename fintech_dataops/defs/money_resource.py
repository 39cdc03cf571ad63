"""The money resource: reporting currency, rate staleness and where reference rates come from."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from fintech_dataops.lib.money.fx import MoneyConfig

_DEFAULTS = MoneyConfig()


class MoneyResource(dg.ConfigurableResource):
    """Set ``rates_url`` (e.g. ``dg.EnvVar("FX_RATES_URL")``) to pull live ECB rates; empty = the bundled history."""

    reporting_currency: str = Field(default=_DEFAULTS.reporting_currency,
                                    description="ISO 4217 currency every rule, KPI and mart reports in")
    max_staleness_days: int = Field(default=_DEFAULTS.max_staleness_days,
                                    description="A reference rate older than this many days counts as missing")
    rates_url: str = Field(default=_DEFAULTS.rates_url,
                           description="ECB reference-rate CSV/zip URL (eurofxref-hist.zip); empty = bundled ECB history")

    @property
    def config(self) -> MoneyConfig:
        return MoneyConfig(reporting_currency=self.reporting_currency.upper(),
                           max_staleness_days=self.max_staleness_days, rates_url=self.rates_url)

    def history(self):
        from fintech_dataops.lib.money.rates import fetch_history, load_bundled_history

        return fetch_history(self.rates_url) if self.rates_url else load_bundled_history()

