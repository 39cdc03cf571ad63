"""One decision-service process for many tenants: the tenant comes from the API key.

``TenantRouter`` is an ASGI app in front of one ordinary decision service app
(``lib.realtime.app.create_app``) per tenant, each built on the tenant's own
storage root: its own engine state, model, WAL and landing zone, micro-batcher and
rate limiter. A request is dispatched on its key alone (``X-API-Key`` or
``Authorization: Bearer``) — never on anything in the payload, path or query — so a
key of bank A can only ever reach bank A's app. A key is verified once with scrypt
(off the event loop) and remembered by its SHA-256; rotating or revoking a key (the
registry file changes) forgets every remembered key. ``/health`` without a key answers
liveness without any tenant's figures; with a key, the tenant's own; everything else needs a key.

Staff (the bank's analysts) reach ``/monitor`` with their own credentials, never the API key: a
staff key in ``X-Staff-Key`` or a browser session opened with it (``lib.tenancy.staff_sessions``).
Either names one tenant and one analyst, dispatched like an API key; the analyst reaches the
tenant's monitor through the ASGI scope (``lib.monitor.staff.STAFF_SCOPE_KEY``), which no client
can set. Credentials of two different tenants on one request are refused (403). A staff
credential opens ``/monitor`` only: it cannot submit transactions.

The advisor (``/advisor``) behind this service has per-bank customer sessions
(``lib.tenancy.advisor_sessions``): the bank's backend asks ``POST /advisor/session`` with its API key
for a token of one customer (``Authorization: Bearer fdt_<tenant>.…``), signed with that bank's own
secret; the token names its bank, is verified here with that bank's secret and reaches the bank's
advisor as the customer (an ASGI scope key). Analysts use their staff key (``X-Staff-Key``) or their
``/monitor`` sign-in (``/monitor/advisor``, cookie + CSRF as for the monitor). An API key alone opens no
customer's or analyst's conversation, and credentials of two banks on one request are refused (403).

A tenant's own rate limit (``max_requests_per_second`` / ``request_burst`` in its settings) is
one token bucket for all of that tenant's API-key requests, on top of the per-client limit of
the service; a settings change applies at the next request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import urllib.parse
from contextlib import AsyncExitStack
from pathlib import Path
from types import SimpleNamespace

import orjson

from fintech_dataops.lib.ingestion.limits import RateLimiter
from fintech_dataops.lib.monitor.staff import HEADER as STAFF_HEADER
from fintech_dataops.lib.monitor.staff import STAFF_SCOPE_KEY, StaffKeys
from fintech_dataops.lib.tenancy import advisor_sessions, keys
from fintech_dataops.lib.tenancy import staff_sessions as sessions
from fintech_dataops.lib.tenancy.paths import TenantError
from fintech_dataops.lib.tenancy.registry import TenantRegistry
from fintech_dataops.lib.tenancy.settings import read_profile

MONITOR = sessions.COOKIE_PATH
ADVISOR = "/advisor"
ADVISOR_SESSION = ADVISOR + "/session"
MAX_LOGIN_BYTES = 4096
# Sign-in attempts per client address: a staff key cannot be guessed (256 bits), but each attempt with a
# known key id costs a scrypt (~50 ms CPU), so attempts are throttled rather than left as a CPU lever.
LOGIN_ATTEMPTS_PER_SECOND, LOGIN_BURST = 0.5, 10

log = logging.getLogger("fintech_dataops.tenancy")


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return ""


def supplied_key(scope) -> str:
    supplied = _header(scope, b"x-api-key")
    bearer = _header(scope, b"authorization")
    if not supplied and bearer.lower().startswith("bearer "):
        supplied = bearer[7:].strip()
        if supplied.startswith(advisor_sessions.TOKEN_PREFIX):  # a customer's advisor token, not an API key
            return ""
    return supplied


def customer_token(scope) -> str:
    bearer = _header(scope, b"authorization")
    token = bearer[7:].strip() if bearer.lower().startswith("bearer ") else ""
    return token if token.startswith(advisor_sessions.TOKEN_PREFIX) else ""


class TenantRouter:
    """ASGI: key → tenant → that tenant's decision-service app."""

    def __init__(self, platform_dir: Path, config, tenants: list[str] | None = None, *, engines=None,
                 on_ready=None, clock=time.monotonic):
        from fintech_dataops.lib.realtime.app import create_app

        self.registry = TenantRegistry(platform_dir)
        known = self.registry.names()
        names = list(tenants) if tenants else known
        if not names:
            raise TenantError(f"no tenants registered under {platform_dir}: `fintech-dataops tenant create NAME`")
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise TenantError(f"not registered: {', '.join(unknown)}")
        # A tenant's monitor learns its analyst from this router (staff keys / sessions of that tenant):
        # the platform-wide FINTECH_STAFF_KEYS would be one secret shared by every bank's staff.
        self.apps = {
            name: create_app(dataclasses.replace(config, data_dir=self.registry.root(name), api_key=None,
                                                 staff_keys=StaffKeys(delegated=True)),
                             engine=(engines or {}).get(name))
            for name in names
        }
        self.on_ready = on_ready
        self.state = SimpleNamespace()  # where the server hangs connection counters (shared by all tenants)
        self.sessions = sessions.StaffSessions(clock=clock)
        self._login_limiter = RateLimiter(LOGIN_ATTEMPTS_PER_SECOND, LOGIN_BURST, clock=clock)
        self._clock = clock
        self._verified: dict[str, str] = {}
        self._verified_staff: dict[str, tuple[str, str, str]] = {}
        self._advisor_secrets: dict[str, bytes | None] = {}
        self._registry_stamp = self._stamp()
        self._limiters = self._tenant_limiters()

    def _tenant_limiters(self) -> dict[str, RateLimiter]:
        limiters = {}
        for name in self.apps:
            profile = read_profile(self.registry.root(name))
            rate = profile.settings.max_requests_per_second if profile else None
            if rate:
                burst = profile.settings.request_burst or max(1, int(rate))
                previous = getattr(self, "_limiters", {}).get(name)
                if previous is not None and (previous.rate, previous.burst) == (float(rate), float(burst)):
                    limiters[name] = previous  # unchanged: keep its bucket
                else:
                    limiters[name] = RateLimiter(rate, burst, clock=self._clock)
        return limiters

    def _refresh(self) -> None:
        """The registry changed (a key rotated or revoked, settings, a tenant deleted): verify afresh."""
        stamp = self._stamp()
        if stamp != self._registry_stamp:
            self._verified.clear()
            self._verified_staff.clear()
            self._advisor_secrets.clear()  # a rotated key rotated the tenant's advisor secret with it
            self._registry_stamp = stamp
            self.sessions.keep_only(self.registry.staff_key_ids())
            self._limiters = self._tenant_limiters()

    def _stamp(self):
        try:
            stat = self.registry.path.stat()
            return stat.st_mtime_ns, stat.st_size, stat.st_ino
        except FileNotFoundError:
            return None

    async def tenant_for(self, api_key: str) -> str | None:
        if keys.split_key(api_key) is None:  # malformed: refused without any hashing
            return None
        return await self._authenticated(api_key, self._verified, self.registry.authenticate, lambda tenant: tenant)

    async def staff_for(self, staff_key: str) -> tuple[str, str, str] | None:
        """(tenant, analyst, key id) of a staff key of a tenant this process serves, else None."""
        if keys.split_key(staff_key, keys.STAFF_KEY_PREFIX) is None:
            return None
        return await self._authenticated(staff_key, self._verified_staff, self.registry.authenticate_staff,
                                         lambda found: found[0])

    async def _authenticated(self, key: str, cache: dict, authenticate, tenant_of):
        """What ``authenticate`` says of a well-formed key, cached by fingerprint; None unless it
        belongs to a tenant this process serves (the registry's slow hash runs off the event loop)."""
        self._refresh()
        fingerprint = keys.fingerprint(key)
        found = cache.get(fingerprint)
        if found is None:
            found = await asyncio.to_thread(authenticate, key)
            if found is not None and tenant_of(found) in self.apps:
                cache[fingerprint] = found
        return found if found is not None and tenant_of(found) in self.apps else None

    def advisor_secret(self, tenant: str) -> bytes | None:
        self._refresh()
        if tenant not in self._advisor_secrets:
            self._advisor_secrets[tenant] = advisor_sessions.read_secret(self.registry.root(tenant))
        return self._advisor_secrets[tenant]

    def customer_for(self, token: str) -> tuple[str, str] | None:
        """(tenant, customer id) of a valid customer token of a tenant this process serves, else None."""
        tenant = advisor_sessions.token_tenant(token)
        if tenant is None or tenant not in self.apps:
            return None
        customer = advisor_sessions.verify(token, tenant, self.advisor_secret(tenant))
        return (tenant, customer) if customer is not None else None

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return await _answer(send, 404, {"error": "not found"})
        path = scope["path"]
        if path in (MONITOR + "/login", MONITOR + "/logout", MONITOR + "/session"):
            return await self._session_endpoint(scope, receive, send)
        key = supplied_key(scope)
        if path == "/health" and not key:  # liveness for load balancers; with a key: the tenant's own
            return await _answer(send, 200, {"status": "ok", "tenants": len(self.apps)})
        tenant = await self.tenant_for(key) if key else None
        if key and tenant is None:
            return await _answer(send, 401, {"error": "missing or invalid API key (send it in the X-API-Key header)"})
        if path == MONITOR or path.startswith(MONITOR + "/"):
            return await self._monitor(scope, receive, send, tenant)
        if path == ADVISOR_SESSION:
            return await self._advisor_session(scope, receive, send, tenant)
        if path == ADVISOR or path.startswith(ADVISOR + "/"):
            return await self._advisor(scope, receive, send, tenant)
        if tenant is None:
            return await _answer(send, 401, {"error": "missing or invalid API key (send it in the X-API-Key header)"})
        limiter = self._limiters.get(tenant)
        if limiter is not None and not limiter.allow(tenant):
            wait = max(limiter.retry_after(tenant), 0.001)
            return await _answer(send, 429, {"error": f"this tenant's limit of {limiter.rate:g} requests per second "
                                                      f"(burst {limiter.burst:g}) is reached: slow down and resend",
                                             "retry_after_s": round(wait, 3)},
                                 headers=[(b"retry-after", f"{wait:.3f}".encode())])
        await self._dispatch(tenant, scope, receive, send)

    async def _staff_of(self, scope) -> tuple[tuple[str, str, str] | None, bool]:
        """(staff, refused): who the request's X-Staff-Key names (None without one); refused when one
        was sent and names nobody this process serves."""
        staff_key = _header(scope, STAFF_HEADER.encode())
        if not staff_key:
            return None, False
        staff = await self.staff_for(staff_key)
        return staff, staff is None

    async def _monitor(self, scope, receive, send, api_tenant: str | None):
        """A staff key or session names the tenant and analyst; an API key alone reaches no analyst's view."""
        staff, refused = await self._staff_of(scope)
        if refused:
            return await _answer(send, 401, {"error": "invalid staff key (X-Staff-Key)"})
        self._refresh()
        session = self.sessions.get(sessions.session_token(_header(scope, b"cookie")))
        if staff is None and session is not None:
            staff = (session.tenant, session.analyst, session.key_id)
        if staff is None and api_tenant is None:
            if scope["method"] == "GET" and scope["path"] == MONITOR:  # a browser: to the sign-in page
                return await _redirect(send, MONITOR + "/login")
            return await _answer(send, 401, {"error": "sign in at /monitor/login, or send a staff key (X-Staff-Key)"})
        if len({t for t in (staff and staff[0], session and session.tenant, api_tenant) if t}) > 1:
            return await _answer(send, 403, {"error": "the credentials on this request belong to different tenants"})
        if session is not None and scope["method"] not in sessions.SAFE_METHODS and not sessions.csrf_ok(
                session, _header(scope, sessions.CSRF_HEADER.encode()), _header(scope, b"origin"), _origin(scope)):
            return await _answer(send, 403, {"error": "missing or wrong X-CSRF-Token (or a foreign Origin)"})
        tenant = staff[0] if staff is not None else api_tenant
        scope = {**scope, STAFF_SCOPE_KEY: staff[1] if staff is not None else None}
        await self._dispatch(tenant, scope, receive, send)

    async def _advisor_session(self, scope, receive, send, api_tenant: str | None):
        """The bank's backend (its API key) opens an advisor session for one of its signed-in customers."""
        if scope["method"] != "POST":
            return await _answer(send, 405, {"error": f"{scope['method']} not allowed on {ADVISOR_SESSION}"})
        if api_tenant is None:
            return await _answer(send, 401, {"error": "the bank's API key (X-API-Key) opens customer sessions"})
        body = await _read_body(receive, MAX_LOGIN_BYTES)
        try:
            fields = orjson.loads(body or b"{}") if body is not None else None
            assert isinstance(fields, dict)
        except (orjson.JSONDecodeError, AssertionError):
            return await _answer(send, 400, {"error": "body must be a JSON object with customer_id"})
        secret = self.advisor_secret(api_tenant)
        if secret is None:
            return await _answer(send, 409, {"error": "this bank has no advisor-session secret yet (created before "
                                                      "per-bank sessions): `fintech-dataops tenant rotate-key` makes one"})
        try:
            token, expires = advisor_sessions.sign(
                api_tenant, str(fields.get("customer_id") or ""), secret,
                int(fields.get("ttl_seconds") or advisor_sessions.DEFAULT_TTL_SECONDS))
        except (TenantError, ValueError, TypeError) as exc:
            return await _answer(send, 400, {"error": str(exc)})
        return await _answer(send, 200, {"tenant": api_tenant, "customer_id": fields["customer_id"],
                                         "token": token, "expires_at": expires},
                             headers=[(b"cache-control", b"no-store")])

    async def _advisor(self, scope, receive, send, api_tenant: str | None):
        """A customer token or a staff key names the tenant and who asks; the page itself needs no credential."""
        customer = None
        token = customer_token(scope)
        if token:
            customer = self.customer_for(token)
            if customer is None:
                return await _answer(send, 401, {"error": "invalid or expired customer session token"})
        staff, refused = await self._staff_of(scope)
        if refused:
            return await _answer(send, 401, {"error": "invalid staff key (X-Staff-Key)"})
        named = {t for t in (api_tenant, customer and customer[0], staff and staff[0]) if t}
        if len(named) > 1:
            return await _answer(send, 403, {"error": "the credentials on this request belong to different tenants"})
        if customer is not None and staff is not None:
            return await _answer(send, 400, {"error": "a request asks as a customer or as staff, not both"})
        if not named:
            if scope["method"] in ("GET", "HEAD") and scope["path"] == ADVISOR:  # the page: its script signs in
                from fintech_dataops.lib.advisor.web import page_html

                return await _html(send, 200, page_html(ADVISOR))
            return await _answer(send, 401, {"error": "sign in first: a customer session token from your bank "
                                                      "(Authorization: Bearer fdt_…), or a staff key (X-Staff-Key)"})
        scope = {**scope, advisor_sessions.CUSTOMER_SCOPE_KEY: customer[1] if customer is not None else None,
                 STAFF_SCOPE_KEY: staff[1] if staff is not None else None}
        await self._dispatch(named.pop(), scope, receive, send)

    async def _session_endpoint(self, scope, receive, send):
        path, method = scope["path"], scope["method"]
        token = sessions.session_token(_header(scope, b"cookie"))
        secure = scope.get("scheme") == "https"
        if path == MONITOR + "/login" and method == "GET":
            return await _html(send, 200, sessions.login_page())
        if path == MONITOR + "/login" and method == "POST":
            origin = _header(scope, b"origin")
            if origin and origin != _origin(scope):
                return await _answer(send, 403, {"error": "sign-in from a foreign Origin"})
            client = "host:" + ((scope.get("client") or ("unknown",))[0] or "unknown")
            if not self._login_limiter.allow(client):
                wait = max(self._login_limiter.retry_after(client), 0.001)
                return await _answer(send, 429, {"error": "too many sign-in attempts: wait and retry",
                                                 "retry_after_s": round(wait, 3)},
                                     headers=[(b"retry-after", f"{wait:.3f}".encode())])
            body = await _read_body(receive, MAX_LOGIN_BYTES)
            fields = urllib.parse.parse_qs(body.decode("utf-8", "replace")) if body is not None else {}
            staff = await self.staff_for((fields.get("staff_key") or [""])[0].strip())
            if staff is None:
                return await _html(send, 401, sessions.login_page("unknown or revoked staff key"))
            self.sessions.close(token)  # a new sign-in never reuses a session id (fixation)
            new_token, _ = self.sessions.open(*staff)
            return await _redirect(send, MONITOR, cookie=sessions.set_cookie(
                new_token, int(self.sessions.ttl_seconds), secure=secure))
        self._refresh()
        session = self.sessions.get(token)
        if path == MONITOR + "/session" and method == "GET":
            if session is None:
                return await _answer(send, 401, {"error": "not signed in"})
            return await _answer(send, 200, {"tenant": session.tenant, "analyst": session.analyst,
                                             "csrf_token": session.csrf_token},
                                 headers=[(b"cache-control", b"no-store")])
        if path == MONITOR + "/logout" and method == "POST":
            if session is not None and not sessions.csrf_ok(session, _header(scope, sessions.CSRF_HEADER.encode()),
                                                             _header(scope, b"origin"), _origin(scope)):
                return await _answer(send, 403, {"error": "missing or wrong X-CSRF-Token (or a foreign Origin)"})
            self.sessions.close(token)
            return await _answer(send, 200, {"signed_out": True},
                                 headers=[(b"set-cookie", sessions.clear_cookie(secure=secure).encode())])
        return await _answer(send, 405, {"error": f"{method} not allowed on {path}"})

    async def _dispatch(self, tenant: str, scope, receive, send):
        app = self.apps[tenant]
        # The server's connection counters are shown by each tenant's /health.
        app.state.connection_refusals = getattr(self.state, "connection_refusals", {})
        await app(scope, receive, send)

    async def _lifespan(self, receive, send):
        message = await receive()
        assert message["type"] == "lifespan.startup"
        async with AsyncExitStack() as stack:
            try:
                for app in self.apps.values():
                    await stack.enter_async_context(app.router.lifespan_context(app))
            except BaseException as exc:
                log.exception("a tenant's service failed to start")
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            if self.on_ready is not None:
                self.on_ready({name: app.state.service for name, app in self.apps.items()})
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
        await send({"type": "lifespan.shutdown.complete"})


def _origin(scope) -> str:
    """This service's own origin as the browser names it (scheme and the Host it asked for)."""
    return f"{scope.get('scheme', 'http')}://{_header(scope, b'host')}"


async def _read_body(receive, limit: int) -> bytes | None:
    """The request body, or None past ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        size += len(message.get("body", b""))
        if size > limit:
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send, status: int, body: bytes, content_type: bytes, headers=()) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


async def _answer(send, status: int, payload: dict, headers=()) -> None:
    await _send(send, status, orjson.dumps(payload), b"application/json", headers)


async def _html(send, status: int, page: str) -> None:
    await _send(send, status, page.encode("utf-8"), b"text/html; charset=utf-8",
                [(b"cache-control", b"no-store"), (b"x-frame-options", b"DENY")])


async def _redirect(send, location: str, cookie: str | None = None) -> None:
    headers = [(b"location", location.encode())] + ([(b"set-cookie", cookie.encode())] if cookie else [])
    await _send(send, 303, b"", b"text/plain", headers)
