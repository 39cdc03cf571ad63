"""The ``fx_rates`` landing feed: one record per (rate date, currency), units of currency per 1 EUR."""

from __future__ import annotations

from dataclasses import dataclass, field

from fintech_dataops.lib.ingestion.feeds import Feed

RATE_SQL_TYPE = "DECIMAL(18,8)"


@dataclass(frozen=True)
class MoneyFeed(Feed):
    types: tuple[tuple[str, str], ...] = field(default=())

    @property
    def core_types(self) -> dict[str, str]:
        explicit = dict(self.types)
        return {name: explicit.get(name, "VARCHAR") for name in self.fields}


FX_RATES_FEED = MoneyFeed(
    name="fx_rates",
    id_field="rate_id",
    time_field="published_time",
    fields=("rate_id", "rate_date", "base_currency", "currency", "rate", "source", "published_time"),
    description=(
        "Daily FX reference rates (ECB euro reference rates by default): units of `currency` per 1 EUR, "
        "versioned by the date they apply to."
    ),
    types=(("rate_date", "DATE"), ("rate", RATE_SQL_TYPE), ("published_time", "TIMESTAMP")),
)
