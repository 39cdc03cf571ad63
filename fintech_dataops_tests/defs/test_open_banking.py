"""Open-banking assets through Dagster: the real SDKs against the emulator on loopback."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import dagster as dg
import pytest

from fintech_dataops.lib.open_banking.emulator import SandboxEmulator
from fintech_dataops.lib.open_banking.emulator_data import EmulatorConfig

PLAID_SECRET = "plaid-dagster-secret-Kx93Qa"
STRIPE_KEY = "sk_test_dagsterSecretKey7Yq2"


def open_banking_assets():
    from fintech_dataops.defs.open_banking.assets import open_banking_assets as assets

    return assets


def selection(*prefixes: str):
    return [a for a in open_banking_assets() if any(k.path[0] in prefixes for k in a.keys)]


@pytest.mark.slow
def test_default_resources_run_everything_on_the_emulator(resources, data_dir):
    """No credentials configured: each resource starts the emulator and the SDKs talk to it."""
    from fintech_dataops.defs.open_banking.resources import PlaidResource, StripeResource
    from fintech_dataops.lib.warehouse import connection

    result = dg.materialize(
        open_banking_assets(),
        resources={**resources, "plaid": PlaidResource(emulator_days=12, max_attempts=2),
                   "stripe": StripeResource(emulator_days=12, max_attempts=2)},
    )
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    with connection(data_dir / "warehouse.duckdb", read_only=True) as con:
        counts = dict(con.execute(
            "SELECT schema_name || '.' || table_name, estimated_size FROM duckdb_tables()").fetchall())
        core_plaid = con.execute("SELECT count(*) FROM core.plaid_transactions").fetchone()[0]
        platform = con.execute(
            "SELECT count(*) FILTER (WHERE transaction_id LIKE 'plaid:%'), "
            "count(*) FILTER (WHERE transaction_id LIKE 'stripe:%') FROM open_banking.platform_transactions"
        ).fetchone()
        quarantined = con.execute("SELECT count(*) FROM quarantine.stripe_charges").fetchone()[0]
    assert core_plaid > 0 and platform[0] > 0 and platform[1] > 0 and quarantined == 0
    for table in ("core.plaid_accounts", "core.stripe_disputes", "open_banking.stripe_fraud_labels"):
        assert table in counts

    # Second run: cursors and watermarks persisted, nothing new lands, tables unchanged.
    again = dg.materialize(
        selection("landing"),
        resources={**resources, "plaid": PlaidResource(emulator_days=12), "stripe": StripeResource(emulator_days=12)},
    )
    landed = {e.asset_key.path[1]: e.materialization.metadata["dagster/row_count"].value
              for e in again.get_asset_materialization_events()}
    assert landed["plaid_transactions"] == 0 and landed["stripe_charges"] == 0
    assert landed["plaid_accounts"] > 0, "balances are a fresh snapshot every run"


@pytest.fixture()
def emulator():
    config = EmulatorConfig(start=date.today() - timedelta(days=6), days=6, plaid_items=2, stripe_customers=5,
                            plaid_client_id="client-dagster", plaid_secret=PLAID_SECRET, stripe_api_key=STRIPE_KEY)
    with SandboxEmulator(config) as emu:
        yield emu


def _configured(emulator, plaid_secret=PLAID_SECRET, stripe_key=STRIPE_KEY):
    import json

    from fintech_dataops.defs.open_banking.resources import PlaidResource, StripeResource

    return {
        "plaid": PlaidResource(client_id="client-dagster", secret=plaid_secret, host=emulator.url,
                               access_tokens=json.dumps(emulator.access_tokens), max_attempts=3),
        "stripe": StripeResource(api_key=stripe_key, api_base=emulator.url, max_attempts=3),
    }


def _all_text(result, capsys, caplog) -> str:
    captured = capsys.readouterr()
    events = "\n".join(repr(e) for e in result.all_events)
    return "\n".join([captured.out, captured.err, caplog.text, events])


def test_credentials_via_env_never_reach_logs_or_metadata(emulator, resources, monkeypatch, capsys, caplog):
    """Configured like production (EnvVar), with retries logged: no secret or token anywhere."""
    from fintech_dataops.defs.open_banking.resources import PlaidResource, StripeResource

    monkeypatch.setenv("T_PLAID_SECRET", PLAID_SECRET)
    monkeypatch.setenv("T_STRIPE_KEY", STRIPE_KEY)
    import json

    monkeypatch.setenv("T_PLAID_TOKENS", json.dumps(emulator.access_tokens))
    emulator.inject("/transactions/sync", 429, retry_after=0.01)
    emulator.inject("/v1/charges", 503, retry_after=0.01)
    caplog.set_level(logging.DEBUG)
    result = dg.materialize(
        selection("landing"),
        resources={**resources,
                   "plaid": PlaidResource(client_id="client-dagster", secret=dg.EnvVar("T_PLAID_SECRET"),
                                          host=emulator.url, access_tokens=dg.EnvVar("T_PLAID_TOKENS")),
                   "stripe": StripeResource(api_key=dg.EnvVar("T_STRIPE_KEY"), api_base=emulator.url)},
    )
    assert result.success
    assert [r["status"] for r in emulator.requests_to("/v1/charges")][:2] == [503, 200]
    text = _all_text(result, capsys, caplog)
    assert "retry 1" in text, "the retry was logged"
    for secret in (PLAID_SECRET, STRIPE_KEY, *emulator.access_tokens.values()):
        assert secret not in text


def test_bad_credentials_fail_clearly_without_the_secret(emulator, resources, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    wrong_plaid, wrong_stripe = "plaid-wrong-secret-Zz1", "sk_test_wrongDagsterKey55"
    result = dg.materialize(selection("landing"), resources={**resources, **_configured(emulator, wrong_plaid, wrong_stripe)},
                            raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    messages = " ".join(e.event_specific_data.error.to_string() for e in failures)
    assert "PLAID_SECRET" in messages and "STRIPE_API_KEY" in messages
    text = _all_text(result, capsys, caplog)
    for secret in (wrong_plaid, wrong_stripe, PLAID_SECRET, STRIPE_KEY, *emulator.access_tokens.values()):
        assert secret not in text


def test_definitions_load_with_the_daily_job(data_dir):
    from fintech_dataops.defs import build_defs

    defs = build_defs()
    keys = defs.resolve_asset_graph().get_all_asset_keys()
    for key in (["landing", "plaid_transactions"], ["core", "stripe_disputes"], ["open_banking", "platform_transactions"],
                ["open_banking", "stripe_fraud_labels"]):
        assert dg.AssetKey(key) in keys
    job = defs.resolve_job_def("daily_pipeline")
    assert dg.AssetKey(["open_banking", "platform_transactions"]) in job.asset_layer.asset_graph.get_all_asset_keys()


def test_open_banking_core_money_is_exact_with_a_reporting_currency_column(emulator, resources, data_dir):
    """Issue 15: Plaid balances / transactions and Stripe charges, refunds, disputes... are stored DECIMAL
    (never DOUBLE) in core and downstream, each amount with its ``<field>_reporting`` twin like core.transactions."""
    from fintech_dataops.lib.ingestion.feeds import MONEY_SQL_TYPE
    from fintech_dataops.lib.open_banking.feeds import OPEN_BANKING_FEEDS
    from fintech_dataops.lib.warehouse import connection

    assets = [a for a in open_banking_assets() if not any(k.path == ["open_banking", "stripe_fraud_labels"] for k in a.keys)]
    assert dg.materialize(assets, resources={**resources, **_configured(emulator)}).success
    money = {"plaid_accounts": ("available_balance", "current_balance", "credit_limit"),
             "plaid_transactions": ("amount",), "stripe_charges": ("amount", "amount_refunded"),
             "stripe_payment_intents": ("amount",), "stripe_balance_transactions": ("amount", "fee", "net"),
             "stripe_disputes": ("amount",), "stripe_events": ("amount",)}
    assert set(money) == set(OPEN_BANKING_FEEDS)
    with connection(data_dir / "warehouse.duckdb", read_only=True) as con:
        types = {(s, t, c): d for s, t, c, d in con.execute(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns").fetchall()}
        assert "DOUBLE" not in {d for (s, t, c), d in types.items() if s in ("core", "open_banking")}, types
        for feed, fields in money.items():
            if ("core", feed, fields[0]) not in types:
                continue  # the emulator landed nothing of this feed (e.g. no webhook events)
            for name in fields:
                assert types[("core", feed, name)] == MONEY_SQL_TYPE
                assert types[("core", feed, name + "_reporting")] == MONEY_SQL_TYPE
        assert types[("open_banking", "platform_transactions", "amount")] == MONEY_SQL_TYPE
        charges, usd_equal = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE upper(currency) = 'USD' AND amount_reporting = amount) "
            "FROM core.stripe_charges").fetchone()
        usd = con.execute("SELECT count(*) FROM core.stripe_charges WHERE upper(currency) = 'USD'").fetchone()[0]
    assert charges > 0 and usd_equal == usd, "USD is the reporting currency: its amounts carry over exactly"
