"""Stripe webhooks: verify ``Stripe-Signature`` with the SDK, land verified events, count every refusal.

``stripe.WebhookSignature.verify_header`` (the check inside
``stripe.Webhook.construct_event``) verifies the HMAC-SHA256 signature with the
endpoint's signing secret and refuses timestamps older than the tolerance
(replays). A verified event is landed once (its id is the batch id; a
redelivery is acknowledged without landing it again). Nothing here logs the
payload, the header or the secret.

The receiver runs on the same ASGI stack as the decision service (FastAPI on
uvicorn, guarded h11 protocol from ``lib/serving.py``). What each kind of bad
input gets — never a dropped connection, never an unbounded read:

=============================================  ======  ======================
request                                        status  counted in ``/stats``
=============================================  ======  ======================
missing/forged signature, stale timestamp      400     ``rejected_signature``
signed, but not a JSON event object            400     ``rejected_payload``
body over ``max_body_bytes`` (declared or       413     ``rejected_too_large``
streamed; refused before it is read)
``Content-Length: abc`` / ``-1``, bad request   400     ``rejected_malformed_http``
line, oversized headers (answered by uvicorn)
request not complete within ``read_timeout``    closed  ``rejected_timeout``
more than ``max_connections`` at once           503     (uvicorn's own limit)
unknown path / method                           404/405 ``rejected_not_found``
=============================================  ======  ======================

Refused deliveries are never landed (unverified bytes do not enter the
warehouse); each is counted and logged as one line with its reason, size and a
digest of the body. Stripe retries a delivery it did not get a 2xx for.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import stripe

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.open_banking.feeds import STRIPE_EVENTS
from fintech_dataops.lib.open_banking.landed import to_json_line
from fintech_dataops.lib.open_banking.stripe_sync import _fraud_report, major_units

DEFAULT_TOLERANCE_S = 300
DEFAULT_MAX_BODY_BYTES = 1_000_000  # Stripe event payloads are a few KB; well above the largest real one
DEFAULT_READ_TIMEOUT_S = 10.0
DEFAULT_MAX_CONNECTIONS = 100
WEBHOOK_PATH = "/stripe/webhooks"
STATS_FIELDS = ("accepted", "duplicates", "rejected_signature", "rejected_payload", "rejected_too_large",
                "rejected_malformed_http", "rejected_timeout", "rejected_not_found", "errors")


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
    rejected_too_large: int = 0
    rejected_malformed_http: int = 0
    rejected_timeout: int = 0
    rejected_not_found: int = 0
    errors: int = 0  # unexpected server-side failures (answered 500; Stripe retries)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def bump(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {name: getattr(self, name) for name in STATS_FIELDS}


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
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature or "", secret, tolerance)
    except stripe.SignatureVerificationError:
        stats.bump("rejected_signature")
        return WebhookOutcome(400, "rejected_signature")
    except UnicodeDecodeError:  # not text, so it cannot carry a valid signature
        stats.bump("rejected_signature")
        return WebhookOutcome(400, "rejected_signature")
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):
        body = None
    # Signed, yet not an event object (e.g. ``[1,2]``): refused with 400, never an exception.
    event_id = body.get("id") if isinstance(body, dict) else None
    created = body.get("created") if isinstance(body, dict) else None
    if (not isinstance(event_id, str) or type(created) is not int
            or not 0 <= created <= 253402300799):  # a timestamp datetime can represent (year ≤ 9999)
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
    try:
        record = event_record(body, received)
    except (AttributeError, TypeError, ValueError, OverflowError):  # fields of the wrong JSON type
        stats.bump("rejected_payload")
        return WebhookOutcome(400, "rejected_payload", event_id)
    try:
        path = landing.land_lines(landing_dir, STRIPE_EVENTS.name, received.date(), event_id, [to_json_line(record)])
    except FileExistsError:  # the same event delivered twice at once
        stats.bump("duplicates")
        return WebhookOutcome(200, "duplicate", event_id)
    stats.bump("accepted")
    return WebhookOutcome(200, "accepted", event_id, path.relative_to(landing_dir).as_posix())




def _refusal_line(result: str, status: int, size: int, payload: bytes | None = None) -> str:
    digest = f" sha256={hashlib.sha256(payload).hexdigest()[:16]}" if payload else ""
    return f"stripe webhook: refused {result} (HTTP {status}, {size} bytes{digest})"


def create_webhook_app(secret: str, landing_dir: Path, *, stats: WebhookStats, tolerance: int = DEFAULT_TOLERANCE_S,
                       max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, log=lambda message: None):
    """The receiver as an ASGI app (Starlette, the framework under FastAPI): ``POST /stripe/webhooks``, ``GET /stats``."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    if not secret:
        raise ValueError("a webhook signing secret is required (STRIPE_WEBHOOK_SECRET)")

    def refuse(status: int, result: str, size: int, payload: bytes | None = None, close: bool = False):
        stats.bump(result)
        log(_refusal_line(result, status, size, payload))
        # A request refused before its body was read cannot share the connection with the next one.
        headers = {"Connection": "close"} if close else None
        return JSONResponse({"result": result}, status_code=status, headers=headers)

    async def not_found(request: Request, exc: HTTPException):
        return refuse(exc.status_code, "rejected_not_found", 0)

    async def get_stats(request: Request):
        return JSONResponse(stats.as_dict())

    async def webhook(request: Request):
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            return refuse(413, "rejected_too_large", int(declared), close=True)
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_body_bytes:  # chunked uploads declare no length: counted as they come
                    return refuse(413, "rejected_too_large", size, close=True)
                chunks.append(chunk)
        except ClientDisconnect:  # cut off by the read deadline (counted there) or gone
            return JSONResponse({"result": "disconnected"}, status_code=400)
        payload = b"".join(chunks)
        try:
            outcome = await asyncio.to_thread(
                receive_event, payload, request.headers.get("stripe-signature"), secret,
                landing_dir=landing_dir, stats=stats, tolerance=tolerance)
        except Exception as exc:  # a failure on our side (disk full, ...): 500 so Stripe retries
            stats.bump("errors")
            log(f"stripe webhook: error {type(exc).__name__} (HTTP 500, {size} bytes)")
            return JSONResponse({"result": "error"}, status_code=500)
        if outcome.status >= 400:
            log(_refusal_line(outcome.result, outcome.status, size, payload))
        else:
            log(f"stripe webhook: {outcome.result} {outcome.event_id}")
        return JSONResponse({"result": outcome.result}, status_code=outcome.status)

    return Starlette(routes=[Route(WEBHOOK_PATH, webhook, methods=["POST"]), Route("/stats", get_stats, methods=["GET"])],
                     exception_handlers={HTTPException: not_found})


