"""``fintech-dataops run`` stopped by SIGTERM mid-run: cleanup runs and the run is recorded as failed.

With Python's default SIGTERM disposition the process vanished at once and the Dagster instance kept the
run "started" forever (pool slots held, the UI showing a run nobody executes). SIGTERM now does what
Ctrl-C does, even when the process was started with SIGINT ignored.
"""

from __future__ import annotations

import re
import signal
from datetime import date
from pathlib import Path

import pytest

from fintech_dataops_tests.processes import start_cli

pytestmark = pytest.mark.slow


def test_sigterm_mid_run_records_the_run_as_failed(data_dir: Path):
    import dagster as dg

    from fintech_dataops.commands.simulate import simulate_into

    simulate_into(data_dir / "landing", start=date(2026, 11, 1), days=1, customers=60, seed=3)
    process = start_cli("--data-dir", str(data_dir), "run", "--start", "2026-11-01", ignore_sigint=True)
    seen: list[str] = []
    try:
        for line in process.stdout:
            seen.append(line)
            if re.search(r" - dagster - (INFO|WARNING) - ", line):  # a step is executing inside the run
                break
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = "".join(seen) + output
    assert process.returncode == 1, output[-3000:]  # handled: not killed by the signal (-15)
    match = re.search(r"run ([0-9a-f-]{36}) FAILED", output)
    assert match, output[-3000:]
    with dg.DagsterInstance.from_config(str(data_dir / "dagster_home")) as instance:
        run = instance.get_run_by_id(match.group(1))
        assert run.status == dg.DagsterRunStatus.FAILURE  # not left STARTED
        interrupted = [e for e in instance.all_logs(run.run_id)
                       if "Interrupted" in (e.message or "") or "interrupted" in (e.message or "")]
        assert interrupted, "the run's log says it was interrupted"
