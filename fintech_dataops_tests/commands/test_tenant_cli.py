"""``fintech-dataops tenant …`` and the global ``--tenant`` option, as an operator runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fintech_dataops_tests.processes import ROOT


def cli(data_dir: Path, *args: str, tenant_env: str | None = None) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if k != "FINTECH_TENANT"}
    if tenant_env:
        env["FINTECH_TENANT"] = tenant_env
    return subprocess.run([sys.executable, "-m", "fintech_dataops.cli", "--data-dir", str(data_dir), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_tenant_lifecycle_from_the_command_line(data_dir: Path, tmp_path: Path):
    logo = tmp_path / "acme.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    created = cli(data_dir, "tenant", "create", "acme", "--display-name", "Acme Bank", "--logo", str(logo),
                  "--color", "#0a7d3b", "--currency", "EUR", "--actor", "onboarding-bot")
    assert created.returncode == 0, created.stderr
    payload = json.loads(created.stdout)
    assert payload["tenant"] == "acme" and payload["api_key"].startswith("fdo_")
    assert payload["data_dir"] == str(data_dir.resolve() / "tenants" / "acme")

    listed = json.loads(cli(data_dir, "tenant", "list").stdout)["tenants"]
    assert [t["tenant"] for t in listed] == ["acme"] and "api_key" not in listed[0]

    refused = cli(data_dir, "tenant", "delete", "acme")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert cli(data_dir, "tenant", "create", "../etc").returncode == 2
    unknown = cli(data_dir, "--tenant", "globex", "summary")
    assert unknown.returncode == 2 and "not registered" in unknown.stderr
    assert cli(data_dir, "summary", tenant_env="globex").returncode == 2  # $FINTECH_TENANT too

    rotated = json.loads(cli(data_dir, "tenant", "rotate-key", "acme").stdout)
    assert rotated["api_key"] != payload["api_key"]
    staff = json.loads(cli(data_dir, "tenant", "staff-key", "acme", "alice@acme").stdout)
    assert staff["staff_key"].startswith("fds_") and staff["analyst"] == "alice@acme"
    assert json.loads(cli(data_dir, "tenant", "list").stdout)["tenants"][0]["staff"] == ["alice@acme"]
    revoked = json.loads(cli(data_dir, "tenant", "staff-key", "acme", "alice@acme", "--revoke").stdout)
    assert revoked["revoked_key_ids"] == [staff["key_id"]]
    assert cli(data_dir, "tenant", "staff-key", "acme", "alice@acme", "--revoke").returncode == 2
    assert cli(data_dir, "tenant", "configure", "acme", "--set", "request_burst=5").returncode == 2
    deleted = cli(data_dir, "tenant", "delete", "acme", "--yes")
    assert deleted.returncode == 0 and json.loads(deleted.stdout)["deleted"] is True
    assert not (data_dir / "tenants" / "acme").exists()

    audit = cli(data_dir, "tenant", "audit")
    entries = [json.loads(line) for line in audit.stdout.splitlines()]
    assert [(e["action"], e["tenant"]) for e in entries] == [
        ("create", "acme"), ("rotate-key", "acme"), ("add-staff-key", "acme"), ("revoke-staff-key", "acme"),
        ("delete", "acme")]
    assert entries[0]["actor"] == "onboarding-bot"
    assert payload["api_key"] not in audit.stdout and rotated["api_key"] not in audit.stdout
    assert staff["staff_key"] not in audit.stdout


def test_workspace_has_one_code_location_per_tenant(data_dir: Path):
    import yaml

    for name in ("acme", "globex"):
        assert cli(data_dir, "tenant", "create", name).returncode == 0
    out = cli(data_dir, "tenant", "workspace")
    locations = [entry["python_module"] for entry in yaml.safe_load(out.stdout)["load_from"]]
    assert [(loc["location_name"], loc.get("attribute")) for loc in locations] == [
        ("fintech_dataops", None), ("tenant-acme", "acme"), ("tenant-globex", "globex")]


def test_a_tenant_code_location_works_for_its_tenant_only(data_dir: Path):
    """What Dagster does with a generated workspace entry: load ``fintech_dataops.tenant_definitions:<tenant>``."""
    assert cli(data_dir, "tenant", "create", "acme").returncode == 0
    probe = (
        "import dagster as dg, fintech_dataops.tenant_definitions as t\n"
        "from fintech_dataops.defs.resources import WarehouseResource\n"
        "defs = t.acme\n"
        "print(defs.resolve_assets_def(dg.AssetKey(['raw', 'transactions'])).op.pool)\n"
        "print(WarehouseResource().path)\n"
        "try:\n    t.globex\nexcept AttributeError as exc:\n    print('refused:', exc)\n"
    )
    import os

    env = {k: v for k, v in os.environ.items() if k != "FINTECH_TENANT"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    pool, warehouse, refused = done.stdout.splitlines()[-3:]
    assert pool == "warehouse_write:acme"  # its own DuckDB-writer slot, not the other banks'
    assert warehouse == str(data_dir.resolve() / "tenants" / "acme" / "warehouse.duckdb")
    assert refused.startswith("refused:")


def test_a_tenants_settings_become_its_code_locations_defaults(data_dir: Path):
    assert cli(data_dir, "tenant", "create", "acme", "--currency", "EUR").returncode == 0
    weights = '{"transaction_history": 0.4, "spending_power": 0.2, "academic": 0.1, "loan_history": 0.1, ' \
              '"utilities": 0.1, "telco": 0.1}'
    configured = cli(data_dir, "tenant", "configure", "acme", "--set", "quarantine_error_rate=0.005",
                     "--set", "credit_approve_cutoff=660", "--set", f"credit_weights={weights}",
                     "--set", 'alert_sinks={"slack_webhook_env": "ACME_SLACK_WEBHOOK_URL"}',
                     "--set", 'fraud_rules={"high_value_amount": 500, "velocity_action": "block"}')
    assert configured.returncode == 0, configured.stderr
    probe = (
        "import sys, fintech_dataops.tenant_definitions as t\n"
        "defs = t.acme if sys.argv[1] == 'acme' else __import__('fintech_dataops.definitions').definitions.defs\n"
        "from fintech_dataops.defs.quality.assets import CoreLoadConfig\n"
        "from fintech_dataops.defs.credit.assets import CreditScoringConfig\n"
        "from fintech_dataops.defs.fraud.assets import FraudModelConfig\n"
        "c, q, f = CreditScoringConfig(), CoreLoadConfig(), FraudModelConfig()\n"
        "print(defs.resources['money'].reporting_currency, q.quarantine_error_rate, q.quarantine_warn_rate,\n"
        "      c.approve_cutoff, c.weight_transaction_history, repr(defs.resources['alert_sink'].slack_webhook_env),\n"
        "      f.high_value_amount, f.velocity_action, f.velocity_max_transactions)\n"
    )
    import os

    env = {k: v for k, v in os.environ.items() if k != "FINTECH_TENANT"}
    results = {}
    for location in ("acme", "default"):
        done = subprocess.run([sys.executable, "-c", probe, location], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        results[location] = done.stdout.splitlines()[-1]
    assert results["acme"] == "EUR 0.005 0.005 660 0.4 'ACME_SLACK_WEBHOOK_URL' 500.0 block 3"
    assert results["default"] == "USD 0.05 0.01 640 0.3 'FINTECH_SLACK_WEBHOOK_URL' 800.0 review 3"  # platform
