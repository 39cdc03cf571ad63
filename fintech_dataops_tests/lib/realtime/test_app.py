"""The decision service in-process (Starlette TestClient runs the lifespan: WAL, batcher, engine)."""

from datetime import datetime, timezone

import orjson
import pytest
from fastapi.testclient import TestClient

from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.realtime.app import ServiceConfig, create_app
from fintech_dataops_tests.lib.realtime.helpers import tx


def _client(data_dir, **overrides):
    config = ServiceConfig(data_dir=data_dir, batch_window_ms=1.0, rotate_seconds=0.2, **overrides)
    return TestClient(create_app(config, engine=FraudEngine()))


def _landed(data_dir, feed):
    files = sorted((data_dir / "landing" / feed).rglob("*.jsonl"))
    return [line for f in files for line in f.read_text().splitlines()]


def test_high_value_and_velocity_burst_are_flagged_with_reasons(data_dir):
    start = datetime.now(timezone.utc).replace(microsecond=0)
    with _client(data_dir) as client:
        high = client.post("/v1/transactions", json=tx("HV1", "C-high", 950.0, at=start)).json()
        burst = client.post("/v1/transactions/batch", json=[
            tx(f"V{i}", "C-burst", 10.0, at=start, seconds=i) for i in range(5)
        ]).json()
        small = client.post("/v1/transactions", json=tx("OK1", "C-calm", 12.0, at=start)).json()
        alerts = client.get("/monitor/alerts").json()["alerts"]
    assert high["decision"] == "review" and high["rule_ids"] == ["HIGH_VALUE"]
    assert "950.00 > 800.00" in high["reasons"][0]
    assert [r["decision"] for r in burst["results"]] == ["approve", "approve", "approve", "review", "review"]
    assert burst["results"][3]["rule_ids"] == ["VELOCITY"]
    assert small["decision"] == "approve" and small["reasons"] == []
    # newest first, in the live page's contract
    assert [a["transaction_id"] for a in alerts] == ["V4", "V3", "HV1"]
    assert set(alerts[0]) >= {"transaction_id", "customer_id", "amount", "risk_score", "decision", "reasons",
                              "event_time", "alerted_at"}


def test_every_acknowledged_event_and_decision_is_landed_after_shutdown(data_dir):
    with _client(data_dir) as client:
        ids = [client.post("/v1/transactions", json=tx(f"T{i}", f"C{i}")).json()["transaction_id"]
               for i in range(20)]
    assert sorted(orjson.loads(x)["transaction_id"] for x in _landed(data_dir, "transactions")) == sorted(ids)
    decisions = [orjson.loads(x) for x in _landed(data_dir, "fraud_decisions")]
    assert sorted(d["transaction_id"] for d in decisions) == sorted(ids)
    assert all(d["decision"] == "approve" and d["decided_at"] for d in decisions)
    assert not list((data_dir / "wal" / "realtime").glob("*.wal"))


