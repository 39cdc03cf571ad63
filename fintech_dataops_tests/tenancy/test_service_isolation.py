"""One service process, two banks: the tenant comes from the API key, never from the payload."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
from fastapi.testclient import TestClient

from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.realtime.app import ServiceConfig
from fintech_dataops.lib.tenancy.service import TenantRouter
from fintech_dataops_tests.lib.realtime.helpers import tx


def _router(data_dir, tenants=None):
    config = ServiceConfig(data_dir=data_dir, batch_window_ms=1.0, rotate_seconds=0.2, warm_start=False)
    return TenantRouter(data_dir, config, tenants, engines={"acme": FraudEngine(), "globex": FraudEngine()})


def _landed(root, feed):
    return [orjson.loads(line) for f in sorted((root / "landing" / feed).rglob("*.jsonl"))
            for line in f.read_text().splitlines()]


def test_a_key_of_bank_a_lands_only_under_bank_a_whatever_the_payload_says(data_dir, two_banks):
    registry, keys = two_banks
    start = datetime.now(timezone.utc).replace(microsecond=0)
    with TestClient(_router(data_dir)) as client:
        # Colliding ids at both banks: same transaction id, same customer id.
        a = client.post("/v1/transactions", json={**tx("T1", "C0000001", 950.0, at=start), "tenant": "globex"},
                        headers={"X-API-Key": keys["acme"]})
        b = client.post("/v1/transactions", json=tx("T1", "C0000001", 12.0, at=start),
                        headers={"Authorization": f"Bearer {keys['globex']}"})
        assert a.status_code == 200 and b.status_code == 200, (a.text, b.text)
        assert a.json()["decision"] == "review" and b.json()["decision"] == "approve"
        # The same id again at acme is a resend (409); globex's own T1 did not make it one.
        assert client.post("/v1/transactions", json=tx("T1", "C0000001", 950.0, at=start),
                           headers={"X-API-Key": keys["acme"]}).status_code == 409
        # Each bank's monitor shows its own alerts only.
        acme_alerts = client.get("/monitor/alerts", headers={"X-API-Key": keys["acme"]}).json()["alerts"]
        globex_alerts = client.get("/monitor/alerts", headers={"X-API-Key": keys["globex"]}).json()["alerts"]
        assert [x["amount"] for x in acme_alerts] == [950.0] and globex_alerts == []
        # No key, a made-up key, a tenant name as a key: refused, nothing landed.
        for headers in ({}, {"X-API-Key": "fdo_0123456789abcdef_" + "x" * 43}, {"X-API-Key": "acme"}):
            refused = client.post("/v1/transactions", json=tx("T9", "C0000001"), headers=headers)
            assert refused.status_code == 401 and keys["acme"] not in refused.text
        assert client.get("/monitor/alerts").status_code == 401
        assert client.get("/health").json() == {"status": "ok", "tenants": 2}
        assert client.get("/health", headers={"X-API-Key": keys["globex"]}).json()["decided"] == 1
    acme, globex = registry.root("acme"), registry.root("globex")
    # (acme's refused resend is landed there too, as one refused line: filtered out here)
    accepted = [(t["transaction_id"], float(t["amount"])) for t in _landed(acme, "transactions") if "amount" in t]
    assert accepted == [("T1", 950.0)]
    assert [(t["transaction_id"], float(t["amount"])) for t in _landed(globex, "transactions")] == [("T1", 12.0)]
    assert not (data_dir / "landing").exists()  # nothing under the default tenant either


def test_a_rotated_key_stops_working_in_a_running_service(data_dir, two_banks):
    registry, keys = two_banks
    with TestClient(_router(data_dir)) as client:
        assert client.post("/v1/transactions", json=tx("T1"), headers={"X-API-Key": keys["acme"]}).status_code == 200
        _, new_key = registry.rotate_key("acme", actor="test")
        assert client.post("/v1/transactions", json=tx("T2"), headers={"X-API-Key": keys["acme"]}).status_code == 401
        assert client.post("/v1/transactions", json=tx("T3"), headers={"X-API-Key": new_key}).status_code == 200
        assert client.post("/v1/transactions", json=tx("T4"), headers={"X-API-Key": keys["globex"]}).status_code == 200


def test_a_tenant_not_served_by_this_process_is_refused(data_dir, two_banks):
    _, keys = two_banks
    with TestClient(_router(data_dir, tenants=["acme"])) as client:
        assert client.post("/v1/transactions", json=tx("T1"), headers={"X-API-Key": keys["globex"]}).status_code == 401
        assert client.post("/v1/transactions", json=tx("T1"), headers={"X-API-Key": keys["acme"]}).status_code == 200
