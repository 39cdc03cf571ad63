"""The monitor report asset: ``<data dir>/reports/monitor.html`` (the static export), and the link to the
live monitor served over HTTP (``url``: the decision service's or ``fintech-dataops monitor``'s ``/monitor``).

After rendering it also re-publishes the PM view (``lib/self_service/pm_view.py``) so
``fintech-dataops sql`` sees this run's tables without waiting for a refresh.
"""

import dagster as dg
from pydantic import Field

from fintech_dataops.defs.analytics.kpis import KPI_SOURCES
from fintech_dataops.defs.analytics.marts import upstream_keys
from fintech_dataops.defs.automation import ON_INPUT_CHANGE
from fintech_dataops.defs.resources import DataDirResource, WarehouseResource

REPORT_SOURCES = ["fraud.alerts", "fraud.scored_transactions", "core.fraud_labels", "quality.dq_scores",
                  "credit.scores"]


class MonitorReportConfig(dg.Config):
    monitor_url: str = Field(
        default="http://127.0.0.1:8700/monitor",  # lib.monitor.router.DEFAULT_MONITOR_URL (a test keeps them equal)
        description="Where analysts open the live monitor (the service's /monitor, or `fintech-dataops monitor`)",
    )


def build_monitor_asset() -> dg.AssetsDefinition:
    return dg.asset(
        key=["reports", "monitor"],
        deps=upstream_keys(REPORT_SOURCES)
        + [dg.AssetKey(["kpis", name]) for name in KPI_SOURCES] + [dg.AssetKey(["kpis", "history"])],
    group_name="analytics",
        kinds={"duckdb", "plotly", "html"},
        description="Fraud & DataOps monitor: KPI tiles, alerts by rule, score distribution, FPR/recall trend, DQ "
                    "by feed, credit scores by band and the latest alerts with reasons (self-contained HTML).",
        automation_condition=ON_INPUT_CHANGE,
    )(monitor_report)


def monitor_report(context: dg.AssetExecutionContext, config: MonitorReportConfig, data_dir: DataDirResource,
                   warehouse: WarehouseResource):
    from fintech_dataops.lib.monitor.report import render_report
    from fintech_dataops.lib.tenancy.branding import brand_report
    from fintech_dataops.lib.self_service.pm_view import publish_snapshot, snapshot_path_for
    from fintech_dataops.lib.warehouse import WarehouseLockTimeout

    path = data_dir.reports_dir / "monitor.html"
    with warehouse.read_connection() as con:
        result = render_report(con, path)
    brand_report(result.path, data_dir.root)  # a tenant's name, logo and colour (white label)
    empty = {k: v for k, v in result.sections.items() if v != "rendered"}
    for section, reason in empty.items():
        context.log.warning(f"monitor section {section}: {reason}")
    metadata = {
        # A browser opens http://, not file:// links from the Dagster UI: the live monitor; the file is the export.
        "url": dg.MetadataValue.url(config.monitor_url),
        "path": dg.MetadataValue.path(str(result.path)),
        "bytes": result.bytes,
        "seconds": round(result.seconds, 3),
        "sections_rendered": len(result.sections) - len(empty),
        "sections_empty": dg.MetadataValue.json(empty),
    }
    if not warehouse.is_local_file:
        # The PM view is a masked copy of a local warehouse file; a remote (md:) warehouse is queried directly.
        context.log.info("PM view not re-published: the warehouse is remote (the PM snapshot copies a local file)")
        metadata["pm_view_published_at"] = "skipped: remote warehouse"
        return dg.MaterializeResult(metadata=metadata)
    try:
        published = publish_snapshot(warehouse.path, snapshot_path_for(data_dir.root), wait_seconds=30)
        metadata["pm_view_published_at"] = published["published_at"]
        metadata["pm_view_tables"] = published["tables"]
    except WarehouseLockTimeout:
        context.log.warning("PM view not re-published (warehouse busy); `fintech-dataops sql` refreshes it on use")
    return dg.MaterializeResult(metadata=metadata)
