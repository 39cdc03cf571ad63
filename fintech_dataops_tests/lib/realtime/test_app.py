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


def test_malformed_requests_get_a_4xx_with_a_clear_message_and_are_landed(data_dir):
    with _client(data_dir) as client:
        not_json = client.post("/v1/transactions", content=b"{oops")
        missing = client.post("/v1/transactions", json={"transaction_id": "X1", "amount": 5})
        all_bad = client.post("/v1/transactions/batch", json=[{"transaction_id": "X2"}, "text"])
        mixed = client.post("/v1/transactions/batch", json=[tx("G1"), {"transaction_id": "X3", "amount": "NaN"}])
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["error"]
    assert missing.status_code == 422
    assert missing.json() == {"error": "malformed transaction: customer_id is required and must be a non-empty string",
                              "landed": True}
    assert all_bad.status_code == 422 and [r["index"] for r in all_bad.json()["rejected"]] == [0, 1]
    assert mixed.status_code == 200
    assert [r["transaction_id"] for r in mixed.json()["results"]] == ["G1"]
    assert mixed.json()["rejected"] == [{"index": 1, "error": "customer_id is required and must be a non-empty string"}]
    landed = _landed(data_dir, "transactions")
    for expected in ("{oops", '{"transaction_id":"X1","amount":5}', '{"transaction_id":"X2"}', '"text"',
                     '{"transaction_id":"X3","amount":"NaN"}'):
        assert expected in landed
    assert len(landed) == 6  # the 5 malformed records + G1


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
    assert page.status_code == 200 and "/monitor/alerts" in page.text


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
