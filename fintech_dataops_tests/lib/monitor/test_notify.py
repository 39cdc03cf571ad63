"""Fraud alert notifications: what is sent, deduplicated per customer, rate-limited, delivered off-thread."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fintech_dataops.lib.alerts import read_alerts
from fintech_dataops.lib.monitor.notify import FraudAlertNotifier, NotifyConfig


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def decision(tx, customer, kind="block", score=0.95):
    return {"transaction_id": tx, "customer_id": customer, "merchant_id": "M-1", "amount": 950.0, "currency": "USD",
            "decision": kind, "risk_score": score, "reasons": ["amount 950.00 > 800.00 USD requires review"],
            "rule_ids": ["HIGH_VALUE"], "event_time": "2026-11-30T12:00:00.000Z"}


def test_blocks_and_high_score_reviews_are_sent_low_score_reviews_are_not(tmp_path):
    notifier = FraudAlertNotifier(tmp_path / "alerts.log", config=NotifyConfig(review_score_at_least=0.9), clock=Clock())
    sent = notifier.observe([decision("T1", "C1"), decision("T2", "C2", "review", 0.93),
                             decision("T3", "C3", "review", 0.61), decision("T4", "C4", "approve", 0.99)])
    assert [a.details["transaction_id"] for a in sent] == ["T1", "T2"]
    assert [a.severity for a in sent] == ["ERROR", "WARN"]
    assert sent[0].details["monitor"].endswith("/monitor#q=T1")


def test_one_message_per_customer_per_window_and_the_next_says_how_many_were_folded(tmp_path):
    clock = Clock()
    notifier = FraudAlertNotifier(tmp_path / "alerts.log", config=NotifyConfig(per_customer_seconds=600), clock=clock)
    assert len(notifier.observe([decision(f"T{i}", "C1") for i in range(40)])) == 1  # a burst is one message
    clock.now += 599
    assert notifier.observe([decision("T40", "C1")]) == []
    clock.now += 2
    (again,) = notifier.observe([decision("T41", "C1")])
    assert "40 more alert(s) on this customer folded" in again.message
    assert notifier.counts["folded"] == 40


def test_at_most_max_per_minute_and_the_next_says_how_many_were_held_back(tmp_path):
    clock = Clock()
    notifier = FraudAlertNotifier(tmp_path / "alerts.log", config=NotifyConfig(max_per_minute=3), clock=clock)
    assert len(notifier.observe([decision(f"T{i}", f"C{i}") for i in range(10)])) == 3
    clock.now += 61
    (next_one,) = notifier.observe([decision("T99", "C99")])
    assert "7 notification(s) held back by the rate limit" in next_one.message


def test_delivery_writes_the_alert_log_and_posts_to_slack_without_logging_the_url(tmp_path, caplog):
    received = []

    class Slack(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/services/SECRET-PATH"
    notifier = FraudAlertNotifier(tmp_path / "alerts.log", slack_url=url, clock=Clock())
    notifier.start()
    try:
        notifier.observe([decision("T1", "C1")])
    finally:
        notifier.close()
        server.shutdown()
    (logged,) = read_alerts(tmp_path / "alerts.log")
    assert logged["kind"] == "fraud_alert" and logged["details"]["transaction_id"] == "T1"
    assert len(received) == 1 and "customer C1" in received[0]["text"]
    assert "SECRET-PATH" not in caplog.text and notifier.counts["sent"] == 1


def test_a_batch_of_alerts_notifies_recent_new_ones_once_per_customer_within_the_limit(tmp_path):
    """The daily `fraud/alerts` asset: partner-file transactions never pass the service, so their
    blocks and high-score reviews are notified by the batch — recent ones, not already sent, one per
    customer, at most `max_per_minute`, and a summary of the rest."""
    from datetime import datetime, timedelta, timezone

    from fintech_dataops.lib.alerts import append_alert, read_alerts
    from fintech_dataops.lib.monitor.notify import (
        NotifyConfig,
        batch_notifications,
        fraud_alert,
        notified_transactions,
    )

    now = datetime(2026, 12, 1, 6, 0, tzinfo=timezone.utc)
    recent, old = "2026-12-01T01:00:00", "2026-11-20T01:00:00"

    def alert(tx, customer, decision="block", score=0.99, at=recent):
        return {"transaction_id": tx, "customer_id": customer, "merchant_id": "M1", "amount": 950.0,
                "currency": "USD", "event_time": at, "decision": decision, "risk_score": score,
                "reasons": ["HIGH_VALUE"], "rule_ids": ["HIGH_VALUE"]}

    log = tmp_path / "alerts.log"
    append_alert(log, fraud_alert(alert("T-sent", "C9")))  # the service already paged about this one
    rows = [alert("T-sent", "C9"), alert("T-old", "C8", at=old), alert("T-low", "C7", "review", 0.5),
            alert("T1", "C1", "review", 0.95), alert("T2", "C1"), alert("T3", "C1", "review", 0.97)]
    rows += [alert(f"T-many-{i}", f"C-many-{i}", "review", 0.9 + i / 1000) for i in range(5)]
    already = notified_transactions(log)
    assert already == {"T-sent"}
    sent = batch_notifications(rows, already=already, now=now, within=timedelta(hours=24),
                               config=NotifyConfig(max_per_minute=3))
    # C1's block first (its two reviews folded into it), then the two best-scored others, then a summary.
    assert [a.details.get("transaction_id") for a in sent[:3]] == ["T2", "T-many-4", "T-many-3"]
    assert "2 more alert(s) on this customer folded" in sent[0].message
    assert sent[3].title == "3 more customer(s) with new fraud alerts in this batch"
    assert sent[3].details["transaction_ids"] == ["T-many-2", "T-many-1", "T-many-0"]
    for notification in sent:
        append_alert(log, notification)
    assert notified_transactions(log) == {"T-sent", "T2", "T-many-4", "T-many-3"}
    assert len(read_alerts(log)) == 5
    # The same batch again (a rerun of the day) sends nothing twice.
    again = batch_notifications(rows, already=notified_transactions(log), now=now, within=timedelta(hours=24),
                                config=NotifyConfig(max_per_minute=3))
    assert "T2" not in {a.details.get("transaction_id") for a in again}
