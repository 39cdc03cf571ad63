"""Tenant registry: names, keys (hashed, shown once), lifecycle, audit chain, per-tenant roots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fintech_dataops.lib.ingestion.landing import resolve_data_dir
from fintech_dataops.lib.tenancy import keys
from fintech_dataops.lib.tenancy.paths import (
    TENANT_ENV,
    TenantError,
    UnknownTenant,
    scoped_data_dir,
    validate_tenant_name,
)
from fintech_dataops.lib.tenancy.registry import TenantRegistry, verify_audit_log

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>'


@pytest.mark.parametrize("name", ["..", "../acme", "acme/x", "Acme", "a", "acme-", "-acme", "ac--me", "acme\n",
                                  "acme.bank", "", "ａcme", "a" * 41, "1bank"])
def test_names_that_could_leave_the_tenants_folder_or_confuse_are_refused(name):
    with pytest.raises(TenantError):
        validate_tenant_name(name)


def test_create_stores_only_a_salted_hash_and_the_key_authenticates_its_tenant(tmp_path: Path):
    registry = TenantRegistry(tmp_path)
    row, api_key = registry.create("acme", display_name="Acme Bank", color="#0A7D3B", currency="eur", actor="ops")
    _, other_key = registry.create("globex", actor="ops")
    assert row["tenant"] == "acme" and api_key.startswith("fdo_")
    stored = registry.path.read_text()
    secret = keys.split_key(api_key)[1]
    assert secret not in stored and api_key not in stored and secret not in registry.audit_path.read_text()
    assert registry.authenticate(api_key) == "acme" and registry.authenticate(other_key) == "globex"
    assert registry.authenticate(api_key[:-1] + ("A" if api_key[-1] != "A" else "B")) is None
    assert registry.authenticate("") is None and registry.authenticate("fdo_garbage") is None
    profile = registry.profile("acme")
    assert (profile.display_name, profile.color, profile.settings.reporting_currency) == ("Acme Bank", "#0a7d3b", "EUR")
    with pytest.raises(TenantError):
        registry.create("acme")
    with pytest.raises(TenantError):
        registry.create("default")


def test_rotate_key_revokes_every_previous_key(tmp_path: Path):
    registry = TenantRegistry(tmp_path)
    _, old = registry.create("acme")
    _, new = registry.rotate_key("acme", actor="ops")
    assert registry.authenticate(old) is None and registry.authenticate(new) == "acme"


def test_delete_removes_every_file_and_row_and_keeps_the_audit_trail(tmp_path: Path):
    registry = TenantRegistry(tmp_path)
    logo = tmp_path / "logo.svg"
    logo.write_bytes(SVG)
    _, key = registry.create("acme", logo=logo)
    registry.create("globex")
    root = registry.root("acme")
    (root / "landing" / "transactions").mkdir(parents=True)
    (root / "landing" / "transactions" / "b.jsonl").write_text('{"customer_id": "C0000001"}\n')
    (root / "warehouse.duckdb").write_bytes(b"x" * 100)
    result = registry.delete("acme", actor="ops")
    assert result["files_removed"] == 5  # profile, logo, advisor-session secret, landed file, warehouse
    assert not root.exists() and registry.names() == ["globex"]
    assert "acme" not in registry.path.read_text() and registry.authenticate(key) is None
    everything = [p for p in tmp_path.rglob("*") if p.is_file() and p != logo]
    assert all("acme" not in str(p.relative_to(tmp_path)) for p in everything)
    actions = [json.loads(line)["action"] for line in registry.audit_path.read_text().splitlines()]
    assert actions == ["create", "create", "delete"]
    with pytest.raises(UnknownTenant):
        registry.delete("acme")


def test_audit_log_is_hash_chained_so_an_edited_line_is_detected(tmp_path: Path):
    registry = TenantRegistry(tmp_path)
    registry.create("acme", actor="alice")
    registry.rotate_key("acme", actor="bob")
    registry.configure("acme", actor="carol", settings={"quarantine_error_rate": 0.02})
    assert verify_audit_log(registry.audit_path) == 3
    lines = registry.audit_path.read_text().splitlines()
    assert [json.loads(line)["actor"] for line in lines] == ["alice", "bob", "carol"]
    registry.audit_path.write_text("\n".join([lines[0].replace("alice", "mallory"), *lines[1:]]) + "\n")
    with pytest.raises(TenantError, match="line 2"):
        verify_audit_log(registry.audit_path)


def test_settings_are_validated_before_anything_is_written(tmp_path: Path):
    from pydantic import ValidationError

    registry = TenantRegistry(tmp_path)
    registry.create("acme")
    before = (registry.root("acme") / "tenant.json").read_bytes()
    for bad in ({"fraud_rules": {"high_value_action": "shrug"}}, {"fraud_rules": {"nope": 1}},
                {"reporting_currency": "XXX"}, {"quarantine_error_rate": 2}, {"credit_approve_cutoff": 10},
                {"credit_weights": {"telco": 1.0}}, {"alert_sinks": {"slack_webhook_env": "https://hooks"}},
                {"unknown_setting": 1}):
        with pytest.raises(ValidationError):
            registry.configure("acme", settings=bad)
    assert (registry.root("acme") / "tenant.json").read_bytes() == before
    profile = registry.configure("acme", settings={"fraud_rules": {"high_value_amount": 500}})
    assert profile.settings.rule_config().high_value_amount == 500
    assert profile.settings.rule_config().velocity_window_s == 10.0  # platform default where unset


def test_data_dir_resolves_per_tenant_and_refuses_unknown_tenants(tmp_path: Path, monkeypatch):
    registry = TenantRegistry(tmp_path)
    registry.create("acme")
    monkeypatch.setenv("FINTECH_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(TENANT_ENV, raising=False)
    assert resolve_data_dir() == tmp_path.resolve()  # default tenant: today's layout
    monkeypatch.setenv(TENANT_ENV, "acme")
    acme = resolve_data_dir()
    assert acme == tmp_path.resolve() / "tenants" / "acme"
    assert resolve_data_dir(acme) == acme  # resolving a resolved dir again never nests tenants
    monkeypatch.setenv(TENANT_ENV, "globex")
    with pytest.raises(UnknownTenant):
        resolve_data_dir()
    monkeypatch.setenv(TENANT_ENV, "../acme")
    with pytest.raises(TenantError):
        scoped_data_dir(tmp_path)
