"""``fintech-dataops serve`` as a real process on an ephemeral loopback port.

These tests are about processes (signals, crashes, restarts), so they start the
service with the CLI exactly as an operator would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from fintech_dataops_tests.lib.realtime.helpers import tx
from fintech_dataops_tests.processes import default_dispositions, sigint_ignored

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


class Service:
    def __init__(self, data_dir: Path, *extra: str, ignore_sigint: bool = False):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("FINTECH_API_KEY", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fintech_dataops.cli", "--data-dir", str(data_dir), "serve", "--port", "0",
             "--rotate-seconds", "0.3", *extra],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            # Explicit dispositions, never inherited from whatever started pytest.
            restore_signals=True, preexec_fn=sigint_ignored if ignore_sigint else default_dispositions,
        )
        self.ready = self._wait_ready()
        self.url = self.ready["url"]

    def _wait_ready(self, timeout: float = 60.0) -> dict:
        found: dict = {}

        def read():
            for line in self.process.stdout:
                if line.startswith("{") and json.loads(line).get("event") == "ready":
                    found.update(json.loads(line))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.process.kill()
            raise AssertionError(f"service did not become ready: {self.process.stderr.read()[-2000:]}")
        return found

    def stop(self, sig=signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


def _landed_ids(data_dir: Path, feed: str = "transactions") -> list[str]:
    ids = []
    for path in sorted((data_dir / "landing" / feed).rglob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                ids.append(json.loads(line)["transaction_id"])
            except (ValueError, KeyError, TypeError):
                ids.append(line)
    return ids


def test_service_decides_high_value_and_a_velocity_burst_on_an_ephemeral_port(data_dir):
    service = Service(data_dir, "--no-warm-start")
    try:
        assert service.ready["port"] > 0 and service.url.startswith("http://127.0.0.1:")
        start = datetime.now(timezone.utc).replace(microsecond=0)
        with httpx.Client(base_url=service.url, timeout=10) as client:
            high = client.post("/v1/transactions", json=tx("HV", "C-hv", 1200.0, at=start)).json()
            burst = [client.post("/v1/transactions", json=tx(f"B{i}", "C-burst", 9.0, at=start, seconds=i)).json()
                     for i in range(5)]
            bad = client.post("/v1/transactions", content=b"<xml/>")
            health = client.get("/health").json()
    finally:
        assert service.stop() == 0
    assert high["decision"] == "review" and high["rule_ids"] == ["HIGH_VALUE"]
    assert [b["decision"] for b in burst] == ["approve", "approve", "approve", "review", "review"]
    assert burst[-1]["reasons"][0].startswith("VELOCITY: 5 transactions")
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]
    assert health["status"] == "ok" and health["decided"] == 6
    refused = [json.loads(line)["refused_by_service"] for line in _landed_ids(data_dir) if "refused_by_service" in line]
    assert [(r["status"], r["body_head"]) for r in refused] == [(400, "<xml/>")]  # landed once, as refused
    alerts = [json.loads(x) for x in (data_dir / "alerts_stream.jsonl").read_text().splitlines()]
    assert [a["transaction_id"] for a in alerts] == ["HV", "B3", "B4"]


def _flood(url: str, acknowledged: list, stop: threading.Event, prefix: str) -> None:
    """Send single and batch requests until told to stop; remember what was acknowledged (2xx)."""
    n = 0
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.is_set():
            n += 1
            try:
                if n % 2:
                    record = tx(f"{prefix}-{n}", f"C{n % 50}")
                    if client.post("/v1/transactions", json=record).status_code == 200:
                        acknowledged.append(record["transaction_id"])
                else:
                    batch = [tx(f"{prefix}-{n}-{i}", f"C{i}") for i in range(20)]
                    response = client.post("/v1/transactions/batch", json=batch)
                    if response.status_code == 200:
                        acknowledged.extend(r["transaction_id"] for r in response.json()["results"])
            except httpx.HTTPError:
                continue  # connection refused / reset once the service stops: not acknowledged


def _wait_for(condition, timeout: float = 120.0) -> None:
    """Until ``condition()`` holds; the bound only turns a hang into a failure, it is no performance claim."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_sigterm_while_requests_flow_loses_no_acknowledged_event(data_dir):
    service = Service(data_dir, "--no-warm-start")
    acknowledged: list[str] = []
    stop = threading.Event()
    senders = [threading.Thread(target=_flood, args=(service.url, acknowledged, stop, f"s{k}")) for k in range(3)]
    for sender in senders:
        sender.start()
    _wait_for(lambda: len(acknowledged) > 50)  # requests are flowing (however loaded the machine is)
    exit_code = service.stop(signal.SIGTERM)
    stop.set()
    for sender in senders:
        sender.join(30)
    assert exit_code == 0
    assert len(acknowledged) > 50
    landed = set(_landed_ids(data_dir))
    assert set(acknowledged) <= landed, f"{len(set(acknowledged) - landed)} acknowledged events were lost"
    assert set(acknowledged) <= set(_landed_ids(data_dir, "fraud_decisions"))
    assert not list((data_dir / "wal" / "realtime").glob("*.wal"))


