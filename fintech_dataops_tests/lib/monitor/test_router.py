"""The monitor's HTTP routes in process: staff keys, the queue, case actions landed as the feed."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from fintech_dataops.lib.monitor.cases import FEED_NAME
from fintech_dataops.lib.monitor.server import create_monitor_app
from fintech_dataops.lib.monitor.staff import StaffKeys
from fintech_dataops_tests.lib.monitor.helpers import STAFF, build_alert_warehouse, staff_env


@pytest.fixture
def data_dir(tmp_path):
    build_alert_warehouse(tmp_path / "warehouse.duckdb", now=datetime.now(UTC).replace(tzinfo=None))
    return tmp_path


def _client(data_dir, staff=None):
    return TestClient(create_monitor_app(data_dir, StaffKeys.from_env(staff_env()) if staff is None else staff))


def test_every_api_call_needs_a_staff_key_when_keys_are_configured(data_dir):
    with _client(data_dir) as client:
        assert client.get("/monitor").status_code == 200  # the page itself asks for the key
        assert client.get("/monitor/api/queue").status_code == 401
        assert client.get("/monitor/api/queue", headers={"X-Staff-Key": "guess"}).status_code == 401
        assert client.post("/monitor/api/alerts/T-fast/close", json={"disposition": "legitimate"}).status_code == 401
        queue = client.get("/monitor/api/queue", headers={"X-Staff-Key": STAFF["alice"]}).json()
    assert queue["analyst"] == "alice" and queue["counts"]["open"] == 3
    assert not list(data_dir.rglob("case-*.jsonl"))


def test_without_staff_keys_the_queue_is_readable_and_every_action_refused(data_dir):
    with _client(data_dir, StaffKeys()) as client:
        queue = client.get("/monitor/api/queue?view=all").json()
        refused = client.post("/monitor/api/alerts/T-fast/assign", json={})
    assert [a["transaction_id"] for a in queue["alerts"]] == ["T-fast", "T-late", "T-old"]
    assert refused.status_code == 403 and "FINTECH_STAFF_KEYS" in refused.json()["error"]


def test_the_queue_shows_alert_age_as_alert_time_minus_event_time(data_dir):
    with _client(data_dir) as client:
        alerts = client.get("/monitor/api/queue?view=all", headers={"X-Staff-Key": STAFF["bob"]}).json()["alerts"]
    for a in alerts:
        event, alerted = datetime.fromisoformat(a["event_time"]), datetime.fromisoformat(a["alerted_at"])
        assert a["alert_age_s"] == (alerted - event).total_seconds()
    assert {a["transaction_id"]: a["alert_age_s"] for a in alerts}["T-late"] == 26 * 3600


def test_assign_note_close_lands_one_event_each_with_who_and_when(data_dir):
    alice = {"X-Staff-Key": STAFF["alice"]}
    with _client(data_dir) as client:
        assert client.post("/monitor/api/alerts/T-late/assign", json={}, headers=alice).status_code == 200
        mine = client.get("/monitor/api/queue?view=mine", headers=alice).json()["alerts"]
        client.post("/monitor/api/alerts/T-late/note", json={"note": "merchant confirms refund"}, headers=alice)
        bad = client.post("/monitor/api/alerts/T-late/close", json={"disposition": "maybe"}, headers=alice)
        closed = client.post("/monitor/api/alerts/T-late/close", json={"disposition": "legitimate"}, headers=alice)
        unknown = client.post("/monitor/api/alerts/T-none/close", json={"disposition": "legitimate"}, headers=alice)
        after = client.get("/monitor/api/queue?view=open", headers=alice).json()
        case = client.get("/monitor/api/alerts/T-late", headers=alice).json()
        customer = client.get("/monitor/api/customers/C-1", headers=alice).json()
    assert [a["transaction_id"] for a in mine] == ["T-late"]
    assert bad.status_code == 422 and unknown.status_code == 404
    assert closed.json()["case"]["disposition"] == "legitimate" and closed.json()["recorded"]["analyst"] == "alice"
    assert "T-late" not in [a["transaction_id"] for a in after["alerts"]] and after["counts"]["open"] == 2
    assert [h["action"] for h in case["case"]["history"]] == ["assign", "note", "close"]
    assert len(list((data_dir / "landing" / FEED_NAME).rglob("case-*.jsonl"))) == 3
    # one click away: the customer's recent transactions and prior alerts
    assert [t["transaction_id"] for t in customer["recent_transactions"]] == ["T-fast", "T-calm", "T-old"]
    assert [a["transaction_id"] for a in customer["alerts"]] == ["T-fast", "T-old"]
    # a restarted monitor shows the same case state (rebuilt from the landed events)
    with _client(data_dir) as client:
        again = client.get("/monitor/api/alerts/T-late", headers=alice).json()
    assert again["alert"]["status"] == "closed" and again["alert"]["disposition"] == "legitimate"
