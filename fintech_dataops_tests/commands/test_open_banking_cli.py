"""``fintech-dataops stripe-webhooks`` and ``open-banking-emulator`` as real processes on 127.0.0.1.

Verify, land, count; refuse every malformed request with a 4xx (or cut off a stalled one) without reading
more than the limit; stop gracefully on SIGTERM even when started with SIGINT ignored, and on SIGINT.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fintech_dataops.lib.open_banking.webhooks import sign_payload
from fintech_dataops_tests.processes import start_cli
from fintech_dataops_tests.rawhttp import exchange, post, read_until_closed, status_of

SECRET = "whsec_cliSecretValue0123456789"
pytestmark = pytest.mark.slow


def _event(event_id: str = "evt_cli0001") -> dict:
    return {"id": event_id, "object": "event", "type": "charge.refunded", "created": int(time.time()),
            "api_version": "2025-03-31.basil", "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": {"id": "ch_cli0001", "object": "charge", "amount": 1250, "currency": "usd",
                                "fraud_details": {"user_report": "fraudulent"},
                                "metadata": {"customer_id": "C0000042"}}}}


class Receiver:
    """The receiver process; ``lines`` collects its output as it comes."""

    def __init__(self, data_dir: Path, *extra: str, ignore_sigint: bool = False):
        self.process = start_cli("--data-dir", str(data_dir), "stripe-webhooks", "--port", "0", *extra,
                                 env={"STRIPE_WEBHOOK_SECRET": SECRET}, ignore_sigint=ignore_sigint)
        first = self.process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:(\d+)/stripe/webhooks)", first)
        assert match, first
        self.url, self.port = match.group(1), int(match.group(2))
        self.lines = [first]
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True)
        self._reader.start()

    def deliver(self, body: bytes, signature: str | None) -> tuple[int, dict]:
        headers = {"Stripe-Signature": signature} if signature else {}
        request = urllib.request.Request(self.url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def stats(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=30) as response:
            return json.loads(response.read())

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))

    def stop(self, sig: int = signal.SIGTERM) -> str:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(90)  # generous: the machine may be loaded; a hang still fails
        finally:
            if self.process.poll() is None:
                self.process.kill()
        self._reader.join(30)
        return "".join(self.lines)


def test_webhook_receiver_process_stops_on_sigterm_with_sigint_ignored(tmp_path: Path):
    receiver = Receiver(tmp_path, ignore_sigint=True)
    try:
        body = json.dumps(_event()).encode()
        assert receiver.deliver(body, sign_payload(body, SECRET)) == (200, {"result": "accepted"})
        stale = sign_payload(body, SECRET, int(time.time()) - 3600)
        assert receiver.deliver(body, stale) == (400, {"result": "rejected_signature"})
    finally:
        output = receiver.stop(signal.SIGTERM)
    assert receiver.process.returncode == 0, output
    assert "'accepted': 1" in output and "'rejected_signature': 1" in output
    assert SECRET not in output
    landed = list((tmp_path / "landing" / "stripe_events").rglob("evt_cli0001.jsonl"))
    assert len(landed) == 1
    record = json.loads(landed[0].read_text())
    assert record["fraud_report"] == "fraudulent" and record["customer_id"] == "C0000042" and record["amount"] == 12.5


def test_webhook_receiver_process_stops_on_sigint(tmp_path: Path):
    receiver = Receiver(tmp_path)
    output = receiver.stop(signal.SIGINT)
    assert (receiver.process.returncode, "stopped: {" in output) == (0, True), output


def _stream_oversized(port: int, megabytes: int) -> bytes:
    """An unsigned POST declaring 400 MB; send ``megabytes`` of it unless the server hangs up first."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"POST /stripe/webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 400000000\r\n\r\n")
        block = b"x" * (1 << 20)
        try:
            for _ in range(megabytes):
                sock.sendall(block)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused without being read
        return read_until_closed(sock)


def test_webhook_receiver_answers_every_malformed_request(tmp_path: Path):
    receiver = Receiver(tmp_path, "--max-body-bytes", "100000", "--read-timeout", "2")
    try:
        rss_before = receiver.rss_kib()
        # A 400 MB unsigned POST: 413 before it is read; the process does not grow by what was sent.
        assert status_of(_stream_oversized(receiver.port, 64)) == 413
        assert receiver.rss_kib() - rss_before < 32 * 1024
        # No declared length (chunked): counted as it streams, 413 past the limit.
        chunk = b"x" * 50_000
        chunked = (b"POST /stripe/webhooks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 3 + b"0\r\n\r\n")
        assert status_of(exchange(receiver.port, chunked)) == 413
        # A validly signed body that is not an event object: 400, answered and counted.
        for body in (b"[1,2]", b'"evt"', b'{"id": "evt_x", "created": true}', b'{"id": "evt_x", "created": 1e300}',
                     b'{"id": "evt_ok", "created": 1, "data": {"object": {"amount": "12", "currency": "usd"}}}'):
            status, answer = receiver.deliver(body, sign_payload(body, SECRET))
            assert (status, answer) == (400, {"result": "rejected_payload"}), body
        # Broken framing: uvicorn answers 400 itself, and it is counted.
        for length in ("-1", "abc"):
            assert status_of(exchange(receiver.port, post("/stripe/webhooks", b"{}", length=length))) == 400
        assert status_of(exchange(receiver.port, post("/elsewhere", b"{}"))) == 404
        # Stalled clients, in the headers or in the body, are cut off after --read-timeout.
        for stalled in (b"POST /stripe/webhooks HTTP/1.1\r\nHost: x\r\nContent-Le",
                        b"POST /stripe/webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"id\""):
            with socket.create_connection(("127.0.0.1", receiver.port), timeout=30) as sock:
                sock.sendall(stalled)
                assert status_of(read_until_closed(sock)) in (None, 408)  # closed by the server, not the client
        # Still serving, and every refusal is visible.
        good = json.dumps(_event("evt_after_abuse")).encode()
        assert receiver.deliver(good, sign_payload(good, SECRET)) == (200, {"result": "accepted"})
        stats = receiver.stats()
    finally:
        output = receiver.stop()
    assert receiver.process.returncode == 0, output
    assert stats == {"accepted": 1, "duplicates": 0, "rejected_signature": 0, "rejected_payload": 5,
                     "rejected_too_large": 2, "rejected_malformed_http": 2, "rejected_timeout": 2,
                     "rejected_not_found": 1, "errors": 0}
    assert output.count("stripe webhook: refused") == 12
    assert SECRET not in output and "evt_ok" not in output  # refusals are logged without their payload
    assert [p.name for p in (tmp_path / "landing" / "stripe_events").rglob("*.jsonl")] == ["evt_after_abuse.jsonl"]


def test_open_banking_emulator_stops_on_sigterm_with_sigint_ignored(tmp_path: Path):
    process = start_cli("--data-dir", str(tmp_path), "open-banking-emulator", "--days", "2", ignore_sigint=True)
    try:
        first = process.stdout.readline()
        match = re.search(r"open-banking sandbox on http://127\.0\.0\.1:(\d+)", first)
        assert match, first
        response = exchange(int(match.group(1)), post("/accounts/balance/get", b"{}"))
        assert status_of(response) == 400  # serving (no credentials given)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, output
    assert output.rstrip().endswith("stopped")
