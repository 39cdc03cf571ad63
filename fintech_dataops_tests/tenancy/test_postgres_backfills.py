"""Scale-out for real: Dagster on PostgreSQL (Debian's package), two tenants' backfills at the same time.

Starts a throwaway PostgreSQL server on a loopback port, points a Dagster instance at it with
``deploy/tenants/dagster.yaml`` (run, event-log and schedule storage, concurrency slots) and runs
``fintech-dataops tenant backfill`` for two tenants at once: one run per day, steps in separate
processes (multiprocess executor). Each run is recorded in Postgres under its tenant, and each
tenant's warehouse holds only what its own landing zone held.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from fintech_dataops_tests.processes import ROOT, default_dispositions
from fintech_dataops_tests.tenancy.postgres import pg_bin, running_postgres

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(pg_bin("initdb") is None, reason="PostgreSQL not installed (apt-get install -y postgresql)"),
    pytest.mark.skipif(importlib.util.find_spec("dagster_postgres") is None, reason="dagster-postgres not installed"),
    pytest.mark.timeout(3000),
]
DAYS = ("2026-11-01", "2026-11-02")
SELECTION = "raw/transactions,raw/customers"


def test_two_tenants_backfill_at_once_on_a_postgres_backed_instance(data_dir: Path, two_banks):
    import dagster as dg

    from fintech_dataops.commands.simulate import simulate_into

    registry, _ = two_banks
    for seed, name in enumerate(("acme", "globex"), start=1):  # same id scheme: C0000001 at both banks
        simulate_into(registry.root(name) / "landing", start=date.fromisoformat(DAYS[0]), days=len(DAYS),
                      customers=120, seed=seed, echo=lambda *_: None)
    home = data_dir / "dagster_home"
    shutil.copyfile(ROOT / "deploy" / "tenants" / "dagster.yaml", home / "dagster.yaml")

    with running_postgres() as pg:
        env = {**os.environ, **pg, "DAGSTER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        env.pop("FINTECH_TENANT", None)
        backfills = {
            name: subprocess.Popen(
                [sys.executable, "-m", "fintech_dataops.cli", "--data-dir", str(data_dir), "tenant", "backfill", name,
                 "--start", DAYS[0], "--end", DAYS[-1], "--select", SELECTION, "--max-concurrent", "2"],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                preexec_fn=default_dispositions)
            for name in ("acme", "globex")
        }
        outputs = {name: proc.communicate(timeout=2700) for name, proc in backfills.items()}
        for name, proc in backfills.items():
            assert proc.returncode == 0, outputs[name][1][-3000:]
            lines = [json.loads(line) for line in outputs[name][0].splitlines() if line.startswith("{")]
            assert [(x["partition"], x["success"]) for x in lines] == [(d, True) for d in DAYS]

        os.environ.update(pg)  # the instance's storage settings come from the environment
        try:
            with dg.DagsterInstance.from_config(str(home)) as instance:
                assert type(instance.run_storage).__name__ == "PostgresRunStorage"
                assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
                assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
                for name in ("acme", "globex"):
                    runs = instance.get_runs(filters=dg.RunsFilter(tags={"tenant": name}))
                    assert sorted(r.tags["dagster/partition"] for r in runs) == list(DAYS)
                    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
                    for run in runs:
                        events = {e.dagster_event.event_type_value for e in instance.all_logs(run.run_id)
                                  if e.dagster_event}
                        assert "STEP_WORKER_STARTING" in events  # steps ran in their own processes
                        assert "ASSET_MATERIALIZATION" in events
        finally:
            for key in pg:
                os.environ.pop(key, None)

    for name in ("acme", "globex"):  # each warehouse holds exactly its own bank's landed lines
        root = registry.root(name)
        landed = sorted(line for d in DAYS for f in (root / "landing" / "transactions" / f"date={d}").glob("*.jsonl")
                        for line in f.read_text().splitlines())
        with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
            stored = sorted(r[0] for r in con.execute("SELECT record FROM raw.transactions").fetchall())
        assert stored == landed and landed
    assert not (data_dir / "warehouse.duckdb").exists()  # the default tenant was never touched