class WebhookReceiver:
    """``POST /stripe/webhooks`` on 127.0.0.1; ``GET /stats`` gives the counters.

    ``serve_forever()`` runs in the main thread and returns after SIGTERM/SIGINT (graceful: in-flight
    deliveries finish); ``start()``/``stop()`` (or ``with``) run it in a background thread.
    """

    def __init__(self, secret: str, landing_dir: Path, *, port: int = 0, tolerance: int = DEFAULT_TOLERANCE_S,
                 log=lambda message: None, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 read_timeout: float = DEFAULT_READ_TIMEOUT_S, max_connections: int = DEFAULT_MAX_CONNECTIONS):
        import uvicorn

        from fintech_dataops.lib.serving import bind_loopback, guarded_h11_protocol

        if max_body_bytes < 1 or read_timeout <= 0 or max_connections < 1:
            raise ValueError("max_body_bytes, read_timeout and max_connections must be positive")
        self.stats = WebhookStats()
        app = create_webhook_app(secret, landing_dir, stats=self.stats, tolerance=tolerance,
                                 max_body_bytes=max_body_bytes, log=log)

        def refused(reason: str) -> None:
            self.stats.bump(f"rejected_{reason}")
            log(f"stripe webhook: refused rejected_{reason} (before the request reached the receiver)")

        self._socket = bind_loopback("127.0.0.1", port)
        self._port = self._socket.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(
            app, http=guarded_h11_protocol(request_timeout=read_timeout, on_refused=refused),
            lifespan="off", log_level="critical", access_log=False, server_header=False,
            limit_concurrency=max_connections, timeout_keep_alive=5, timeout_graceful_shutdown=10,
            h11_max_incomplete_event_size=16 * 1024,
        ))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def serve_forever(self) -> None:
        from fintech_dataops.lib.serving import run_uvicorn

        try:
            run_uvicorn(self._server, [self._socket])
        finally:
            self._socket.close()

    def start(self) -> "WebhookReceiver":
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="stripe-webhooks", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self._socket.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
