"""Alert sensors: exactly one alert per failed check evaluation and per failed run; Slack sink."""

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg

from fintech_dataops.defs.alert_sink import AlertSink
from fintech_dataops.defs.ingestion.assets import raw_assets
from fintech_dataops.defs.quality.assets import build_core_asset
from fintech_dataops.defs.quality.checks import build_referential_checks
from fintech_dataops.defs.quality.sensors import asset_check_failure_alerts, run_failure_alerts
from fintech_dataops.lib import alerts
from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.ingestion.feeds import FEEDS

RAW = next(a for a in raw_assets if a.key == dg.AssetKey(["raw", "transactions"]))
CORE = build_core_asset(FEEDS["transactions"])
REFERENTIAL = build_referential_checks(FEEDS["transactions"])
# These tests are about the sensor: judge even a one-line day (the default needs 10 quarantined lines).
EVERY_DAY = dg.RunConfig(ops={"core__transactions": {"config": {"quarantine_min_lines": 1}}})
GOOD = {
    "transaction_id": "T1", "customer_id": "C1", "merchant_id": "M1", "amount": 12.5, "currency": "USD",
    "event_time": "2026-10-01T10:00:00Z", "channel": "ecommerce", "merchant_category": "grocery",
    "country": "US", "device_id": "D1",
}


def failed_evaluations(instance: dg.DagsterInstance) -> int:
    return sum(
        not r.event_log_entry.dagster_event.event_specific_data.passed
        for run in instance.get_run_records()
        for r in instance.get_records_for_run(run.dagster_run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    )


def tick(instance, sink, cursor=None) -> str | None:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"alert_sink": sink})
    asset_check_failure_alerts(context)
    return context.cursor


def test_one_alert_per_failed_check_evaluation(data_dir, landing_dir, resources):
    sink = AlertSink(data_dir=str(data_dir))
    landing.land_lines(landing_dir, "transactions", "2026-10-01", "b1", [json.dumps(GOOD), "{broken"])
    with dg.instance_for_test() as instance:
        cursor = tick(instance, sink)  # the sensor starts before the runs
        dg.materialize([RAW, CORE, *REFERENTIAL], resources=resources, partition_key="2026-10-01", instance=instance,
                       run_config=EVERY_DAY)
        failed = failed_evaluations(instance)
        assert failed == 2  # quarantine_rate (50 %) and referential_customer_id (no customers)
        cursor = tick(instance, sink, cursor)
        logged = alerts.read_alerts(sink.log_path)
        assert len(logged) == failed
        assert {a["check_name"] for a in logged} == {"quarantine_rate", "referential_customer_id"}
        assert {a["severity"] for a in logged} == {"ERROR", "WARN"}
        assert all(a["partition"] == "2026-10-01" and a["asset_key"] == "core/transactions" for a in logged)
        # ticks without new evaluations send nothing
        assert tick(instance, sink, cursor) == cursor
        assert len(alerts.read_alerts(sink.log_path)) == failed
        # a new bad day: only its failures are added
        landing.land_lines(landing_dir, "transactions", "2026-10-02", "b1", ["{broken", "[]"])
        dg.materialize([RAW, CORE, *REFERENTIAL], resources=resources, partition_key="2026-10-02", instance=instance,
                       run_config=EVERY_DAY)
        tick(instance, sink, cursor)
        logged = alerts.read_alerts(sink.log_path)
        # day 2: quarantine_rate (100 %) and the whole-table referential check (day 1's orphan) fail again
        assert len(logged) == failed_evaluations(instance) == 4
        assert len({a["dedup_key"] for a in logged}) == len(logged)


def test_the_first_tick_does_not_alert_on_history_only_on_new_failures(data_dir, landing_dir, resources):
    sink = AlertSink(data_dir=str(data_dir))
    landing.land_lines(landing_dir, "transactions", "2026-10-01", "b1", [json.dumps(GOOD), "{broken"])
    with dg.instance_for_test() as instance:
        dg.materialize([RAW, CORE, *REFERENTIAL], resources=resources, partition_key="2026-10-01", instance=instance,
                       run_config=EVERY_DAY)
        assert failed_evaluations(instance) == 2
        cursor = tick(instance, sink)  # first start, history already in the instance
        assert cursor is not None
        assert not sink.log_path.exists() or alerts.read_alerts(sink.log_path) == []
        assert tick(instance, sink, cursor) == cursor
        landing.land_lines(landing_dir, "transactions", "2026-10-02", "b1", ["{broken", "[]"])
        dg.materialize([RAW, CORE, *REFERENTIAL], resources=resources, partition_key="2026-10-02", instance=instance,
                       run_config=EVERY_DAY)
        tick(instance, sink, cursor)
        logged = alerts.read_alerts(sink.log_path)
        assert len(logged) == 2 and {a["partition"] for a in logged} == {"2026-10-02"}


