"""The analysts' dispositions: landed case actions → raw → core → ``fraud.dispositions`` → KPI.

The monitor (``lib/monitor``) lands every case action as a ``fraud_dispositions`` file; from there
it is a feed like any other (lossless raw, pandera contract, quarantine, DQ score, blocking checks).
``core.fraud_dispositions`` is also a fraud label source (``lib.open_banking.tables.fraud_labels_sql``),
so the fraud assets depend on it.
"""

import dagster as dg

from fintech_dataops.defs.automation import ON_INPUT_CHANGE
from fintech_dataops.defs.ingestion.assets import build_feed_assets
from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL
from fintech_dataops.defs.resources import DataDirResource, WarehouseResource
from fintech_dataops.lib.monitor.cases import DISPOSITIONS_FEED

GROUP = "monitor"
RAW_KEY = dg.AssetKey(["raw", DISPOSITIONS_FEED.name])
CORE_KEY = dg.AssetKey(["core", DISPOSITIONS_FEED.name])
DISPOSITIONS_KEY = dg.AssetKey(["fraud", "dispositions"])


@dg.asset(
    key=DISPOSITIONS_KEY, deps=[CORE_KEY], group_name=GROUP, kinds={"duckdb"}, pool=WAREHOUSE_WRITE_POOL,
    automation_condition=ON_INPUT_CHANGE,
    description="Every closed case (disposition confirmed_fraud / legitimate / unsure, who, when, note, time from "
                "alert to disposition; is_current = the latest close of the transaction), append-only.",
    metadata={"dagster/table_name": "fraud.dispositions"},
)
def dispositions(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from fintech_dataops.lib.monitor.dispositions import analyst_precision, build_dispositions

    with warehouse.get_connection() as con:
        rows = build_dispositions(con)
        kpi = analyst_precision(con) if rows else None
    metadata = {"dagster/row_count": rows}
    if kpi is not None:
        metadata.update({k: v for k, v in kpi.details.items() if v is not None})
        if kpi.value is not None:
            metadata["analyst_precision_pct"] = dg.MetadataValue.float(kpi.value)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=["kpis", "analyst_precision"], deps=[DISPOSITIONS_KEY], group_name=GROUP, kinds={"duckdb"},
    pool=WAREHOUSE_WRITE_POOL, automation_condition=ON_INPUT_CHANGE,
    description="Analyst precision (%): confirmed_fraud ÷ closed over current dispositions; time-to-disposition "
                "p50/p90 (s, alert → disposition) in its details.",
    metadata={"dagster/table_name": "kpis.analyst_precision"},
)
def analyst_precision_kpi(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from fintech_dataops.lib.analytics.kpis import write_kpi
    from fintech_dataops.lib.monitor.dispositions import analyst_precision

    with warehouse.get_connection() as con:
        kpi = analyst_precision(con)
        write_kpi(con, kpi)
    metadata = {"dagster/row_count": 1, "unit": kpi.unit,
                **{k: float(v) for k, v in kpi.details.items() if isinstance(v, (int, float))}}
    if kpi.value is not None:
        metadata["value"] = dg.MetadataValue.float(kpi.value)
    else:
        metadata["status"] = kpi.note
    return dg.MaterializeResult(metadata=metadata)


monitor_assets = [*build_feed_assets(DISPOSITIONS_FEED, GROUP), dispositions, analyst_precision_kpi]
