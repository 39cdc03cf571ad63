"""One bank's backfill cannot starve another's: the run queue of ``deploy/tenants/dagster.yaml`` for real.

A real ``dagster-daemon`` on a real PostgreSQL (Debian's package) dequeues the runs of two
tenants' code locations (``tenant-acme``, ``tenant-globex``) through the instance's
QueuedRunCoordinator and its tag concurrency limits. Acme submits a four-day backfill first and
fills its share of the run slots with runs that hold them (a gate, so nothing here depends on
how long a run takes); Globex's backfill, submitted after, must start while Acme's runs are still
queued. With a platform-wide backfill limit (the old configuration) Globex waited behind Acme.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fintech_dataops_tests.processes import ROOT, default_dispositions
from fintech_dataops_tests.tenancy.postgres import pg_bin, running_postgres
from fintech_dataops_tests.tenancy.queue_probe import GATE_ENV

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(pg_bin("initdb") is None, reason="PostgreSQL not installed (apt-get install -y postgresql)"),
    pytest.mark.skipif(importlib.util.find_spec("dagster_postgres") is None, reason="dagster-postgres not installed"),
    pytest.mark.timeout(600),
]
JOB = "tenant_backfill_probe"
ACME_DAYS = [f"2026-11-0{d}" for d in range(1, 5)]
GLOBEX_DAYS = ["2026-11-01", "2026-11-02"]
IN_PROGRESS = ("STARTING", "STARTED")


def _workspace(path: Path) -> Path:
    lines = ["load_from:"]
    for tenant in ("acme", "globex"):
        lines += ["  - python_module:", "      module_name: fintech_dataops_tests.tenancy.queue_probe",
                  f"      location_name: tenant-{tenant}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def _statuses(instance, tenant: str) -> list[str]:
    import dagster as dg

    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/code_location": f"tenant-{tenant}"}))
    return sorted(run.status.value for run in runs)


def _wait_for(describe, predicate, *, seconds: float = 240):
    """Poll until ``predicate()`` holds; a bounded wait for a state, never an assertion about speed."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never reached: {describe()}")
        time.sleep(0.5)


def test_one_banks_backfill_cannot_starve_anothers_on_the_daemon_run_queue(tmp_path, monkeypatch):
    import dagster as dg

    home, gate = tmp_path / "dagster_home", tmp_path / "gate-open"
    home.mkdir()
    shutil.copyfile(ROOT / "deploy" / "tenants" / "dagster.yaml", home / "dagster.yaml")
    workspace = _workspace(tmp_path / "workspace.yaml")
    bin_dir = Path(sys.executable).parent

    with running_postgres() as pg:
        env = {**os.environ, **pg, "DAGSTER_HOME": str(home), GATE_ENV: str(gate), "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        for key, value in pg.items():  # this process reads the same instance
            monkeypatch.setenv(key, value)
        daemon = subprocess.Popen([str(bin_dir / "dagster-daemon"), "run", "-w", str(workspace)], cwd=tmp_path,
                                  env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "daemon.log", "w"),
                                  preexec_fn=default_dispositions,
                                  start_new_session=True)  # its own process group: see the cleanup below

        def backfill(tenant: str, days: list[str]) -> None:
            out = subprocess.run(
                [str(bin_dir / "dagster"), "job", "backfill", "-w", str(workspace), "-l", f"tenant-{tenant}",
                 "-j", JOB, "--partitions", ",".join(days), "--tags", f'{{"tenant": "{tenant}"}}', "--noprompt"],
                cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
            assert out.returncode == 0, out.stdout + out.stderr

        try:
            with dg.DagsterInstance.from_config(str(home)) as instance:
                assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
                assert type(instance.run_storage).__name__ == "PostgresRunStorage"
                state = lambda: {t: _statuses(instance, t) for t in ("acme", "globex")}  # noqa: E731

                backfill("acme", ACME_DAYS)
                # Acme's backfill holds every slot the queue gives it; the rest of its days wait queued.
                _wait_for(state, lambda: (s := _statuses(instance, "acme")).count("QUEUED") > 0
                          and len(s) == len(ACME_DAYS) and sum(x in IN_PROGRESS for x in s) >= 2)
                acme_in_progress = sum(x in IN_PROGRESS for x in _statuses(instance, "acme"))

                backfill("globex", GLOBEX_DAYS)
                # Globex's runs start while Acme's queue is still full (its gated runs hold their slots).
                _wait_for(state, lambda: sum(x in IN_PROGRESS for x in _statuses(instance, "globex"))
                          == len(GLOBEX_DAYS))
                acme = _statuses(instance, "acme")
                assert acme.count("QUEUED") == len(ACME_DAYS) - acme_in_progress, state()
                assert sum(x in IN_PROGRESS for x in acme) == acme_in_progress <= 3  # a bank's share, not all 8

                gate.touch()
                _wait_for(state, lambda: all(s == ["SUCCESS"] * n for s, n in
                                             ((_statuses(instance, "acme"), len(ACME_DAYS)),
                                              (_statuses(instance, "globex"), len(GLOBEX_DAYS)))))
                for tenant, days in (("acme", ACME_DAYS), ("globex", GLOBEX_DAYS)):
                    runs = instance.get_runs(filters=dg.RunsFilter(tags={"tenant": tenant}))
                    assert sorted(r.tags["dagster/partition"] for r in runs) == days
                    assert all(r.tags.get("dagster/backfill") for r in runs)  # submitted by the backfill daemon
        finally:
            gate.touch()
            daemon.terminate()
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
            # The daemon leaves the code server it started (`dagster api grpc`, which outlives a SIGTERM)
            # behind when it exits: stop what is left of its process group, or every run leaks one.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(daemon.pid, signal.SIGKILL)
