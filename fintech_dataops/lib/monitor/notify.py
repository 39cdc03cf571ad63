"""Fraud alerts to the alert sink (``alerts.log`` + Slack when configured), in seconds, not when looked at.

The decision service hands every new alert to ``FraudAlertNotifier.observe`` on its scoring thread;
what is worth a notification — a ``block``, or a ``review`` scored at least ``review_score_at_least``
— is queued, and a background thread writes it (the scoring thread never waits on a disk or on
Slack). Deduplicated per customer: after a notification about a customer, that customer's further
alerts for ``per_customer_seconds`` are folded into a count, not sent (a burst of card testing is one
message, not forty). Rate-limited: at most ``max_per_minute`` notifications a minute over all
customers; the next one sent says how many were held back. The queue is bounded: past it, alerts
are counted as dropped rather than growing memory.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from fintech_dataops.lib.alerts import Alert, append_alert, post_to_slack

log = logging.getLogger("fintech_dataops.monitor.notify")
KIND = "fraud_alert"


@dataclass(frozen=True)
class NotifyConfig:
    review_score_at_least: float = 0.9
    per_customer_seconds: float = 600.0
    max_per_minute: int = 30
    queue_size: int = 10_000
    monitor_url: str = "http://127.0.0.1:8700/monitor"  # lib.monitor.router.DEFAULT_MONITOR_URL


def fraud_alert(decision: dict, *, folded: int = 0, held_back: int = 0, monitor_url: str = "") -> Alert:
    """The sink's alert for one decision (what the analyst needs to act from the message alone)."""
    amount = decision.get("amount")
    money = f"{amount:,.2f} {decision.get('currency') or ''}".strip() if isinstance(amount, (int, float)) else str(amount)
    extra = []
    if folded:
        extra.append(f"{folded} more alert(s) on this customer folded into this one")
    if held_back:
        extra.append(f"{held_back} notification(s) held back by the rate limit")
    return Alert(
        kind=KIND,
        severity="ERROR" if decision.get("decision") == "block" else "WARN",
        title=f"{decision.get('decision')} {money} customer {decision.get('customer_id')} "
              f"merchant {decision.get('merchant_id')} (score {decision.get('risk_score')})",
        message="; ".join([*(decision.get("reasons") or []), *extra]) or "model score",
        dedup_key=f"{KIND}:{decision.get('customer_id')}:{decision.get('transaction_id')}",
        details={k: decision.get(k) for k in ("transaction_id", "customer_id", "merchant_id", "amount", "currency",
                                               "event_time", "decided_at", "risk_score", "rule_ids", "channel", "country")}
        | {"monitor": f"{monitor_url}#q={decision.get('transaction_id')}" if monitor_url else None},
    )


def worth_notifying(decision: dict, config: NotifyConfig) -> bool:
    """A block, or a review scored at least ``review_score_at_least``."""
    if decision.get("decision") == "block":
        return True
    score = decision.get("risk_score")
    return decision.get("decision") == "review" and score is not None and score >= config.review_score_at_least


def notified_transactions(log_path: Path, newest_bytes: int = 16 << 20) -> set[str]:
    """Transaction ids of the fraud alerts already in the alert log (its newest ``newest_bytes``):
    what the decision service or an earlier run has notified is not notified again."""
    path = Path(log_path)
    if not path.exists():
        return set()
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - newest_bytes))
        lines = handle.read().splitlines()
    if size > newest_bytes:
        lines = lines[1:]  # the first may be cut
    seen = set()
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("kind") == KIND:
            transaction = (record.get("details") or {}).get("transaction_id")
            if transaction is not None:
                seen.add(str(transaction))
    return seen


