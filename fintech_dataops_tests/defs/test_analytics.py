"""Analytics wiring: SQL files become assets with inferred upstream keys; KPIs record plottable metadata."""

import dagster as dg
import pytest

from fintech_dataops.defs.analytics.kpis import build_kpi_assets, kpi_history
from fintech_dataops.defs.analytics.marts import build_mart_assets
from fintech_dataops.defs.analytics.monitor import build_monitor_asset
from fintech_dataops_tests import analytics_data as data


def upstream(asset: dg.AssetsDefinition) -> set[dg.AssetKey]:
    return {dep.asset_key for dep in asset.specs_by_key[asset.key].deps}


def test_a_new_sql_file_appears_as_an_asset_with_the_right_upstream_keys(tmp_path):
    (tmp_path / "high_value_alerts.sql").write_text(
        "-- Alerts over $800 with the customer's credit band.\n"
        "WITH big AS (SELECT * FROM fraud.alerts WHERE amount > 800)\n"
        "SELECT b.*, s.band FROM big b LEFT JOIN credit.scores s USING (customer_id)"
    )
    assets = {a.key: a for a in build_mart_assets(tmp_path)}
    key = dg.AssetKey(["marts", "high_value_alerts"])
    assert set(assets) == {key}
    assert upstream(assets[key]) == {dg.AssetKey(["fraud", "alerts"]), dg.AssetKey(["credit", "scores"])}
    node = assets[key]
    assert node.group_names_by_key[key] == "analytics"
    assert node.specs_by_key[key].description == "Alerts over $800 with the customer's credit band."

    (tmp_path / "second.sql").write_text("SELECT * FROM quality.dq_scores")
    assert dg.AssetKey(["marts", "second"]) in {a.key for a in build_mart_assets(tmp_path)}


def test_the_code_location_has_the_shipped_marts_kpis_and_report():
    from fintech_dataops.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    expected = {dg.AssetKey(["marts", n]) for n in ("daily_fraud_summary", "alert_queue", "credit_portfolio_by_band",
                                                     "scorable_population", "data_quality_by_feed_day")}
    expected |= {dg.AssetKey(["kpis", n]) for n in ("value_at_risk_protected", "scorable_uplift", "dq_score",
                                                     "freshness", "ingest_rate", "latency", "history")}
    expected.add(dg.AssetKey(["reports", "monitor"]))
    assert expected <= keys
    assert all(graph.get(k).group_name == k.path[0] and graph.get(k).tags["domain"] == "analytics" for k in expected)


def test_marts_kpis_and_report_materialize_on_the_tiny_warehouse(data_dir, resources):
    data.build_tiny_warehouse(data_dir / "warehouse.duckdb", with_latency=True)
    assets = [*build_mart_assets(), *build_kpi_assets(), kpi_history, build_monitor_asset()]
    result = dg.materialize(assets, resources=resources)
    assert result.success
    by_key = {e.asset_key: e.event_specific_data.materialization.metadata
              for e in result.get_asset_materialization_events()}
    north_star = by_key[dg.AssetKey(["kpis", "value_at_risk_protected"])]
    assert isinstance(north_star["value"], dg.FloatMetadataValue)
    assert north_star["value"].value == pytest.approx(data.NORTH_STAR)
    assert by_key[dg.AssetKey(["kpis", "dq_score"])]["value"].value == pytest.approx(data.DQ_LATEST)
    assert by_key[dg.AssetKey(["kpis", "latency"])]["value"].value == pytest.approx(data.LATENCY_P99_MS)
    assert by_key[dg.AssetKey(["kpis", "history"])]["appended_rows"].value == 6
    assert by_key[dg.AssetKey(["marts", "alert_queue"])]["dagster/row_count"].value == 5
    report = by_key[dg.AssetKey(["reports", "monitor"])]
    path = data_dir / "reports" / "monitor.html"
    assert report["path"].value == str(path) and path.exists()
    assert report["sections_rendered"].value == 6
    assert (data_dir / "published" / "pm_view.duckdb").exists()


def test_a_mart_whose_source_is_missing_is_skipped_with_a_clear_log(data_dir, resources, tmp_path):
    (tmp_path / "needs_credit.sql").write_text("SELECT count(*) AS n FROM credit.scores")
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(build_mart_assets(tmp_path), resources=resources, instance=instance)
    assert result.success
    assert result.get_asset_materialization_events() == []
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("credit.scores do not exist yet" in m for m in messages), "the skip must name the missing table"


def test_kpis_without_their_tables_say_not_measured_yet(data_dir, resources):
    result = dg.materialize(build_kpi_assets(), resources=resources)
    assert result.success
    for event in result.get_asset_materialization_events():
        metadata = event.event_specific_data.materialization.metadata
        if event.asset_key.path[1] != "ingest_rate":
            assert "value" not in metadata and metadata["status"].value.startswith("not measured yet")