def test_one_alert_per_failed_run(data_dir):
    sink = AlertSink(data_dir=str(data_dir))

    @dg.asset
    def explodes():
        raise RuntimeError("upstream API returned garbage")

    with dg.instance_for_test() as instance:
        result = dg.materialize([explodes], instance=instance, raise_on_error=False)
        assert not result.success
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alerts",
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={"alert_sink": sink},
        ).for_run_failure()
        run_failure_alerts(context)
    (alert,) = alerts.read_alerts(sink.log_path)
    assert alert["kind"] == "run_failure" and alert["run_id"] == result.run_id
    assert alert["dedup_key"] == f"run_failure:{result.run_id}"


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_slack_sink_posts_and_never_logs_the_webhook_url(data_dir: Path, caplog):
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received.clear()
    secret_path = "/services/T000/B000/s3cr3t-token"
    try:
        sink = AlertSink(data_dir=str(data_dir), slack_webhook_url=f"http://127.0.0.1:{server.server_port}{secret_path}")
        alert = alerts.run_failure_alert(job_name="daily_pipeline", run_id="r1", message="boom")
        with caplog.at_level(logging.INFO):
            sink.send(alert)
    finally:
        server.shutdown()
    assert _Hook.received == [(secret_path, alerts.slack_payload(alert))]
    assert "run of daily_pipeline failed" in _Hook.received[0][1]["text"]
    assert len(alerts.read_alerts(sink.log_path)) == 1  # the local log is kept too

    # an unreachable webhook is logged without its URL and does not raise
    dead = AlertSink(data_dir=str(data_dir), slack_webhook_url=f"http://127.0.0.1:9{secret_path}")
    with caplog.at_level(logging.INFO):
        dead.send(alert)
    assert "s3cr3t-token" not in caplog.text
    assert "Slack webhook unreachable" in caplog.text


def test_slack_is_off_by_default_and_on_with_the_env_var(data_dir: Path, monkeypatch):
    monkeypatch.delenv("FINTECH_SLACK_WEBHOOK_URL", raising=False)
    assert AlertSink(data_dir=str(data_dir)).webhook_url == ""
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received.clear()
    monkeypatch.setenv("FINTECH_SLACK_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/from-env")
    try:
        AlertSink(data_dir=str(data_dir)).send(alerts.run_failure_alert(job_name="j", run_id="r2", message="m"))
    finally:
        server.shutdown()
    assert [path for path, _ in _Hook.received] == ["/from-env"]


def test_referential_checks_read_without_the_writer_lock_and_load_no_input(data_dir, landing_dir, resources):
    from unittest import mock

    from fintech_dataops.defs.resources import WarehouseResource

    # Inputs are Nothing: a check never loads core/transactions through an IO manager.
    assert all(i.dagster_type.is_nothing for c in REFERENTIAL for i in c.node_def.input_defs)
    landing.land_lines(landing_dir, "transactions", "2025-01-01", "b1", [json.dumps(GOOD)])
    with dg.instance_for_test() as instance:
        assert dg.materialize([RAW, CORE], resources=resources, partition_key="2025-01-01", instance=instance).success
        with mock.patch.object(WarehouseResource, "get_connection", side_effect=AssertionError("write connection")):
            result = dg.materialize([CORE, *REFERENTIAL], resources=resources, instance=instance,
                                    selection=dg.AssetSelection.checks(*REFERENTIAL), raise_on_error=False)
        assert result.success
        evaluations = result.get_asset_check_evaluations()
        assert [e.check_name for e in evaluations] == ["referential_customer_id"]
        assert not evaluations[0].passed  # T1's customer is unknown (no core.customers)
