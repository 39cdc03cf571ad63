"""``fintech-dataops replay`` stopped by SIGTERM (started with SIGINT ignored) or SIGINT: a report, not a traceback."""

from __future__ import annotations

import json
import signal
import socket
import subprocess

import pytest

from fintech_dataops_tests.processes import start_cli

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("sig", "ignore_sigint"), [(signal.SIGTERM, True), (signal.SIGINT, False)])
def test_replay_stops_early_with_its_report(tmp_path, sig, ignore_sigint):
    with socket.socket() as unused:  # a loopback port nothing listens on: every request fails fast
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}"
        process = start_cli("--data-dir", str(tmp_path), "replay", "--url", url, "--eps", "20", "--seconds", "3600",
                            "--batch-size", "1", "--customers", "60", ignore_sigint=ignore_sigint,
                            stderr=subprocess.PIPE)
        try:
            assert "stops early" in process.stderr.readline()
            process.send_signal(sig)
            output, errors = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    report = json.loads(output)
    assert report["stopped_early"] is True and report["requests"] < 20 * 3600
    assert report["acknowledged_events"] == 0  # nothing listens
    assert process.returncode == (1 if report["sent_events"] else 0)  # 1: sent events were not acknowledged
    assert "Traceback" not in errors
