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
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from contextlib import AsyncExitStack
from pathlib import Path
from types import SimpleNamespace

import orjson

from fintech_dataops.lib.tenancy import keys
from fintech_dataops.lib.tenancy.paths import TenantError
from fintech_dataops.lib.tenancy.registry import TenantRegistry

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
    return supplied


class TenantRouter:
    """ASGI: key → tenant → that tenant's decision-service app."""

    def __init__(self, platform_dir: Path, config, tenants: list[str] | None = None, *, engines=None,
                 on_ready=None):
        from fintech_dataops.lib.realtime.app import create_app

        self.registry = TenantRegistry(platform_dir)
        known = self.registry.names()
        names = list(tenants) if tenants else known
        if not names:
            raise TenantError(f"no tenants registered under {platform_dir}: `fintech-dataops tenant create NAME`")
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise TenantError(f"not registered: {', '.join(unknown)}")
        self.apps = {
            name: create_app(dataclasses.replace(config, data_dir=self.registry.root(name), api_key=None),
                             engine=(engines or {}).get(name))
            for name in names
        }
        self.on_ready = on_ready
        self.state = SimpleNamespace()  # where the server hangs connection counters (shared by all tenants)
        self._verified: dict[str, str] = {}
        self._registry_stamp = self._stamp()

    def _stamp(self):
        try:
            stat = self.registry.path.stat()
            return stat.st_mtime_ns, stat.st_size, stat.st_ino
        except FileNotFoundError:
            return None

    async def tenant_for(self, api_key: str) -> str | None:
        if keys.split_key(api_key) is None:  # malformed: refused without any hashing
            return None
        stamp = self._stamp()
        if stamp != self._registry_stamp:  # a key was rotated or a tenant deleted: verify afresh
            self._verified.clear()
            self._registry_stamp = stamp
        fingerprint = keys.fingerprint(api_key)
        tenant = self._verified.get(fingerprint)
        if tenant is None:
            tenant = await asyncio.to_thread(self.registry.authenticate, api_key)
            if tenant is not None and tenant in self.apps:
                self._verified[fingerprint] = tenant
        return tenant if tenant in self.apps else None

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return await _answer(send, 404, {"error": "not found"})
        key = supplied_key(scope)
        if scope["path"] == "/health" and not key:  # liveness for load balancers; with a key: the tenant's own
            return await _answer(send, 200, {"status": "ok", "tenants": len(self.apps)})
        tenant = await self.tenant_for(key)
        if tenant is None:
            return await _answer(send, 401, {"error": "missing or invalid API key (send it in the X-API-Key header)"})
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


async def _answer(send, status: int, payload: dict) -> None:
    body = orjson.dumps(payload)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
