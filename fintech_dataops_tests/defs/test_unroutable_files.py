"""``quality/unroutable_files``: stored, checked, alerted and counted by the DQ score (issue 13, item 9)."""

import json

import dagster as dg
import duckdb

from fintech_dataops.defs import build_defs
from fintech_dataops.defs.alert_sink import AlertSink
from fintech_dataops.defs.quality.sensors import asset_check_failure_alerts
from fintech_dataops.defs.quality.unroutable import UNROUTABLE_CHECK, UNROUTABLE_KEY, unroutable_files
from fintech_dataops.lib import alerts
from fintech_dataops.lib.analytics import kpis
from fintech_dataops.lib.ingestion import landing

DAY = "2026-11-04"
LINE = json.dumps({"transaction_id": "T1"})


def evaluations(result: dg.ExecuteInProcessResult):
    return [e for e in result.get_asset_check_evaluations() if e.check_name == UNROUTABLE_CHECK]


def test_unroutable_files_are_stored_fail_the_check_and_alert(data_dir, landing_dir, resources):
    landing.land_lines(landing_dir, "transactions", DAY, "good", [LINE])
    (landing_dir / "transactions" / f"date={DAY}" / "partner.json").write_text(LINE + "\n" + LINE + "\n")
    (landing_dir / "transactions" / "date=2026-13-45").mkdir()
    (landing_dir / "transactions" / "date=2026-13-45" / "b.jsonl").write_text(LINE + "\n")
    sink = AlertSink(data_dir=str(data_dir))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"alert_sink": sink})
        asset_check_failure_alerts(context)  # first tick: cursor at "now"
        result = dg.materialize([unroutable_files], resources=resources, instance=instance)
        [evaluation] = evaluations(result)
        assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
        assert evaluation.metadata["records"].value == 3
        context = dg.build_sensor_context(instance=instance, cursor=context.cursor, resources={"alert_sink": sink})
        asset_check_failure_alerts(context)
    [alert] = alerts.read_alerts(sink.log_path)
    assert alert["check_name"] == UNROUTABLE_CHECK and alert["asset_key"] == "quality/unroutable_files"
    assert alert["severity"] == "ERROR" and "quality.unroutable_files" in alert["message"]
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        rows = con.execute("SELECT path, reason, records FROM quality.unroutable_files ORDER BY path").fetchall()
    assert rows == [
        ("transactions/date=2026-11-04/partner.json", "unsupported_suffix", 2),
        ("transactions/date=2026-13-45/b.jsonl", "invalid_partition_date", 1),
    ]


def test_an_empty_entry_warns_and_a_clean_zone_passes(data_dir, landing_dir, resources):
    (landing_dir / "transactions" / f"date={DAY}" / "x.jsonl").mkdir(parents=True)
    [evaluation] = evaluations(dg.materialize([unroutable_files], resources=resources))
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    (landing_dir / "transactions" / f"date={DAY}" / "x.jsonl").rmdir()
    [evaluation] = evaluations(dg.materialize([unroutable_files], resources=resources))
    assert evaluation.passed


def test_dq_score_counts_stranded_records():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA quality")
    con.execute("CREATE TABLE quality.dq_scores AS SELECT DATE '2026-11-04' AS partition_date, 'transactions' AS feed, "
                "100::BIGINT AS raw_rows, 100::BIGINT AS valid_rows, 0::BIGINT AS quarantined_rows, 100.0 AS dq_score")
    assert kpis.dq_score(con).value == 100.0
    con.execute("CREATE TABLE quality.unroutable_files AS SELECT * FROM (VALUES "
                "(DATE '2026-11-04', 'unsupported_suffix', 20::BIGINT), (NULL, 'invalid_partition_date', 5), "
                "(DATE '2026-11-01', 'hidden_file', 75)) t(partition_date, reason, records)")
    value = kpis.dq_score(con)
    assert value.value == round(100 * 100 / 125, 4)  # the 20 of that day + the 5 with no usable day
    assert value.details["unroutable_files"] == 3 and value.details["unroutable_records"] == 100
    assert value.details["all_days_dq_score"] == 50.0


def test_the_asset_is_in_the_definitions_and_feeds_the_dq_kpi():
    defs = build_defs()
    graph = defs.resolve_asset_graph()
    assert UNROUTABLE_KEY in graph.get_all_asset_keys()
    assert UNROUTABLE_KEY in graph.get(dg.AssetKey(["kpis", "dq_score"])).parent_keys


def test_every_declared_feed_is_routable_as_its_declaration_says():
    """Routable folders come from the feed declarations: the advisor's turns (landed_days) were missing
    from the hand-written list, so their files would have been reported as an unknown feed."""
    from fintech_dataops.defs.quality.unroutable import routable_feeds
    from fintech_dataops.schemas import feed_for, registered_feeds

    routable = {feed.name: feed for feed in routable_feeds()}
    assert set(registered_feeds()) <= set(routable)
    assert routable["advisor_conversations"].first_day is None  # every landed day is loaded
    assert routable["transactions"].first_day is not None and routable["fx_rates"].first_day is not None
    assert feed_for("advisor_conversations").partitioning == "landed_days"
