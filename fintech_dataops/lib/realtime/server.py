"""Run the decision service under uvicorn on loopback; SIGTERM/SIGINT shut it down gracefully.

Graceful shutdown: uvicorn stops accepting connections and lets in-flight
requests finish, then the app drains the micro-batch queue, closes the WAL and
lands the last micro-batch. The bound port is printed as one JSON line once the
service is ready (``--port 0`` asks the OS for a free one).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import orjson

from fintech_dataops.lib.realtime.app import ServiceConfig, create_app
from fintech_dataops.lib.serving import ReadDeadline, bind_loopback, run_uvicorn


def guarded_httptools_protocol(*, request_timeout: float, max_connections: int, max_header_bytes: int,
                                on_refused: Callable[[str], None] = lambda reason: None):
    """uvicorn's httptools protocol (C parser, the fast one) with what a payments service needs at
    the connection level, which uvicorn does not give by itself:

    - a read deadline: from its connection (or the first byte of its next request on a kept-alive
      connection) a client has ``request_timeout`` seconds to send a complete request, headers and
      body; past it the connection is closed (``timeout``). Slow or stalled clients cannot hold
      connections open (uvicorn alone times out only idle kept-alive connections);
    - a connection cap: a connection beyond ``max_connections`` open ones is closed at once
      (``too_many_connections``);
    - a header size cap: more than ``max_header_bytes`` before the end of the headers closes the
      connection (``headers_too_large``).
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpToolsProtocol(ReadDeadline, HttpToolsProtocol):
        read_timeout = request_timeout

        def _refused(self, reason: str) -> None:
            on_refused(reason)

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._deadline = None
            self._header_bytes = 0
            self._in_headers = True
            if len(self.connections) > max_connections:
                on_refused("too_many_connections")
                transport.close()
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._deadline is None and self.transport is not None and not self.transport.is_closing() \
                    and (self.cycle is None or self.cycle.response_complete):
                self._arm()  # the first byte of the next request on a kept-alive connection
            if self._in_headers:
                self._header_bytes += len(data)
                if self._header_bytes > max_header_bytes:
                    on_refused("headers_too_large")
                    self._disarm()
                    self.transport.close()
                    return
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._in_headers = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm()  # the whole request is in: how long the answer takes is not the client's doing
            self._in_headers, self._header_bytes = True, 0
            super().on_message_complete()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedHttpToolsProtocol


def serve(config: ServiceConfig, *, out=sys.stdout, log_level: str = "warning", build_app=None) -> int:
    """``build_app(on_ready)`` replaces the one-tenant app (``lib.tenancy.service`` serves many tenants)."""
    import uvicorn

    # Listening from here on: the "ready" line is printed from the app's startup, before uvicorn's
    # own listen(), and a client that connects on seeing it must wait in the backlog, not be refused.
    sock = bind_loopback(config.host, config.port)
    port = sock.getsockname()[1]

    def details(state) -> dict:
        return {"model_version": state.host.model_version, "warm_start_transactions": state.warm.transactions_kept,
                "wal_segments_recovered": len(state.recovered)}

    def announce(state) -> None:
        line = {
            "event": "ready", "url": f"http://{config.host}:{port}", "port": port,
            **({"tenants": {name: details(s) for name, s in state.items()}} if isinstance(state, dict)
               else details(state)),
            "data_dir": str(config.data_dir),
        }
        out.write(orjson.dumps(line).decode() + "\n")
        out.flush()

    app = create_app(config, on_ready=announce) if build_app is None else build_app(announce)

    refusals: dict[str, int] = {}
    app.state.connection_refusals = refusals  # shown by /health

    def refused(reason: str) -> None:
        refusals[reason] = refusals.get(reason, 0) + 1

    server = uvicorn.Server(uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="on", timeout_graceful_shutdown=15,
        # Longer than the usual client/load-balancer idle timeout, so the server is not the side that
        # closes a pooled connection just as a request goes out on it (seen as a client ReadError).
        timeout_keep_alive=config.keep_alive_seconds,
        loop="auto", server_header=False,
        http=guarded_httptools_protocol(request_timeout=config.request_timeout_seconds,
                                        max_connections=config.max_connections,
                                        max_header_bytes=config.max_header_bytes, on_refused=refused),
        # beyond this many open connections or in-flight requests, a complete request gets 503
        limit_concurrency=config.max_connections,
        # X-Forwarded-For / X-Forwarded-Proto are believed only from the proxies the operator lists:
        # otherwise any client names its own address and walks past the per-client rate limit.
        proxy_headers=bool(config.forwarded_allow_ips),
        forwarded_allow_ips=",".join(config.forwarded_allow_ips) or "",
    ))
    # SIGTERM and SIGINT: graceful shutdown, then a clean exit (code 0, "stopped" printed).
    run_uvicorn(server, [sock])
    out.write(orjson.dumps({"event": "stopped", "port": port}).decode() + "\n")
    out.flush()
    return 0

