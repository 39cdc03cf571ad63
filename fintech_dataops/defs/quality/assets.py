"""Core layer: one daily-partitioned asset per feed, ``core.<feed>`` + ``quarantine.<feed>``."""

import dagster as dg
from pydantic import Field

from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL, daily_partitions, per_partition_metadata
from fintech_dataops.defs.quality.checks import core_check_specs, evaluate_core_checks
from fintech_dataops.defs.money_resource import MoneyResource
from fintech_dataops.defs.resources import WarehouseResource
from fintech_dataops.lib.ingestion.feeds import LINEAGE_COLUMNS, Feed
from fintech_dataops.lib.quality.core_checks import QuarantineThresholds
from fintech_dataops.lib.tenancy.settings import current_settings

LINEAGE_DESCRIPTIONS = {
    "partition_date": "Landing-zone day of the raw line",
    "source_file": "Landed file, relative to the landing zone",
    "line_number": "1-based line in the file (raw lineage)",
}


_THRESHOLDS = current_settings().quarantine_thresholds(QuarantineThresholds())  # a tenant's own, else the platform's
# Measured per day: over a range (one run), they are reported as <name>_over_range, not as each day's.
PER_DAY_MEASURES = ("dagster/row_count", "raw_rows", "valid_rows", "quarantined_rows", "dq_score",
                    "quarantine_rate", "rows_per_second")


class CoreLoadConfig(dg.Config):
    quarantine_warn_rate: float = Field(default=_THRESHOLDS.warn_rate,
                                        description="quarantine_rate check WARNs when a day's quarantined share is above this")
    quarantine_error_rate: float = Field(default=_THRESHOLDS.error_rate,
                                         description="quarantine_rate check ERRORs when a day's quarantined share is above this")
    quarantine_min_lines: int = Field(default=_THRESHOLDS.min_lines, ge=1,
                                      description="quarantine_rate judges only days with at least this many quarantined lines")

    def thresholds(self) -> QuarantineThresholds:
        return QuarantineThresholds(self.quarantine_warn_rate, self.quarantine_error_rate, self.quarantine_min_lines)


def feed_thresholds(feed: Feed) -> QuarantineThresholds:
    """The feed's declared quarantine thresholds, else the tenant's / platform's."""
    return QuarantineThresholds(
        feed.quarantine_warn_rate if feed.quarantine_warn_rate is not None else _THRESHOLDS.warn_rate,
        feed.quarantine_error_rate if feed.quarantine_error_rate is not None else _THRESHOLDS.error_rate,
        _THRESHOLDS.min_lines,
    )


def core_load_config(feed: Feed) -> type[CoreLoadConfig]:
    """``CoreLoadConfig`` whose defaults are the feed's declared thresholds (run config still overrides)."""
    declared = feed_thresholds(feed)
    if declared == _THRESHOLDS:
        return CoreLoadConfig
    return type(f"CoreLoadConfig_{feed.name}", (CoreLoadConfig,), {
        "__annotations__": {"quarantine_warn_rate": float, "quarantine_error_rate": float},
        "quarantine_warn_rate": Field(default=declared.warn_rate, description=f"declared by feed {feed.name}"),
        "quarantine_error_rate": Field(default=declared.error_rate, description=f"declared by feed {feed.name}"),
    })


def core_column_schema(feed: Feed) -> dg.TableSchema:
    from fintech_dataops.lib.money.core_columns import REPORTING_SUFFIX, reporting_fields
    from fintech_dataops.lib.money.currencies import MONEY_SQL_TYPE

    descriptions = feed.descriptions  # from the feed's declaration
    return dg.TableSchema(columns=[
        *(dg.TableColumn(name, typ, description=descriptions.get(name, "")) for name, typ in feed.core_types.items()),
        *(dg.TableColumn(name, typ, description=LINEAGE_DESCRIPTIONS[name]) for name, typ in LINEAGE_COLUMNS.items()),
        *(dg.TableColumn(name + REPORTING_SUFFIX, MONEY_SQL_TYPE,
                         description=f"`{name}` in the reporting currency at the core.fx_rates rate of the event's day "
                                     "(or the latest before it, within the staleness limit); NULL = rate missing")
          for name in reporting_fields(feed)),
    ])


def _preview(result) -> dg.MetadataValue:
    """Quarantined lines per failed check, as a table (empty: no quarantined lines)."""
    import pandas as pd

    from fintech_dataops.defs.previews import table_preview

    return table_preview(pd.DataFrame({"check": list(result.failed_checks),
                                       "quarantined_lines": [int(n) for n in result.failed_checks.values()]}))


def quarantine_spec(feed: Feed, group_name: str = "quality") -> dg.AssetSpec:
    """``quarantine/<feed>``: the table of rejected lines, written by ``core/<feed>`` in the same step.

    Not a step of its own (core and quarantine are one atomic write): the core asset reports its
    materialization, per partition, with that day's quarantined line count.
    """
    return dg.AssetSpec(
        key=["quarantine", feed.name],
        deps=[dg.AssetKey(["raw", feed.name])],
        partitions_def=daily_partitions if feed.partitioning == "daily" else None,
        group_name=group_name,
        kinds={"duckdb"},
        description=(
            f"Lines of raw.{feed.name} that failed parsing or the contract, with the original text, "
            f"failed_checks, failed_columns and a human reason. Written by core/{feed.name} in the same "
            "step (count(raw) = count(core) + count(quarantine) is its reconciliation check)."
        ),
        metadata={"dagster/table_name": f"quarantine.{feed.name}"},
    )


