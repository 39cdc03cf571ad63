"""The sandbox emulator answers every malformed request: a 4xx, never a dropped connection or a stuck thread."""

from __future__ import annotations

import json
import socket

import pytest

from fintech_dataops.lib.open_banking import emulator as emulator_module
from fintech_dataops.lib.open_banking.emulator import MAX_REQUEST_BYTES, SandboxEmulator
from fintech_dataops_tests.rawhttp import exchange, post, read_until_closed, status_of


def _port(emu: SandboxEmulator) -> int:
    return int(emu.url.rsplit(":", 1)[1])


@pytest.mark.parametrize(("length", "status"), [("-1", 400), ("abc", 400), ("1e3", 400), ("5 5", 400),
                                                (str(MAX_REQUEST_BYTES + 1), 413), ("400000000", 413)])
def test_bad_or_oversized_content_length_is_refused_before_reading(emulator, length, status):
    response = exchange(_port(emulator), post("/accounts/balance/get", b"{}", length=length))
    assert status_of(response) == status
    assert emulator.requests[-1]["status"] == status


def test_chunked_bodies_are_refused(emulator):
    request = (b"POST /transactions/sync HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"2\r\n{}\r\n0\r\n\r\n")
    assert status_of(exchange(_port(emulator), request)) == 411


@pytest.mark.parametrize("body", [
    b"\xff\xfe not utf-8", b"[" * 100_000, b'{"client_id": 1, "secret": []}',
    b'{"client_id": "\\ud800", "secret": "x"}', b'{"client_id": "\xc3\xa9", "secret": "\xc3\xa9"}',
])
def test_hostile_bodies_get_a_4xx(emulator, config, body):
    response = exchange(_port(emulator), post("/transactions/sync", body))
    assert status_of(response) == 400, response[:200]


def test_wrongly_typed_fields_with_valid_credentials_get_a_4xx(emulator, config):
    token = next(iter(emulator.access_tokens.values()))
    creds = {"client_id": config.plaid_client_id, "secret": config.plaid_secret}
    for body in ({**creds, "access_token": ["x"]}, {**creds, "access_token": {"a": 1}},
                 {**creds, "access_token": token, "cursor": 5}, {**creds, "access_token": token, "count": "9"}):
        response = exchange(_port(emulator), post("/transactions/sync", json.dumps(body).encode()))
        assert status_of(response) == 400, (body, response[:300])


def test_non_ascii_stripe_key_gets_401(emulator):
    request = b"GET /v1/charges HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer \xe9\xe9\r\n\r\n"
    assert status_of(exchange(_port(emulator), request)) == 401


def test_stalled_client_is_disconnected(config, monkeypatch):
    assert 0 < emulator_module._Handler.timeout <= 30  # on by default, not only in this test
    monkeypatch.setattr(emulator_module._Handler, "timeout", 0.5)
    with SandboxEmulator(config) as emu:
        with socket.create_connection(("127.0.0.1", _port(emu)), timeout=30) as sock:
            sock.sendall(b"POST /transactions/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            assert read_until_closed(sock) == b""  # closed by the server, not by the 30 s client timeout
        response = exchange(_port(emu), post("/transactions/sync", b"{}"))
        assert status_of(response) == 400  # still serving