def _core(data_dir) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Run every landed transactions day through raw → core: (core ids, quarantine (record, checks))."""
    import duckdb

    from fintech_dataops.lib.quality.core_gate import load_core_partitions
    from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions

    landing_dir = data_dir / "landing"
    days = sorted(p.name.split("=", 1)[1] for p in (landing_dir / "transactions").glob("date=*"))
    with duckdb.connect() as con:
        load_raw_partitions(con, landing_dir, "transactions", days)
        load_core_partitions(con, "transactions", days)
        core = [r[0] for r in con.execute("SELECT transaction_id FROM core.transactions ORDER BY 1").fetchall()]
        quarantine = con.execute("SELECT record, failed_checks FROM quarantine.transactions ORDER BY 1").fetchall()
    return core, quarantine


def test_malformed_requests_get_a_4xx_naming_each_record_and_field_and_land_once_as_refused(data_dir):
    with _client(data_dir) as client:
        not_json = client.post("/v1/transactions", content=b"{oops")
        missing = client.post("/v1/transactions", json={"transaction_id": "X1", "amount": 5})
        all_bad = client.post("/v1/transactions/batch", json=[{"transaction_id": "X2"}, "text"])
        mixed = client.post("/v1/transactions/batch", json=[tx("G1"), {**tx("X3"), "amount": "NaN"}])
        good = client.post("/v1/transactions", json=tx("G2"))
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["error"]
    assert missing.status_code == 422
    body = missing.json()
    assert body["error"].startswith("malformed transaction: customer_id: missing required field")
    assert body["acknowledged"] is False and body["recorded_as"] == "refused_by_service"
    assert [(f["field"], f["check"]) for f in body["rejected"][0]["failures"]] == [
        ("customer_id", "missing_field"), ("merchant_id", "missing_field"), ("currency", "missing_field"),
        ("event_time", "missing_field")]
    assert all_bad.status_code == 422 and [r["index"] for r in all_bad.json()["rejected"]] == [0, 1]
    # one bad record refuses the whole batch: G1 is not acknowledged (it may be resent, fixed)
    assert mixed.status_code == 422 and "1 of 2 transaction(s) are malformed" in mixed.json()["error"]
    assert [(r["index"], r["field"], r["check"]) for r in mixed.json()["rejected"]] == [(1, "amount", "wrong_type")]
    assert good.status_code == 200
    landed = [orjson.loads(line) for line in _landed(data_dir, "transactions")]
    refused = [r["refused_by_service"] for r in landed if "refused_by_service" in r]
    assert [r["status"] for r in refused] == [400, 422, 422, 422]
    assert [r["transaction_id"] for r in landed if "refused_by_service" not in r] == ["G2"]
    core, quarantine = _core(data_dir)
    assert core == ["G2"]
    assert [checks for _, checks in quarantine] == [["refused_by_service"]] * 4


def test_ndjson_body_is_refused_and_none_of_its_lines_reaches_core(data_dir):
    """Issue 13 item 2: two valid transactions as NDJSON got 400, yet each line became a core row."""
    ndjson = orjson.dumps(tx("N1")) + b"\n" + orjson.dumps(tx("N2")) + b"\n"
    with _client(data_dir) as client:
        response = client.post("/v1/transactions", content=ndjson)
    assert response.status_code == 400 and response.json()["acknowledged"] is False
    landed = _landed(data_dir, "transactions")
    assert len(landed) == 1 and orjson.loads(landed[0])["refused_by_service"]["body_bytes"] == len(ndjson)
    core, quarantine = _core(data_dir)
    assert core == [] and [checks for _, checks in quarantine] == [["refused_by_service"]]


def test_a_body_of_newlines_lands_as_one_bounded_record(data_dir):
    """Issue 13 item 4: 1.5 MB of newlines landed 1,500,000 empty lines; now one line, digest + head."""
    body = b"\n" * 1_500_000
    with _client(data_dir) as client:
        response = client.post("/v1/transactions", content=body)
    assert response.status_code == 400
    landed = _landed(data_dir, "transactions")
    assert len(landed) == 1 and len(landed[0]) < 4_000
    refused = orjson.loads(landed[0])["refused_by_service"]
    assert refused["body_bytes"] == 1_500_000 and len(refused["body_sha256"]) == 64
    _, quarantine = _core(data_dir)
    assert len(quarantine) == 1


def test_what_core_would_quarantine_is_refused_so_every_acknowledged_event_reaches_core(data_dir):
    """Issue 13 item 3: these got 200 and were then never processed, or quarantined after the fact."""
    padded = {**tx("P1"), "memo": "x" * 1_500_000}
    with _client(data_dir) as client:
        answers = {
            "year_one": client.post("/v1/transactions", json={**tx("E1"), "event_time": "0001-01-01T00:00:00Z"}),
            "year_1900": client.post("/v1/transactions", json={**tx("E2"), "event_time": "1900-06-01T00:00:00Z"}),
            "epoch": client.post("/v1/transactions", json={**tx("E3"), "event_time": "1970-01-01T00:00:00Z"}),
            "week_date": client.post("/v1/transactions", json={**tx("E4"), "event_time": "2026-W01-1"}),
            "offset_99h": client.post("/v1/transactions", json={**tx("E5"), "event_time": "2026-10-01T10:00:00+99:00"}),
            "country_zz": client.post("/v1/transactions", json={**tx("E6"), "country": "ZZ"}),
            "padded": client.post("/v1/transactions", content=orjson.dumps(padded)),
            "first": client.post("/v1/transactions", json=tx("D1")),
            "resend": client.post("/v1/transactions", json=tx("D1")),
            "resend_other_amount": client.post("/v1/transactions", json=tx("D1", amount=999_999.0)),
            "six_fields": client.post("/v1/transactions", json={k: tx("S6")[k] for k in (
                "transaction_id", "customer_id", "merchant_id", "amount", "currency", "event_time")}),
        }
    status = {name: r.status_code for name, r in answers.items()}
    assert status == {"year_one": 422, "year_1900": 422, "epoch": 422, "week_date": 422, "offset_99h": 422,
                      "country_zz": 422, "padded": 422, "first": 200, "resend": 409, "resend_other_amount": 409,
                      "six_fields": 200}
    assert answers["padded"].json()["rejected"][0]["check"] == "record_too_large"
    assert answers["resend"].json()["already_acknowledged"] == ["D1"]
    core, quarantine = _core(data_dir)
    assert core == ["D1", "S6"]  # exactly the acknowledged events
    assert all(checks == ["refused_by_service"] for _, checks in quarantine) and len(quarantine) == 9
    assert not any(p.name.startswith("date=19") or p.name.startswith("date=00")
                   for p in (data_dir / "landing" / "transactions").iterdir())


def test_api_key_is_required_when_set_and_never_echoed(data_dir):
    secret = "s3cr3t-key-value"
    with _client(data_dir, api_key=secret) as client:
        denied = client.post("/v1/transactions", json=tx("A1"), headers={"x-api-key": "wrong"})
        allowed = client.post("/v1/transactions", json=tx("A2"), headers={"x-api-key": secret})
        bearer = client.post("/v1/transactions", json=tx("A3"), headers={"authorization": f"Bearer {secret}"})
        health = client.get("/health")
    assert denied.status_code == 401 and secret not in denied.text and "wrong" not in denied.text
    assert allowed.status_code == 200 and bearer.status_code == 200
    assert secret not in health.text
    assert "A1" not in "".join(_landed(data_dir, "transactions"))  # unauthenticated input is not landed


def test_oversized_bodies_and_batches_are_refused_with_413(data_dir):
    with _client(data_dir, max_body_bytes=2_000, max_batch_records=3) as client:
        big = client.post("/v1/transactions/batch", content=b"[" + b" " * 5_000 + b"]")
        many = client.post("/v1/transactions/batch", json=[tx(f"M{i}") for i in range(4)])
    assert big.status_code == 413 and "larger than 2,000 bytes" in big.json()["error"]
    assert many.status_code == 413 and "exceeds 3" in many.json()["error"]


def test_health_reports_the_engine_and_the_pipeline(data_dir):
    with _client(data_dir) as client:
        client.post("/v1/transactions", json=tx("H1", amount=900.0))
        health = client.get("/health").json()
        page = client.get("/monitor")
    assert health["status"] == "ok" and health["decided"] == 1 and health["alerts"] == 1
    assert health["decisions"]["review"] == 1 and health["window_state"]["customers"] == 1
    assert health["warm_start"]["source"] == "cold"
    assert health["micro_batch_phases_ms"]["micro_batches"] >= 1 and "wal" in health["micro_batch_phases_ms"]
    waits = health["request_scoring_ms"]
    assert waits["submissions"] == 1 and 0.0 <= waits["queued"]["p50"] and 0.0 < waits["processing"]["max"]
    assert page.status_code == 200 and "/api/queue" in page.text and 'id="alert-queue"' in page.text


@pytest.mark.parametrize("path", ["/v1/transactions", "/v1/transactions/batch"])
def test_wrong_method_is_a_4xx(data_dir, path):
    with _client(data_dir) as client:
        assert client.get(path).status_code == 405


def test_a_failing_wal_disk_means_503_and_nothing_acknowledged(data_dir, monkeypatch):
    from fintech_dataops.lib.realtime.wal import DurableLog

    def disk_full(self, entries):
        raise OSError(28, "No space left on device")

    with _client(data_dir) as client:
        monkeypatch.setattr(DurableLog, "append", disk_full)
        response = client.post("/v1/transactions", json=tx("D1"))
        bad = client.post("/v1/transactions", content=b"junk")
    assert response.status_code == 503 and "resend" in response.json()["error"]
    assert response.json()["landed"] is False
    assert bad.status_code == 503


def test_a_resend_is_refused_across_a_restart(data_dir):
    """Ids acknowledged before a restart are read back from the landed decisions: a resend gets 409."""
    with _client(data_dir) as client:
        first = client.post("/v1/transactions", json=tx("R-KEEP"))
    with _client(data_dir) as client:
        resend = client.post("/v1/transactions", json=tx("R-KEEP"))
        fresh = client.post("/v1/transactions", json=tx("R-NEW"))
        remembered = client.get("/health").json()["remembered_ids"]
    assert (first.status_code, resend.status_code, fresh.status_code) == (200, 409, 200)
    assert remembered == 2
    core, _ = _core(data_dir)
    assert core == ["R-KEEP", "R-NEW"]


def test_remembered_ids_are_bounded_and_in_flight_ids_are_held():
    from fintech_dataops.lib.realtime.acknowledged import AcknowledgedIds

    ids = AcknowledgedIds(capacity=3)
    assert ids.claim(["a"]) == [] and ids.claim(["a"]) == ["a"]  # in flight: a concurrent resend waits its turn
    ids.release(["a"])
    assert ids.claim(["a", "b"]) == []
    ids.confirm(["a", "b"])
    assert ids.claim(["b"]) == ["b"]
    ids.confirm(["c", "d"])  # over capacity: the oldest ("a") is forgotten
    assert len(ids) == 3 and ids.claim(["a"]) == []


def test_the_service_monitor_queues_live_alerts_with_context_and_takes_case_actions(data_dir):
    from fintech_dataops.lib.monitor.staff import StaffKeys, hash_key

    staff = StaffKeys.from_env({"FINTECH_STAFF_KEYS": f"alice:{hash_key('alice-key')}"})
    with _client(data_dir, staff_keys=staff) as client:
        client.post("/v1/transactions", json={**tx("HV9", "C-high", 950.0), "channel": "ecommerce", "country": "GB"})
        queue = client.get("/monitor/api/queue", headers={"X-Staff-Key": "alice-key"}).json()
        closed = client.post("/monitor/api/alerts/HV9/close", json={"disposition": "confirmed_fraud"},
                             headers={"X-Staff-Key": "alice-key"})
    (alert,) = queue["alerts"]
    assert (alert["transaction_id"], alert["source"], alert["channel"], alert["country"]) == ("HV9", "live", "ecommerce", "GB")
    assert alert["alert_age_s"] is not None and alert["alert_age_s"] >= 0
    assert alert["amount_reporting"] == 950.0 and queue["reporting_currency"] == "USD"
    assert closed.status_code == 200
    assert len(list((data_dir / "landing" / "fraud_dispositions").rglob("case-*.jsonl"))) == 1


def test_the_service_refuses_a_staff_key_equal_to_the_api_key(data_dir):
    from fintech_dataops.lib.monitor.staff import StaffKeyConfigError, StaffKeys, hash_key

    with pytest.raises(StaffKeyConfigError):
        ServiceConfig(data_dir=data_dir, api_key="same", staff_keys=StaffKeys.from_env(
            {"FINTECH_STAFF_KEYS": f"alice:{hash_key('same')}"}))


def test_new_alerts_notify_the_alert_sink_once_per_customer(data_dir):
    from fintech_dataops.lib.alerts import read_alerts
    from fintech_dataops.lib.monitor.notify import NotifyConfig

    with _client(data_dir, notify=NotifyConfig(review_score_at_least=0.0)) as client:
        client.post("/v1/transactions", json=tx("N1", "C-note", 950.0))
        client.post("/v1/transactions", json=tx("N2", "C-note", 960.0))
        client.post("/v1/transactions", json=tx("N3", "C-calm", 12.0))
        health = client.get("/health").json()
    logged = [a for a in read_alerts(data_dir / "alerts.log") if a["kind"] == "fraud_alert"]
    assert [a["details"]["transaction_id"] for a in logged] == ["N1"]  # N2: same customer, folded; N3 approved
    assert health["notifications"]["folded"] == 1


def test_the_gil_switch_interval_is_short_while_serving_and_restored_after(data_dir):
    import sys

    before = sys.getswitchinterval()
    with _client(data_dir, gil_switch_interval_ms=0.5):
        assert sys.getswitchinterval() == pytest.approx(0.0005)
    assert sys.getswitchinterval() == before
    with _client(data_dir, gil_switch_interval_ms=None):
        assert sys.getswitchinterval() == before  # None: the interpreter's own setting
