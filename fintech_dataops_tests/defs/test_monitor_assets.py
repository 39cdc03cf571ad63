"""The monitor's Dagster assets: landed case actions → raw → core → fraud.dispositions → KPI; the report's link."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import httpx

from fintech_dataops.defs.analytics.monitor import MonitorReportConfig, build_monitor_asset
from fintech_dataops.defs.monitor.assets import monitor_assets
from fintech_dataops.lib.monitor.cases import CaseBook, record_action
from fintech_dataops.lib.monitor.router import DEFAULT_MONITOR_URL
from fintech_dataops_tests import analytics_data
from fintech_dataops_tests.lib.monitor.helpers import alert_rows, running_monitor


def test_case_actions_reach_fraud_dispositions_and_the_analyst_precision_kpi(data_dir, resources):
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(days=1)
    book = CaseBook()
    fast, late = ({**a, "event_time": a["event_time"].isoformat(), "alerted_at": a["alerted_at"].isoformat()}
                  for a in alert_rows(now)[:2])
    record_action(book, data_dir / "landing", fast, action="close", analyst="alice", disposition="confirmed_fraud", now=now)
    record_action(book, data_dir / "landing", late, action="close", analyst="bob", disposition="legitimate", now=now)
    raw, core, _quarantine, dispositions, kpi = monitor_assets
    layers = dg.materialize([raw, core], partition_key=now.date().isoformat(), resources=resources)
    assert layers.success
    result = dg.materialize([dispositions, kpi], resources=resources)
    assert result.success
    by_key = {e.asset_key: e.event_specific_data.materialization.metadata
              for e in result.get_asset_materialization_events()}
    assert by_key[dg.AssetKey(["fraud", "dispositions"])]["dagster/row_count"].value == 2
    assert by_key[dg.AssetKey(["kpis", "analyst_precision"])]["value"].value == 50.0
    checks = {c.check_name: c.passed for c in layers.get_asset_check_evaluations()}
    assert checks and all(passed for name, passed in checks.items() if name in ("schema", "reconciliation"))


def test_the_report_asset_links_the_monitor_served_over_http(data_dir, resources):
    assert MonitorReportConfig().monitor_url == DEFAULT_MONITOR_URL
    analytics_data.build_tiny_warehouse(data_dir / "warehouse.duckdb", with_latency=True)
    with running_monitor(data_dir) as base:
        result = dg.materialize([build_monitor_asset()], resources=resources, run_config=dg.RunConfig(
            ops={"reports__monitor": MonitorReportConfig(monitor_url=f"{base}/monitor")}))
        (event,) = result.get_asset_materialization_events()
        metadata = event.event_specific_data.materialization.metadata
        url = metadata["url"].value
        page = httpx.get(url, timeout=30)
        queue = httpx.get(f"{base}/monitor/api/queue?view=all", timeout=30).json()
    assert url.startswith("http://127.0.0.1:") and page.status_code == 200 and 'id="alert-queue"' in page.text
    assert metadata["path"].value.endswith("monitor.html")  # the static report stays, as an export
    assert queue["counts"]["all"] > 0  # the monitor serves the warehouse's alerts
