"""``tenant backfill`` goes through the instance's run queue when a daemon dequeues it.

Runs submitted to a QueuedRunCoordinator wait for ``dagster-daemon``; each carries its bank's code
location (``tenant-<name>``), so the per-bank tag limits of ``deploy/tenants/dagster.yaml`` apply.
Without a queue or without a live daemon the command executes the runs itself and says so. The
daemon is represented by its heartbeat in the instance (what Dagster itself checks); no run starts
here, so nothing depends on timing. The CLI runs in its own process: a process serves one tenant.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import dagster as dg
import pytest
from dagster._daemon.types import DaemonHeartbeat

from fintech_dataops.commands.tenant import queue_unavailable
from fintech_dataops_tests.processes import ROOT, default_dispositions

QUEUED = """telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 8
    tag_concurrency_limits:
      - key: dagster/code_location
        value:
          applyLimitPerUniqueValue: true
        limit: 3
"""


def _heartbeat(instance) -> None:
    instance.add_daemon_heartbeat(DaemonHeartbeat(timestamp=time.time(), daemon_type="QUEUED_RUN_COORDINATOR",
                                                  daemon_id="test-daemon", errors=[]))


def test_queue_is_used_only_with_a_queued_coordinator_and_a_live_daemon():
    with dg.instance_for_test(overrides={"run_coordinator": {
            "module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"}}) as instance:
        assert "no run queue" in queue_unavailable(instance)
    with dg.instance_for_test(overrides={"run_coordinator": {
            "module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}}) as instance:
        assert "no dagster-daemon" in queue_unavailable(instance)
        _heartbeat(instance)
        assert queue_unavailable(instance) is None


@pytest.mark.timeout(600)
def test_tenant_backfill_queues_one_run_per_day_with_the_banks_tags(data_dir, two_banks, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(QUEUED)
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("FINTECH_TENANT", None)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        _heartbeat(instance)
    proc = subprocess.run(
        [sys.executable, "-m", "fintech_dataops.cli", "--data-dir", str(data_dir), "tenant", "backfill", "acme",
         "--start", "2026-11-01", "--end", "2026-11-02", "--select", "raw/transactions"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=540, preexec_fn=default_dispositions)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "queued 2 run(s) for tenant acme" in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert [(x["partition"], x["status"], x["code_location"]) for x in lines] == [
        ("2026-11-01", "QUEUED", "tenant-acme"), ("2026-11-02", "QUEUED", "tenant-acme")]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 2 and all(r.status == dg.DagsterRunStatus.QUEUED for r in runs)
        for run in runs:
            assert run.tags["tenant"] == "acme" and run.tags["fintech/trigger"] == "tenant-backfill"
            assert run.tags["dagster/code_location"] == "tenant-acme"  # the per-bank limit's key
            assert run.remote_job_origin.location_name == "tenant-acme"
            assert run.asset_selection == {dg.AssetKey(["raw", "transactions"])}
        assert sorted(r.tags["dagster/partition"] for r in runs) == ["2026-11-01", "2026-11-02"]
    # Nothing of globex's was touched, and nothing ran: the daemon would start these runs.
    assert not (data_dir / "tenants" / "globex" / "warehouse.duckdb").exists()