def _quarantine_materializations(feed: Feed, result, days: list[str] | None) -> list[dg.AssetMaterialization]:
    key = dg.AssetKey(["quarantine", feed.name])
    if days is None:  # every landed day: one unpartitioned table
        return [dg.AssetMaterialization(asset_key=key, metadata={
            "dagster/row_count": result.quarantined_rows, "failed_checks": dg.MetadataValue.json(result.failed_checks)})]
    return [dg.AssetMaterialization(asset_key=key, partition=day, metadata={
        "dagster/row_count": result.per_day[day].quarantined_rows if day in result.per_day else 0,
        "raw_rows": result.per_day[day].raw_rows if day in result.per_day else 0,
    }) for day in days]


def build_core_asset(feed: Feed, group_name: str = "quality") -> dg.AssetsDefinition:
    """The core asset of a declared feed: daily partitions, or every landed day (``feed.partitioning``)."""
    from fintech_dataops.lib.money.core_columns import reporting_fields

    key = dg.AssetKey(["core", feed.name])
    # Amounts in a currency are converted at the day's reference rates (the money domain's core.fx_rates).
    fx = [dg.AssetKey(["core", "fx_rates"])] if reporting_fields(feed) else []
    daily = feed.partitioning == "daily"
    Config = core_load_config(feed)

    @dg.asset(
        key=key,
        deps=[dg.AssetKey(["raw", feed.name]), *fx],
        partitions_def=daily_partitions if daily else None,
        backfill_policy=dg.BackfillPolicy.single_run() if daily else None,
        group_name=group_name,
        kinds={"duckdb", "pandas"},
        pool=WAREHOUSE_WRITE_POOL,
        check_specs=core_check_specs(feed, key),
        description=(
            f"{feed.description} Typed rows that pass the pandera contract; failing lines go to "
            f"quarantine.{feed.name} with their checks, columns and reason."
        ),
        metadata={"dagster/column_schema": core_column_schema(feed), "dagster/table_name": f"core.{feed.name}"},
    )
    def core_feed(context: dg.AssetExecutionContext, config: Config, warehouse: WarehouseResource,
                  money: MoneyResource):
        if not daily:
            from fintech_dataops.defs.quality.checks import unpartitioned_core_events
            from fintech_dataops.lib.ingestion.landed_days import load_core_feed

            with warehouse.get_connection() as con:
                loaded = load_core_feed(con, feed.name, money=money.config)
                events = unpartitioned_core_events(con, feed, key, loaded, config.thresholds())
            yield events[0]
            for materialization in _quarantine_materializations(feed, loaded, None):
                context.log_event(materialization)
            yield from events[1:]
            return

        from fintech_dataops.lib.quality.core_gate import load_core_partitions

        days = context.partition_keys
        with warehouse.get_connection() as con:
            result = load_core_partitions(con, feed.name, days, money=money.config)
            checks = evaluate_core_checks(con, feed, days, config.thresholds())
        context.log.info(
            f"core.{feed.name}: {result.raw_rows:,} raw → {result.valid_rows:,} valid + "
            f"{result.quarantined_rows:,} quarantined (DQ {result.dq_score:.2f} %) in {result.seconds:.2f}s"
        )
        yield dg.MaterializeResult(
            metadata=per_partition_metadata({
                "dagster/row_count": result.valid_rows,
                "raw_rows": result.raw_rows,
                "valid_rows": result.valid_rows,
                "quarantined_rows": result.quarantined_rows,
                "dq_score": float(result.dq_score),
                "quarantine_rate": float(result.quarantine_rate),
                "dq_score_per_day": dg.MetadataValue.json({d: q.dq_score for d, q in result.per_day.items()}),
                "failed_checks": dg.MetadataValue.json(result.failed_checks),
                "seconds": round(result.seconds, 3),
                "rows_per_second": round(result.rows_per_second),
                "timings": dg.MetadataValue.json({k: round(v, 3) for k, v in result.timings.items()}),
                "quarantine_preview": _preview(result),
            }, days, measured_over_days=PER_DAY_MEASURES)
        )
        for materialization in _quarantine_materializations(feed, result, days):
            context.log_event(materialization)
        yield from checks

    return core_feed


def build_core_assets(feeds: list[Feed] | None = None) -> list[dg.AssetsDefinition]:
    from fintech_dataops.defs.ingestion.assets import partner_feeds

    return [build_core_asset(feed) for feed in (feeds or partner_feeds())]


def build_quarantine_specs(feeds: list[Feed] | None = None) -> list[dg.AssetSpec]:
    from fintech_dataops.defs.ingestion.assets import partner_feeds

    return [quarantine_spec(feed) for feed in (feeds or partner_feeds())]
