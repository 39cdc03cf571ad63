"""Stripe webhook verification with stripe.Webhook.construct_event, and the loopback receiver."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from fintech_dataops.lib.ingestion.landing import landed_days, landed_files
from fintech_dataops.lib.open_banking.emulator_data import stripe_event
from fintech_dataops.lib.open_banking.webhooks import (
    STATS_FIELDS,
    WebhookReceiver,
    WebhookStats,
    receive_event,
    sign_payload,
)

SECRET = "whsec_testSigningSecret0123456789"


def payload(emulator, event_type="charge.refunded") -> bytes:
    charge = emulator.stripe.charges[0]
    return json.dumps(stripe_event(event_type, charge, created=int(time.time()))).encode()


def landed_events(landing) -> list[dict]:
    return [json.loads(line) for day in landed_days(landing, "stripe_events")
            for path in landed_files(landing, "stripe_events", day) for line in path.read_text().splitlines()]


def test_valid_signature_lands_once(emulator, tmp_path):
    stats, body = WebhookStats(), payload(emulator)
    outcome = receive_event(body, sign_payload(body, SECRET), SECRET, landing_dir=tmp_path, stats=stats)
    assert (outcome.status, outcome.result) == (200, "accepted")
    again = receive_event(body, sign_payload(body, SECRET), SECRET, landing_dir=tmp_path, stats=stats)
    assert (again.status, again.result) == (200, "duplicate")
    events = landed_events(tmp_path)
    assert len(events) == 1
    assert events[0]["api_object"] == json.loads(body), "the event is landed losslessly"
    assert events[0]["charge_id"] == emulator.stripe.charges[0]["id"]
    assert stats.as_dict() == {**dict.fromkeys(STATS_FIELDS, 0), "accepted": 1, "duplicates": 1}


def test_invalid_signature_is_rejected_and_counted(emulator, tmp_path):
    stats, body = WebhookStats(), payload(emulator)
    forged = receive_event(body, sign_payload(body, "whsec_not_the_secret"), SECRET, landing_dir=tmp_path, stats=stats)
    tampered = receive_event(body.replace(b"charge.refunded", b"charge.succeeded"), sign_payload(body, SECRET), SECRET,
                             landing_dir=tmp_path, stats=stats)
    missing = receive_event(body, None, SECRET, landing_dir=tmp_path, stats=stats)
    assert {forged.status, tampered.status, missing.status} == {400}
    assert stats.rejected_signature == 3 and stats.accepted == 0
    assert landed_events(tmp_path) == []


def test_replay_outside_tolerance_is_rejected(emulator, tmp_path):
    stats, body = WebhookStats(), payload(emulator)
    old = sign_payload(body, SECRET, timestamp=int(time.time()) - 301)
    outcome = receive_event(body, old, SECRET, landing_dir=tmp_path, stats=stats, tolerance=300)
    assert (outcome.status, outcome.result) == (400, "rejected_signature")
    fresh = receive_event(body, sign_payload(body, SECRET, timestamp=int(time.time()) - 200), SECRET,
                          landing_dir=tmp_path, stats=stats, tolerance=300)
    assert fresh.result == "accepted"


def test_receiver_over_loopback(emulator, tmp_path):
    body = payload(emulator, "charge.dispute.created")
    lines = []
    with WebhookReceiver(SECRET, tmp_path, log=lines.append) as receiver:
        ok = urllib.request.Request(receiver.url, data=body, method="POST",
                                    headers={"Stripe-Signature": sign_payload(body, SECRET)})
        with urllib.request.urlopen(ok, timeout=5) as response:
            assert response.status == 200
        bad = urllib.request.Request(receiver.url, data=body, method="POST",
                                     headers={"Stripe-Signature": sign_payload(body, "whsec_wrong")})
        try:
            urllib.request.urlopen(bad, timeout=5)
            raise AssertionError("a bad signature must be refused")
        except urllib.error.HTTPError as exc:
            assert exc.code == 400
        with urllib.request.urlopen(receiver.url.rsplit("/", 2)[0] + "/stats", timeout=5) as response:
            stats = json.loads(response.read())
    assert stats["accepted"] == 1 and stats["rejected_signature"] == 1
    assert all(SECRET not in line for line in lines)
    assert receiver.url.startswith("http://127.0.0.1:")


def test_verified_events_become_fraud_labels(emulator, tmp_path):
    import duckdb

    from fintech_dataops.lib.open_banking import layers, tables

    refunded = dict(emulator.stripe.charges[1], refunded=True, amount_refunded=emulator.stripe.charges[1]["amount"],
                    fraud_details={"user_report": "fraudulent"})
    dispute = dict(emulator.stripe.charges[2])
    dispute_obj = {"id": "dp_webhookTest01", "object": "dispute", "charge": dispute["id"], "amount": dispute["amount"],
                   "currency": "usd", "reason": "fraudulent", "status": "needs_response", "created": int(time.time())}
    stats = WebhookStats()
    for event in (stripe_event("charge.refunded", refunded, created=int(time.time())),
                  stripe_event("charge.dispute.created", dispute_obj, created=int(time.time()))):
        body = json.dumps(event).encode()
        assert receive_event(body, sign_payload(body, SECRET), SECRET, landing_dir=tmp_path, stats=stats).result == "accepted"
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    layers.load_raw_feed(con, tmp_path, "stripe_events")
    assert layers.load_core_feed(con, "stripe_events").valid_rows == 2
    tables.build_stripe_fraud_labels(con)
    labels = {r[0]: r[1:] for r in con.execute(
        "SELECT label_id, transaction_id, customer_id, is_fraud, fraud_type FROM open_banking.stripe_fraud_labels").fetchall()}
    assert labels[f"stripe:refund:{refunded['id']}"] == (
        f"stripe:{refunded['id']}", refunded["metadata"]["customer_id"], True, "refund_fraudulent")
    assert labels["stripe:dp_webhookTest01"][2:] == (True, "chargeback_fraud")
