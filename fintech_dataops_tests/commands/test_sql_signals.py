"""The interactive ``fintech-dataops sql`` session ends on SIGTERM (Ctrl-C at its prompt only clears the line)."""

from __future__ import annotations

import signal
import subprocess

import pytest

from fintech_dataops_tests.analytics_data import build_tiny_warehouse
from fintech_dataops_tests.processes import start_cli

pytestmark = pytest.mark.slow


def _session(data_dir, ignore_sigint: bool = False) -> subprocess.Popen:
    build_tiny_warehouse(data_dir / "warehouse.duckdb")
    process = start_cli("--data-dir", str(data_dir), "sql", "--format", "csv", stdin=subprocess.PIPE,
                        stderr=subprocess.PIPE, ignore_sigint=ignore_sigint)
    process.stdin.write("SELECT 41 + 1 AS answer;\n")
    process.stdin.flush()
    lines = []
    for line in process.stdout:  # the session is up and waiting for the next query
        lines.append(line)
        if line.strip() == "42":
            return process
    raise AssertionError(f"no answer: {lines} {process.stderr.read()}")


def test_sigterm_ends_an_interactive_session_even_with_sigint_ignored(data_dir):
    process = _session(data_dir, ignore_sigint=True)
    try:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 143, errors
    assert "Traceback" not in errors

