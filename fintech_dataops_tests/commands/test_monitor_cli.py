"""``fintech-dataops monitor`` as a real process: serves the monitor on loopback, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess

import httpx
import pytest

from fintech_dataops.lib.monitor.staff import hash_key
from fintech_dataops_tests.lib.monitor.helpers import STAFF, build_alert_warehouse, staff_env
from fintech_dataops_tests.processes import start_cli

pytestmark = pytest.mark.slow


def test_monitor_command_serves_the_queue_and_takes_a_disposition_then_stops_on_sigterm(data_dir):
    build_alert_warehouse(data_dir / "warehouse.duckdb")
    process = start_cli("--data-dir", str(data_dir), "monitor", "--port", "0", env=staff_env(), ignore_sigint=True,
                        stderr=subprocess.PIPE)
    try:
        ready = json.loads(process.stdout.readline())
        assert ready["event"] == "ready" and ready["url"].startswith("http://127.0.0.1:")
        key = {"X-Staff-Key": STAFF["bob"]}
        page = httpx.get(ready["url"], timeout=30)
        queue = httpx.get(ready["url"] + "/api/queue?view=all", headers=key, timeout=30).json()
        closed = httpx.post(ready["url"] + "/api/alerts/T-old/close", json={"disposition": "legitimate"}, headers=key,
                            timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)  # SIGINT is ignored in this child: SIGTERM alone must stop it
        out, err = process.communicate(timeout=60)
    assert page.status_code == 200 and 'id="alert-queue"' in page.text
    assert [a["transaction_id"] for a in queue["alerts"]] == ["T-fast", "T-late", "T-old"] and queue["analyst"] == "bob"
    assert closed.status_code == 200
    assert process.returncode == 0 and '"stopped"' in out
    assert STAFF["bob"] not in out + err  # the key never appears in output


def test_hash_key_prints_the_sha256_to_configure(data_dir):
    done = start_cli("monitor", "--hash-key", stdin=subprocess.PIPE)
    out, _ = done.communicate("my staff key\n", timeout=60)
    assert out.strip() == hash_key("my staff key") and done.returncode == 0


def test_a_busy_port_is_a_clear_error_not_a_traceback(data_dir):
    from fintech_dataops.lib.serving import bind_loopback

    taken = bind_loopback("127.0.0.1", 0)
    try:
        done = start_cli("--data-dir", str(data_dir), "monitor", "--port", str(taken.getsockname()[1]))
        out, _ = done.communicate(timeout=60)
    finally:
        taken.close()
    assert done.returncode == 2 and "the monitor is already at http://127.0.0.1:" in out and "Traceback" not in out
