"""Stripe webhooks: verify ``Stripe-Signature`` with the SDK, land verified events, count rejections.

``stripe.Webhook.construct_event`` checks the HMAC-SHA256 signature with the
endpoint's signing secret and refuses timestamps older than the tolerance
(replays). A verified event is landed once (its id is the batch id; a
redelivery is acknowledged without landing it again). Nothing here logs the
payload, the header or the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import stripe

from fintech_dataops.lib import landing
from fintech_dataops.lib.open_banking.feeds import STRIPE_EVENTS
from fintech_dataops.lib.open_banking.landed import to_json_line
from fintech_dataops.lib.open_banking.stripe_sync import _fraud_report, major_units

DEFAULT_TOLERANCE_S = 300
WEBHOOK_PATH = "/stripe/webhooks"


def sign_payload(payload: str | bytes, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload`` (what Stripe sends; used by tests and the emulator)."""
    text = payload.decode() if isinstance(payload, bytes) else payload
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.{text}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


@dataclass
class WebhookStats:
    accepted: int = 0
    duplicates: int = 0
    rejected_signature: int = 0
    rejected_payload: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def bump(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {name: getattr(self, name)
                    for name in ("accepted", "duplicates", "rejected_signature", "rejected_payload")}


@dataclass(frozen=True)
class WebhookOutcome:
    status: int          # HTTP status to answer Stripe with
    result: str          # accepted | duplicate | rejected_signature | rejected_payload
    event_id: str | None = None
    landed_file: str | None = None


def event_record(event: dict, received: datetime) -> dict:
    obj = (event.get("data") or {}).get("object") or {}
    kind = obj.get("object")
    charge_id = obj.get("id") if kind == "charge" else obj.get("charge")
    customer = (obj.get("metadata") or {}).get("customer_id")
    return {
        "event_id": event["id"], "event_type": event.get("type"), "object_type": kind, "object_id": obj.get("id"),
        "charge_id": charge_id if isinstance(charge_id, str) else None, "customer_id": customer,
        "amount": major_units(obj.get("amount"), obj.get("currency")),
        "currency": (obj.get("currency") or "").upper() or None,
        "fraud_report": _fraud_report(obj) if kind == "charge" else None,
        "reason": obj.get("reason") if kind == "dispute" else None,
        "api_version": event.get("api_version"),
        "event_time": datetime.fromtimestamp(event["created"], tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "received_time": received.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": "stripe_webhook", "api_object": event,
    }


def _already_landed(landing_dir: Path, event_id: str) -> bool:
    return any(
        (landing.partition_dir(landing_dir, STRIPE_EVENTS.name, day) / f"{event_id}.jsonl").exists()
        for day in landing.landed_days(landing_dir, STRIPE_EVENTS.name)
    )


def receive_event(payload: bytes, signature: str | None, secret: str, *, landing_dir: Path, stats: WebhookStats,
                  tolerance: int = DEFAULT_TOLERANCE_S, now: datetime | None = None) -> WebhookOutcome:
    """Verify one delivery and land it. Bad input is an outcome (400), never an exception."""
    try:
        event = stripe.Webhook.construct_event(payload, signature or "", secret, tolerance)
    except stripe.SignatureVerificationError:
        stats.bump("rejected_signature")
        return WebhookOutcome(400, "rejected_signature")
    except ValueError:
        stats.bump("rejected_payload")
        return WebhookOutcome(400, "rejected_payload")
    body = json.loads(payload)
    event_id = body.get("id") if isinstance(body, dict) else None
    if not isinstance(event_id, str) or not isinstance(body.get("created"), int):
        stats.bump("rejected_payload")
        return WebhookOutcome(400, "rejected_payload")
    try:
        landing.safe_name(event_id, "event id")
    except landing.LandingPathError:
        stats.bump("rejected_payload")
        return WebhookOutcome(400, "rejected_payload")
    if _already_landed(landing_dir, event_id):
        stats.bump("duplicates")
        return WebhookOutcome(200, "duplicate", event_id)
    received = now or datetime.now(timezone.utc)
    record = event_record(body, received)
    try:
        path = landing.land_lines(landing_dir, STRIPE_EVENTS.name, received.date(), event_id, [to_json_line(record)])
    except FileExistsError:  # the same event delivered twice at once
        stats.bump("duplicates")
        return WebhookOutcome(200, "duplicate", event_id)
    stats.bump("accepted")
    del event  # verified; the landed record keeps the exact JSON body
    return WebhookOutcome(200, "accepted", event_id, path.relative_to(landing_dir).as_posix())


class WebhookReceiver:
    """``POST /stripe/webhooks`` on 127.0.0.1; ``GET /stats`` gives the counters."""

    def __init__(self, secret: str, landing_dir: Path, *, port: int = 0, tolerance: int = DEFAULT_TOLERANCE_S,
                 log=lambda message: None):
        if not secret:
            raise ValueError("a webhook signing secret is required (STRIPE_WEBHOOK_SECRET)")
        self.stats = WebhookStats()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002 - silence the default stderr access log
                pass

            def _reply(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                if self.path == "/stats":
                    self._reply(200, receiver.stats.as_dict())
                else:
                    self._reply(404, {"error": "not found"})

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length) if length else b""
                if self.path != WEBHOOK_PATH:
                    self._reply(404, {"error": "not found"})
                    return
                outcome = receive_event(payload, self.headers.get("Stripe-Signature"), secret,
                                        landing_dir=landing_dir, stats=receiver.stats, tolerance=tolerance)
                log(f"stripe webhook: {outcome.result}" + (f" {outcome.event_id}" if outcome.event_id else ""))
                self._reply(outcome.status, {"result": outcome.result})

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def start(self) -> "WebhookReceiver":
        self._thread = threading.Thread(target=self._server.serve_forever, name="stripe-webhooks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
