"""Run the decision service under uvicorn on loopback; SIGTERM/SIGINT shut it down gracefully.

Graceful shutdown: uvicorn stops accepting connections and lets in-flight
requests finish, then the app drains the micro-batch queue, closes the WAL and
lands the last micro-batch. The bound port is printed as one JSON line once the
service is ready (``--port 0`` asks the OS for a free one).
"""

from __future__ import annotations

import socket
import sys

import orjson

from fintech_dataops.lib.realtime.app import ServiceConfig, create_app
from fintech_dataops.lib.serving import run_uvicorn

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def bind_socket(host: str, port: int) -> socket.socket:
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"the decision service binds loopback only (127.0.0.1), not {host!r}")
    family = socket.AF_INET6 if host == "::1" else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve(config: ServiceConfig, *, out=sys.stdout, log_level: str = "warning") -> int:
    import uvicorn

    sock = bind_socket(config.host, config.port)
    port = sock.getsockname()[1]

    def announce(state) -> None:
        line = {
            "event": "ready", "url": f"http://{config.host}:{port}", "port": port,
            "model_version": state.host.model_version, "warm_start_transactions": state.warm.transactions_kept,
            "wal_segments_recovered": len(state.recovered), "data_dir": str(config.data_dir),
        }
        out.write(orjson.dumps(line).decode() + "\n")
        out.flush()

    app = create_app(config, on_ready=announce)
    server = uvicorn.Server(uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="on", timeout_graceful_shutdown=15,
        # Longer than the usual client/load-balancer idle timeout, so the server is not the side that
        # closes a pooled connection just as a request goes out on it (seen as a client ReadError).
        timeout_keep_alive=75,
        loop="auto", http="auto",
    ))
    # SIGTERM and SIGINT: graceful shutdown, then a clean exit (code 0, "stopped" printed).
    run_uvicorn(server, [sock])
    out.write(orjson.dumps({"event": "stopped", "port": port}).decode() + "\n")
    out.flush()
    return 0

