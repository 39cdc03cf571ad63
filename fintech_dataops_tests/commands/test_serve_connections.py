"""Issue 13 items 5 and 8: the decision service's connection-level defences, on a real process.

Raw loopback sockets, bounded in number, with short limits set by flag; every wait is bounded by a
socket timeout far above the configured one, so nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import socket

import httpx
import orjson
import pytest

from fintech_dataops_tests.commands.test_serve import Service
from fintech_dataops_tests.lib.realtime.helpers import tx

pytestmark = pytest.mark.slow
WAIT_S = 60.0  # an upper bound on a wait, never a measured duration


def _closed_by_server(sock: socket.socket) -> bool:
    """True once the server closes the connection (EOF or reset); False if it answers or stays open."""
    sock.settimeout(WAIT_S)
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)


def test_half_sent_requests_are_cut_off_and_connections_are_capped(data_dir):
    service = Service(data_dir, "--no-warm-start", "--request-timeout", "1", "--max-connections", "20")
    port = service.ready["port"]
    sockets: list[socket.socket] = []
    try:
        for i in range(60):
            sock = _connect(port)
            if i % 2:  # headers never finished
                sock.sendall(b"POST /v1/transactions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applica")
            else:      # headers done, the body never arrives in full
                sock.sendall(b"POST /v1/transactions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 300\r\n\r\n{\"tra")
            sockets.append(sock)
        closed = [_closed_by_server(sock) for sock in sockets]
        # the service is still there for everyone else
        with httpx.Client(base_url=service.url, timeout=WAIT_S) as client:
            ok = client.post("/v1/transactions", json=tx("AFTER-SLOW"))
            health = client.get("/health").json()
    finally:
        for sock in sockets:
            sock.close()
        assert service.stop() == 0
    assert all(closed), f"{closed.count(False)} of {len(closed)} half-sent requests still open"
    assert ok.status_code == 200
    refusals = health["connection_refusals"]
    assert refusals.get("timeout", 0) >= 1 and refusals.get("too_many_connections", 0) >= 1
    assert sum(refusals.values()) == 60


def test_oversized_headers_close_the_connection(data_dir):
    service = Service(data_dir, "--no-warm-start")
    try:
        sock = _connect(service.ready["port"])
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Pad: " + b"a" * 40_000 + b"\r\n")
        closed = _closed_by_server(sock)
        sock.close()
    finally:
        assert service.stop() == 0
    assert closed


def _statuses_with_rotating_forwarded_for(url: str, n: int, prefix: str) -> list[int]:
    with httpx.Client(base_url=url, timeout=WAIT_S) as client:
        return [client.post("/v1/transactions", content=orjson.dumps(tx(f"{prefix}{i}")),
                            headers={"X-Forwarded-For": f"198.51.100.{i}", "Content-Type": "application/json"}
                            ).status_code for i in range(n)]


def test_a_client_cannot_pick_its_own_address_to_dodge_the_rate_limit(data_dir):
    """uvicorn believed X-Forwarded-For from 127.0.0.1: 200 of 200 rotating requests passed 20 req/s."""
    limits = ("--no-warm-start", "--max-requests-per-second", "0.5", "--request-burst", "3")
    service = Service(data_dir, *limits)
    try:
        untrusted = _statuses_with_rotating_forwarded_for(service.url, 12, "U")
    finally:
        assert service.stop() == 0
    assert untrusted[:3] == [200, 200, 200] and untrusted.count(429) >= 8  # one client: the socket's address

    service = Service(data_dir, *limits, "--forwarded-allow-ips", "127.0.0.1")
    try:
        trusted = _statuses_with_rotating_forwarded_for(service.url, 12, "T")
    finally:
        assert service.stop() == 0
    assert trusted == [200] * 12  # a listed proxy's X-Forwarded-For names the client: twelve clients
