"""Two banks, colliding customer ids: through assets, SQL and the CLI, neither can reach the other.

Isolation is by construction (one storage root per tenant), so the tests prove the construction:
a run for one tenant changes no byte of the other's files, each interface answers from its own
tenant's storage only, the ways out of it (file paths, ATTACH, other tenants' names) are refused,
and deleting a tenant leaves nothing of it behind.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from fintech_dataops.lib.tenancy.paths import TENANT_ENV
from fintech_dataops_tests.processes import ROOT

DAY = "2026-11-01"


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if k != TENANT_ENV}
    return subprocess.run([sys.executable, "-m", "fintech_dataops.cli", "--data-dir", str(data_dir), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture()
def landed_banks(data_dir: Path, two_banks):
    from fintech_dataops.commands.simulate import simulate_into

    registry, keys = two_banks
    for seed, name in enumerate(("acme", "globex"), start=1):
        simulate_into(registry.root(name) / "landing", start=date.fromisoformat(DAY), days=1, customers=80,
                      seed=seed, echo=lambda *_: None)
    return registry, keys


def _materialize_for(tenant: str, monkeypatch) -> None:
    """What a run in tenant ``tenant``'s code location does: the tenant selected, then the platform's assets."""
    import dagster as dg

    from fintech_dataops.defs import build_defs

    monkeypatch.setenv(TENANT_ENV, tenant)
    defs = build_defs()
    result = defs.resolve_job_def("all_assets").execute_in_process(
        partition_key=DAY, instance=dg.DagsterInstance.ephemeral(),
        asset_selection=[dg.AssetKey(["raw", "transactions"]), dg.AssetKey(["raw", "customers"])])
    assert result.success


@pytest.mark.slow
def test_a_run_for_one_bank_changes_no_byte_of_the_other_and_each_interface_sees_its_own(
        data_dir: Path, landed_banks, monkeypatch):
    registry, _ = landed_banks
    acme, globex = registry.root("acme"), registry.root("globex")
    _materialize_for("globex", monkeypatch)
    globex_before = tree_digest(globex)
    platform_before = {k: v for k, v in tree_digest(data_dir).items() if not k.startswith("tenants/")}

    _materialize_for("acme", monkeypatch)
    monkeypatch.delenv(TENANT_ENV)

    assert tree_digest(globex) == globex_before  # byte-identical
    assert {k: v for k, v in tree_digest(data_dir).items() if not k.startswith("tenants/")} == platform_before
    assert not (data_dir / "warehouse.duckdb").exists()

    # SQL: each bank's PM view answers from its own warehouse; C0000001 exists at both banks.
    counts = {}
    for name, root in (("acme", acme), ("globex", globex)):
        landed = sum(len(f.read_bytes().splitlines()) for f in (root / "landing" / "transactions").rglob("*.jsonl"))
        out = cli(data_dir, "--tenant", name, "sql", "--format", "csv", "SELECT count(*) AS n FROM raw.transactions")
        assert out.returncode == 0, out.stderr
        counts[name] = int(out.stdout.splitlines()[1])
        assert counts[name] == landed
        with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:  # (the PM view masks ids)
            assert con.execute("SELECT count(*) FROM raw.customers WHERE record LIKE '%\"C0000001\"%'").fetchone()[0]
        assert (root / "published" / "pm_view.duckdb").exists()
    assert counts["acme"] != counts["globex"]  # different banks, different data, same customer ids
    # ... and the ways to the other bank's files are refused before any file is opened.
    globex_before = tree_digest(globex)  # (its own SQL query just published its PM view)
    for query in (f"SELECT * FROM read_json_auto('{globex}/landing/transactions/date={DAY}/sim-2.jsonl')",
                  f"ATTACH '{globex}/warehouse.duckdb' AS other",
                  "SELECT * FROM read_text('../globex/tenant.json')"):
        refused = cli(data_dir, "--tenant", "acme", "sql", query)
        assert refused.returncode == 2, (query, refused.stdout, refused.stderr)
    # CLI: a tenant name cannot walk out of the tenants folder, nor name an unregistered bank.
    for name in ("../globex", "globex/..", "initech"):
        assert cli(data_dir, "--tenant", name, "summary").returncode == 2
    assert tree_digest(globex) == globex_before


def test_deleting_a_tenant_leaves_nothing_of_it_behind(data_dir: Path, landed_banks, monkeypatch):
    registry, keys = landed_banks
    globex_before = tree_digest(registry.root("globex"))
    out = cli(data_dir, "tenant", "delete", "acme", "--yes")
    assert out.returncode == 0, out.stderr
    assert not registry.root("acme").exists()
    leftovers = [path for path in tree_digest(data_dir) if "acme" in path]
    assert leftovers == []
    assert "acme" not in registry.path.read_text() and registry.authenticate(keys["acme"]) is None
    assert tree_digest(registry.root("globex")) == globex_before
    assert cli(data_dir, "--tenant", "acme", "summary").returncode == 2


def test_deleting_a_tenant_removes_its_runs_from_the_shared_dagster_instance(data_dir: Path, two_banks):
    import shutil as sh

    import dagster as dg

    sh.copyfile(ROOT / "fintech_dataops" / "instance" / "dagster.yaml", data_dir / "dagster_home" / "dagster.yaml")

    @dg.asset
    def probe() -> int:
        return 1

    with dg.DagsterInstance.get() as instance:
        for name in ("acme", "globex"):
            assert dg.materialize([probe], instance=instance, tags={"tenant": name}).success
    out = cli(data_dir, "tenant", "delete", "acme", "--yes")
    assert out.returncode == 0, out.stderr
    assert '"dagster_runs_removed": 1' in out.stdout
    with dg.DagsterInstance.get() as instance:
        assert instance.get_runs(filters=dg.RunsFilter(tags={"tenant": "acme"})) == []
        assert len(instance.get_runs(filters=dg.RunsFilter(tags={"tenant": "globex"}))) == 1