def test_started_with_sigint_ignored_sigterm_still_drains_and_exits_0(data_dir):
    service = Service(data_dir, "--no-warm-start", "--rotate-seconds", "3600", ignore_sigint=True)
    answer = httpx.post(f"{service.url}/v1/transactions", json=tx("TERM1"), timeout=30)
    assert answer.status_code == 200
    assert service.stop(signal.SIGTERM) == 0
    assert '"stopped"' in service.process.stdout.read()
    assert "TERM1" in _landed_ids(data_dir)  # the open micro-batch was landed on the way out


def test_sigint_drains_and_exits_0(data_dir):
    service = Service(data_dir, "--no-warm-start", "--rotate-seconds", "3600")
    assert httpx.post(f"{service.url}/v1/transactions", json=tx("INT1"), timeout=30).status_code == 200
    assert service.stop(signal.SIGINT) == 0
    assert "INT1" in _landed_ids(data_dir)


def test_sigkill_loses_only_unacknowledged_events_the_restart_lands_the_rest(data_dir):
    service = Service(data_dir, "--no-warm-start", "--rotate-seconds", "3600")  # nothing rotates before the kill
    acknowledged: list[str] = []
    stop = threading.Event()
    sender = threading.Thread(target=_flood, args=(service.url, acknowledged, stop, "k"))
    sender.start()
    _wait_for(lambda: len(acknowledged) > 20)
    service.stop(signal.SIGKILL)
    stop.set()
    sender.join(30)
    assert len(acknowledged) > 20
    assert not set(acknowledged) & set(_landed_ids(data_dir))  # still in the WAL only
    restarted = Service(data_dir, "--no-warm-start")
    assert restarted.ready["wal_segments_recovered"] >= 1
    assert restarted.stop() == 0
    assert set(acknowledged) <= set(_landed_ids(data_dir))


def test_a_new_current_model_is_hot_reloaded_without_failing_a_request(data_dir):
    import datetime as dt

    from fintech_dataops.lib.fraud.features import compute_features
    from fintech_dataops.lib.fraud.model import save_model, train_model
    from fintech_dataops.lib.simulator.world import SimulationConfig, simulate

    sim = simulate(SimulationConfig(start=dt.date(2026, 1, 1), days=4, customers=300, malformed_rate=0))
    model = train_model(compute_features(sim.feeds["transactions"]), None)
    service = Service(data_dir, "--no-warm-start", "--reload-seconds", "0.2")
    acknowledged: list[str] = []
    stop = threading.Event()
    sender = threading.Thread(target=_flood, args=(service.url, acknowledged, stop, "r"))
    try:
        sender.start()
        time.sleep(0.5)
        before = len(acknowledged)
        save_model(model, data_dir / "models")  # also points CURRENT at it
        deadline = time.monotonic() + 180  # a bound on waiting, not a speed: the swap loads scikit-learn on a busy machine
        health = {}
        while time.monotonic() < deadline:
            health = httpx.get(f"{service.url}/health", timeout=5).json()
            if health["model_version"] == model.version:
                break
            time.sleep(0.1)
        time.sleep(0.5)
        stop.set()
        sender.join(30)
        decided = httpx.post(f"{service.url}/v1/transactions", json=tx("AFTER"), timeout=5).json()
    finally:
        stop.set()
        assert service.stop() == 0
    assert health["model_version"] == model.version and health["model_reloads"] == 1
    assert decided["model_version"] == model.version
    assert len(acknowledged) > before  # requests kept flowing across the swap
    assert set(acknowledged) <= set(_landed_ids(data_dir))
