"""KPI assets ``["kpis", <name>]`` and ``["kpis", "history"]``.

Each KPI asset computes one ``lib.analytics.kpis`` function, replaces the one-row table
``kpis.<name>`` and records ``value`` (a float) plus its components as metadata,
so the Dagster UI plots the KPI over materializations. ``kpis.history`` appends
every KPI's current row per run, for trends in SQL.
"""

import dagster as dg

from fintech_dataops.defs.analytics.marts import upstream_keys
from fintech_dataops.defs.automation import ON_INPUT_CHANGE
from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL
from fintech_dataops.defs.money_resource import MoneyResource
from fintech_dataops.defs.resources import WarehouseResource
from fintech_dataops.lib.ingestion.feeds import FEED_NAMES

KPI_SOURCES: dict[str, list[str]] = {
    "value_at_risk_protected": ["fraud.alerts", "core.fraud_labels", "credit.loan_decisions"],
    "scorable_uplift": ["credit.scores"],
    "dq_score": ["quality.dq_scores", "quality.unroutable_files"],
    "freshness": ["core.transactions", "fraud.alerts"],
    "ingest_rate": [f"raw.{feed}" for feed in FEED_NAMES] + ["realtime.batch_latency"],
    "latency": ["realtime.batch_latency"],
}
KPI_DESCRIPTIONS = {
    "value_at_risk_protected": "North Star (reporting currency, exact DECIMAL in `amount`): blocked transactions confirmed as fraud by labels + loans approved "
                               "to customers a traditional model could not score.",
    "scorable_uplift": "Percentage points of customers scorable only thanks to alternative data.",
    "dq_score": "Data-quality score (%) of the latest day: valid rows / raw rows over all feeds (target 99.9).",
    "freshness": "Seconds since the newest transaction in core.transactions (target 5 s).",
    "ingest_rate": "Events per second of the latest raw-layer loads (target 10k EPS); online rate when measured.",
    "latency": "p99 event → alert latency (ms) of the near-real-time path (target 1000 ms).",
}


def _metadata(kpi) -> dict:
    metadata: dict = {"unit": kpi.unit}
    if kpi.value is not None:
        metadata["value"] = dg.MetadataValue.float(float(kpi.value))
    else:
        metadata["status"] = kpi.note or "not measured yet"
    if kpi.target is not None:
        metadata["target"] = dg.MetadataValue.float(float(kpi.target))
    if kpi.met is not None:
        metadata["met_target"] = kpi.met
    if kpi.note:
        metadata["note"] = kpi.note
    for key, value in kpi.details.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, (int, float)):
            metadata[key] = dg.MetadataValue.float(float(value))
        else:
            metadata[key] = str(value)
    return metadata


def _raw_loads(context: dg.AssetExecutionContext):
    from fintech_dataops.lib.analytics.kpis import LoadMeasurement

    loads = []
    for feed in FEED_NAMES:
        event = context.instance.get_latest_materialization_event(dg.AssetKey(["raw", feed]))
        materialization = event.asset_materialization if event else None
        if materialization is None:
            continue
        rows = materialization.metadata.get("dagster/row_count")
        seconds = materialization.metadata.get("seconds")
        if rows is not None and seconds is not None:
            loads.append(LoadMeasurement(feed, int(rows.value), float(seconds.value)))
    return loads


def build_kpi_asset(name: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["kpis", name],
        deps=upstream_keys(KPI_SOURCES[name]),
        group_name="analytics",
        kinds={"duckdb"},
        pool=WAREHOUSE_WRITE_POOL,
        description=KPI_DESCRIPTIONS[name],
        automation_condition=ON_INPUT_CHANGE,
        metadata={"dagster/table_name": f"kpis.{name}"},
    )
    def kpi_asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource, money: MoneyResource):
        from fintech_dataops.lib.analytics import kpis

        compute = kpis.KPI_FUNCTIONS[name]
        with warehouse.get_connection() as con:
            if name == "ingest_rate":
                value = compute(con, _raw_loads(context))
            elif name == "value_at_risk_protected":
                value = compute(con, money.config.reporting_currency)
            else:
                value = compute(con)
            kpis.write_kpi(con, value)
        context.log.info(f"kpis.{name} = {value.value} {value.unit} {value.note}".rstrip())
        return dg.MaterializeResult(metadata={"dagster/row_count": 1, **_metadata(value)})

    return kpi_asset


def build_kpi_assets() -> list[dg.AssetsDefinition]:
    return [build_kpi_asset(name) for name in KPI_SOURCES]


@dg.asset(
    key=["kpis", "history"],
    deps=[dg.AssetKey(["kpis", name]) for name in KPI_SOURCES],
    group_name="analytics",
    kinds={"duckdb"},
    pool=WAREHOUSE_WRITE_POOL,
    description="Every KPI's value per run (append-only; a rerun of the same run replaces its rows).",
    automation_condition=ON_INPUT_CHANGE,
    metadata={"dagster/table_name": "kpis.history"},
)
def kpi_history(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from fintech_dataops.lib.analytics.kpis import append_history

    with warehouse.get_connection() as con:
        appended = append_history(con, list(KPI_SOURCES), context.run.run_id)
        total = con.execute("SELECT count(*) FROM kpis.history").fetchone()[0] if appended else 0
    return dg.MaterializeResult(metadata={"appended_rows": appended, "dagster/row_count": int(total)})
