"""An offline Plaid + Stripe sandbox: a small HTTP server on 127.0.0.1 for the real SDKs to talk to.

Endpoints (request/response shapes of the public APIs):

- Plaid ``POST /accounts/balance/get`` and ``POST /transactions/sync`` (cursor,
  ``added``/``modified``/``removed``, ``has_more``, ``next_cursor``),
- Stripe ``GET /v1/charges``, ``/v1/payment_intents``, ``/v1/balance_transactions``,
  ``/v1/disputes`` (``created[gte|gt|lte|lt]``, ``limit``, ``starting_after``,
  ``ending_before``, ``has_more``; newest first like Stripe).

Tests (and demos) drive it: ``as_of`` decides which data exists yet, ``inject``
queues HTTP failures (429 with ``Retry-After``, 5xx) and
``inject_plaid_mutation`` makes the next mid-pagination sync page fail with
``TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION``. Credentials are checked, and
error bodies never echo them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from fintech_dataops.lib.open_banking import emulator_data as data
from fintech_dataops.lib.open_banking.emulator_data import EmulatorConfig, PlaidChange

STRIPE_LIST_PATHS = ("charges", "payment_intents", "balance_transactions", "disputes")
MAX_PLAID_COUNT = 500
MAX_STRIPE_LIMIT = 100
MAX_REQUEST_BYTES = 1_000_000  # larger bodies get 413 before they are read
REQUEST_TIMEOUT_S = 10.0  # a client silent this long mid-request is disconnected


@dataclass
class InjectedFault:
    path_prefix: str
    status: int
    retry_after: float | None = None


class SandboxEmulator:
    """The sandbox server. ``start()`` binds 127.0.0.1 on an ephemeral port; use as a context manager."""

    def __init__(self, config: EmulatorConfig, as_of: datetime | None = None):
        self.config = config
        self.as_of = as_of or datetime.combine(config.end, datetime.min.time(), tzinfo=timezone.utc)
        self.items = data.plaid_items(config)
        self._by_token = {item.access_token: item for item in self.items}
        self._logs = {item.item_id: data.plaid_change_log(config, item) for item in self.items}
        self.stripe = data.StripeGenerator(config).generate()
        self._faults: deque[InjectedFault] = deque()
        self._mutations_armed = 0
        self._mid_pagination: set[str] = set()
        self._lock = threading.Lock()
        self.requests: list[dict] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, port: int = 0) -> "SandboxEmulator":
        handler = type("SandboxHandler", (_Handler,), {"emulator": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="open-banking-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "SandboxEmulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("emulator not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def access_tokens(self) -> dict[str, str]:
        """Linked items as the platform configures them: customer id → access token."""
        return {item.customer_id: item.access_token for item in self.items}

    # ------------------------------------------------------------------ test controls
    def inject(self, path_prefix: str, status: int, *, times: int = 1, retry_after: float | None = None) -> None:
        with self._lock:
            for _ in range(times):
                self._faults.append(InjectedFault(path_prefix, status, retry_after))

    def inject_plaid_mutation(self, times: int = 1) -> None:
        with self._lock:
            self._mutations_armed += times

    def advance(self, delta: timedelta) -> None:
        self.as_of = self.as_of + delta

    def requests_to(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    # ------------------------------------------------------------------ request handling
    def _take_fault(self, path: str) -> InjectedFault | None:
        with self._lock:
            for fault in list(self._faults):
                if path.startswith(fault.path_prefix):
                    self._faults.remove(fault)
                    return fault
        return None

    def handle_plaid(self, path: str, headers, body: dict) -> tuple[int, dict]:
        client_id = headers.get("PLAID-CLIENT-ID") or body.get("client_id") or ""
        secret = headers.get("PLAID-SECRET") or body.get("secret") or ""
        if not (_same_secret(client_id, self.config.plaid_client_id)
                and _same_secret(secret, self.config.plaid_secret)):
            return 400, _plaid_error("INVALID_INPUT", "INVALID_API_KEYS",
                                     "invalid client_id or secret provided")
        token = body.get("access_token")
        item = self._by_token.get(token) if isinstance(token, str) else None
        if item is None:
            return 400, _plaid_error("INVALID_INPUT", "INVALID_ACCESS_TOKEN",
                                     "provided access token is in an invalid format or does not exist")
        if path == "/accounts/balance/get":
            return 200, {"accounts": data.plaid_balances(self.config, item, self.as_of),
                         "item": data.plaid_item_object(item), "request_id": self._request_id()}
        if path == "/item/get":
            return 200, {"item": data.plaid_item_object(item), "request_id": self._request_id()}
        if path == "/transactions/sync":
            return self._transactions_sync(item, body)
        return 404, _plaid_error("INVALID_REQUEST", "NOT_FOUND", f"unknown endpoint {path}")

    def _transactions_sync(self, item: data.PlaidItem, body: dict) -> tuple[int, dict]:
        cursor = body.get("cursor") or ""
        if not isinstance(cursor, str):
            return 400, _plaid_error("INVALID_REQUEST", "INVALID_FIELD", "cursor must be a string")
        count = body.get("count", 100)
        if not isinstance(count, int) or not 1 <= count <= MAX_PLAID_COUNT:
            return 400, _plaid_error("INVALID_REQUEST", "INVALID_FIELD", "count must be between 1 and 500")
        after_key = ""
        if cursor:
            decoded = _decode_cursor(cursor)
            if decoded is None or decoded[0] != item.item_id:
                return 400, _plaid_error("INVALID_REQUEST", "INVALID_FIELD", "cursor is invalid for this item")
            after_key = decoded[1]
        with self._lock:
            if self._mutations_armed and cursor in self._mid_pagination:
                self._mutations_armed -= 1
                return 400, _plaid_error(
                    "TRANSACTIONS_ERROR", "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION",
                    "Underlying transaction data changed since last page was fetched. Please restart pagination "
                    "from last update.")
        visible = [c for c in self._logs[item.item_id] if c.available_at <= self.as_of and c.key > after_key]
        page, has_more = visible[:count], len(visible) > count
        next_cursor = _encode_cursor(item.item_id, page[-1].key if page else after_key)
        if has_more:
            with self._lock:
                self._mid_pagination.add(next_cursor)
        added, modified, removed = _collapse(page)
        return 200, {
            "transactions_update_status": "HISTORICAL_UPDATE_COMPLETE",
            "accounts": data.plaid_balances(self.config, item, self.as_of),
            "added": added, "modified": modified, "removed": removed,
            "next_cursor": next_cursor, "has_more": has_more, "request_id": self._request_id(),
        }

    def handle_stripe(self, path: str, headers, query: dict[str, list[str]]) -> tuple[int, dict]:
        auth = headers.get("Authorization") or ""
        key = auth[7:] if auth.startswith("Bearer ") else ""
        if not _same_secret(key, self.config.stripe_api_key):
            return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided."}}
        kind = path.removeprefix("/v1/")
        if kind not in STRIPE_LIST_PATHS:
            return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL (GET: {path})."}}
        try:
            limit = int(query.get("limit", ["10"])[0])
            bounds = {op: int(query[f"created[{op}]"][0]) for op in ("gte", "gt", "lte", "lt") if f"created[{op}]" in query}
            if "created" in query:
                bounds["eq"] = int(query["created"][0])
        except ValueError:
            return 400, {"error": {"type": "invalid_request_error", "message": "Invalid integer parameter."}}
        if not 1 <= limit <= MAX_STRIPE_LIMIT:
            return 400, {"error": {"type": "invalid_request_error", "param": "limit",
                                   "message": "This value must be between 1 and 100."}}
        as_of = int(self.as_of.timestamp())
        rows = [o for o in self.stripe.visible(kind, as_of) if _created_matches(o["created"], bounds)]
        rows.sort(key=lambda o: (o["created"], o["id"]), reverse=True)
        ids = [o["id"] for o in rows]
        if "starting_after" in query:
            anchor = query["starting_after"][0]
            if anchor not in ids:
                return 400, {"error": {"type": "invalid_request_error", "param": "starting_after",
                                       "message": f"No such object: '{anchor}'"}}
            rows = rows[ids.index(anchor) + 1:]
            page, has_more = rows[:limit], len(rows) > limit
        elif "ending_before" in query:
            anchor = query["ending_before"][0]
            if anchor not in ids:
                return 400, {"error": {"type": "invalid_request_error", "param": "ending_before",
                                       "message": f"No such object: '{anchor}'"}}
            rows = rows[:ids.index(anchor)]
            page, has_more = rows[-limit:], len(rows) > limit
        else:
            page, has_more = rows[:limit], len(rows) > limit
        return 200, {"object": "list", "url": path, "has_more": has_more, "data": page}

    def _request_id(self) -> str:
        return data.stable_id("req", len(self.requests), length=15)


def _plaid_error(error_type: str, code: str, message: str) -> dict:
    return {"error_type": error_type, "error_code": code, "error_message": message, "display_message": None,
            "request_id": data.stable_id(code, message, length=15), "causes": [], "status": 400,
            "documentation_url": f"https://plaid.com/docs/errors/#{code.lower()}", "suggested_action": None}


def _encode_cursor(item_id: str, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([item_id, key]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[str, str] | None:
    try:
        item_id, key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, TypeError, RecursionError):
        return None
    return (item_id, key) if isinstance(item_id, str) and isinstance(key, str) else None


def _collapse(page: list[PlaidChange]) -> tuple[list[dict], list[dict], list[dict]]:
    """Net effect of a page per transaction, as Plaid reports it (an add then edit is one add)."""
    net: dict[str, tuple[str, dict]] = {}
    for change in page:
        txn_id = change.transaction["transaction_id"]
        before = net.get(txn_id, (None, None))[0]
        if change.kind == "added":
            net[txn_id] = ("added", change.transaction)
        elif change.kind == "modified":
            net[txn_id] = ("added" if before == "added" else "modified", change.transaction)
        elif before == "added":
            del net[txn_id]
        else:
            net[txn_id] = ("removed", change.transaction)
    kinds = {"added": [], "modified": [], "removed": []}
    for kind, transaction in net.values():
        kinds[kind].append(transaction)
    return kinds["added"], kinds["modified"], kinds["removed"]


def _same_secret(given, expected: str) -> bool:
    """Constant-time comparison that treats any non-string or non-ASCII value as simply wrong."""
    return isinstance(given, str) and hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def _created_matches(created: int, bounds: dict[str, int]) -> bool:
    return all((
        created >= bounds.get("gte", created), created > bounds.get("gt", created - 1),
        created <= bounds.get("lte", created), created < bounds.get("lt", created + 1),
        created == bounds.get("eq", created),
    ))


class _Handler(BaseHTTPRequestHandler):
    """Every request gets an answer: malformed ones a 4xx, never a dropped connection or a stuck thread."""

    emulator: SandboxEmulator
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT_S  # socket timeout: slow or stalled clients are cut off

    def log_message(self, format, *args) -> None:  # noqa: A002 - stdlib signature
        """Silent: request lines are recorded in ``emulator.requests`` instead of stderr."""

    def _send(self, status: int, payload: dict, retry_after: float | None = None, close: bool = False) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
        if retry_after is not None:
            self.send_header("Retry-After", f"{retry_after:g}")
        if self.path.startswith("/v1/"):
            self.send_header("Request-Id", f"req_{data.stable_id(len(self.emulator.requests), length=14)}")
        self.end_headers()
        self.wfile.write(body)

    def _record(self, status: int) -> None:
        path = urlsplit(self.path).path
        self.emulator.requests.append({
            "method": self.command, "path": path, "status": status,
            "idempotency_key": self.headers.get("Idempotency-Key"),
        })

    def _fault(self, path: str) -> bool:
        fault = self.emulator._take_fault(path)
        if fault is None:
            return False
        if path.startswith("/v1/"):
            payload = {"error": {"type": "api_error" if fault.status >= 500 else "invalid_request_error",
                                 "code": "rate_limit" if fault.status == 429 else None,
                                 "message": "Too many requests." if fault.status == 429 else "Internal server error."}}
        else:
            payload = _plaid_error("RATE_LIMIT_EXCEEDED" if fault.status == 429 else "API_ERROR",
                                   "RATE_LIMIT" if fault.status == 429 else "INTERNAL_SERVER_ERROR",
                                   "rate limit exceeded" if fault.status == 429 else "an unexpected error occurred")
            payload["status"] = fault.status
        self._record(fault.status)
        self._send(fault.status, payload, fault.retry_after)
        return True

    def _refuse(self, status: int, message: str) -> None:
        """Answer a request whose body was not read, and close the connection (its framing is unknown)."""
        self.close_connection = True
        self._record(status)
        self._send(status, _plaid_error("INVALID_REQUEST", "INVALID_BODY", message), close=True)

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        path = urlsplit(self.path).path
        declared = self.headers.get("Content-Length") or "0"
        if not (declared.isascii() and declared.isdigit()):
            return self._refuse(400, "Content-Length must be a non-negative integer")
        if self.headers.get("Transfer-Encoding"):
            return self._refuse(411, "send a Content-Length; chunked bodies are not accepted")
        length = int(declared)
        if length > MAX_REQUEST_BYTES:
            return self._refuse(413, f"request body larger than {MAX_REQUEST_BYTES} bytes")
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:  # the client closed mid-body
            self.close_connection = True
            return
        if self._fault(path):
            return
        if path.startswith("/v1/"):
            status, payload = 405, {"error": {"type": "invalid_request_error",
                                              "message": "This sandbox serves read endpoints only."}}
        else:
            try:
                body = json.loads(raw or b"{}")
                status, payload = self.emulator.handle_plaid(path, self.headers, body if isinstance(body, dict) else {})
            except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
                status, payload = 400, _plaid_error("INVALID_REQUEST", "INVALID_BODY", "request body is not valid JSON")
        self._record(status)
        self._send(status, payload)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        parts = urlsplit(self.path)
        if self._fault(parts.path):
            return
        if parts.path.startswith("/v1/"):
            status, payload = self.emulator.handle_stripe(parts.path, self.headers, parse_qs(parts.query))
        else:
            status, payload = 404, {"error": "not found"}
        self._record(status)
        self._send(status, payload)