def _plain(value):
    """A value as the alert's JSON details carry it (times as ISO text, decimals and numpy as numbers)."""
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _event_time(decision: dict) -> datetime | None:
    value = decision.get("event_time")
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def batch_notifications(alerts: Iterable[dict], *, already: set[str], now: datetime, within: timedelta,
                        config: NotifyConfig | None = None) -> list[Alert]:
    """The notifications a batch of alerts (the daily ``fraud/alerts`` asset) owes, the service's rules
    applied to one batch at once.

    Only what happened within ``within`` of ``now`` (a backfill of old days pages nobody), not already
    notified (``already``: the service, or an earlier run, sent it), worth it (:func:`worth_notifying`).
    One notification per customer (the block, else the highest score; the rest folded into its count),
    at most ``max_per_minute`` of them by severity and score, and one summary for those held back.
    """
    config = config or NotifyConfig()
    cutoff = now - within
    by_customer: dict[str, list[dict]] = {}
    for decision in alerts:
        decision = {k: _plain(v) for k, v in decision.items()}
        moment = _event_time(decision)
        if str(decision.get("transaction_id")) in already or moment is None or moment < cutoff \
                or not worth_notifying(decision, config):
            continue
        by_customer.setdefault(str(decision.get("customer_id")), []).append(decision)

    def rank(decision: dict) -> tuple:
        return decision.get("decision") == "block", decision.get("risk_score") or 0.0

    firsts = sorted(((max(group, key=rank), len(group) - 1) for group in by_customer.values()),
                    key=lambda pair: rank(pair[0]), reverse=True)
    out = [fraud_alert(d, folded=folded, monitor_url=config.monitor_url)
           for d, folded in firsts[: config.max_per_minute]]
    held = firsts[config.max_per_minute:]
    if held:
        out.append(Alert(kind=KIND, severity="WARN",
                         title=f"{len(held)} more customer(s) with new fraud alerts in this batch",
                         message=f"held back by the rate limit ({config.max_per_minute} a batch): see the monitor",
                         dedup_key=f"{KIND}:batch:{now.isoformat()}",
                         details={"transaction_ids": [d["transaction_id"] for d, _ in held[:100]],
                                  "monitor": config.monitor_url or None}))
    return out


@dataclass
class FraudAlertNotifier:
    log_path: Path
    slack_url: str = field(default="", repr=False)  # a secret: never logged
    config: NotifyConfig = field(default_factory=NotifyConfig)
    clock: Callable[[], float] = time.monotonic
    post: Callable[[str, Alert], str | None] = post_to_slack

    def __post_init__(self) -> None:
        self._last_sent: dict[str, float] = {}
        self._folded: dict[str, int] = {}
        self._sent_times: list[float] = []
        self._held_back = 0
        self._queue: queue.Queue[Alert | None] = queue.Queue(self.config.queue_size)
        self.counts = {"sent": 0, "folded": 0, "rate_limited": 0, "dropped": 0, "slack_errors": 0}
        self._thread: threading.Thread | None = None

    def worth_notifying(self, decision: dict) -> bool:
        return worth_notifying(decision, self.config)

    def observe(self, alerts: list[dict]) -> list[Alert]:
        """Decide what to notify (cheap, on the caller's thread); returns the alerts queued."""
        queued = []
        now = self.clock()
        # One clock reading per call: the sends of the last minute are pruned once, not per alert
        # (in an alert storm that was a pass over the list for each of thousands of alerts).
        self._sent_times = [t for t in self._sent_times if now - t < 60.0]
        for decision in alerts:
            if not self.worth_notifying(decision):
                continue
            customer = str(decision.get("customer_id"))
            last = self._last_sent.get(customer)
            if last is not None and now - last < self.config.per_customer_seconds:
                self._folded[customer] = self._folded.get(customer, 0) + 1
                self.counts["folded"] += 1
                continue
            if len(self._sent_times) >= self.config.max_per_minute:
                self._held_back += 1
                self.counts["rate_limited"] += 1
                continue
            alert = fraud_alert(decision, folded=self._folded.pop(customer, 0), held_back=self._held_back,
                                monitor_url=self.config.monitor_url)
            try:
                self._queue.put_nowait(alert)
            except queue.Full:
                self.counts["dropped"] += 1
                continue
            self._held_back = 0
            self._last_sent[customer] = now
            self._sent_times.append(now)
            queued.append(alert)
        if len(self._last_sent) > 100_000:  # bounded memory: forget customers whose window is over
            self._last_sent = {c: t for c, t in self._last_sent.items() if now - t < self.config.per_customer_seconds}
        return queued

    def start(self) -> None:
        self._thread = threading.Thread(target=self._deliver, name="fraud-alert-notifier", daemon=True)
        self._thread.start()

    def _deliver(self) -> None:
        while (alert := self._queue.get()) is not None:
            self.deliver(alert)

    def deliver(self, alert: Alert) -> None:
        try:
            append_alert(self.log_path, alert)
        except OSError as exc:
            log.error("fraud alert %s not written to the alert log: %s", alert.dedup_key, exc)
        log.warning("ALERT %s", alert.to_text())
        self.counts["sent"] += 1
        if self.slack_url:
            error = self.post(self.slack_url, alert)
            if error:
                self.counts["slack_errors"] += 1
                log.error("Slack refused fraud alert %s: %s", alert.dedup_key, error)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued, then stop the thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None
