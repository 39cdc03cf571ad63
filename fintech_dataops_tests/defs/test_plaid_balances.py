"""Plaid balances: every pull is history in core.plaid_accounts, one balance per account per day is published.

Issue 13, item 12: each pipeline run appended another full snapshot (17 → 51 rows for 17 accounts
after three runs) and nothing said which row to read.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import dagster as dg
import pytest

from fintech_dataops.lib.open_banking.emulator import SandboxEmulator
from fintech_dataops.lib.open_banking.emulator_data import EmulatorConfig
from fintech_dataops.lib.warehouse import connection

SECRET = "plaid-balances-secret-Zr81"


@pytest.fixture()
def emulator():
    config = EmulatorConfig(start=date.today() - timedelta(days=4), days=4, plaid_items=3, stripe_customers=2,
                            plaid_client_id="client-balances", plaid_secret=SECRET, stripe_api_key="sk_test_bal")
    with SandboxEmulator(config) as emu:
        yield emu


def test_three_runs_keep_three_pulls_as_history_and_one_balance_per_account_per_day(emulator, resources, data_dir):
    from fintech_dataops.defs.open_banking.assets import open_banking_assets
    from fintech_dataops.defs.open_banking.resources import PlaidResource

    assets = [a for a in open_banking_assets if any(k.path[1] in ("plaid_accounts", "plaid_balances") for k in a.keys)]
    assert {tuple(k.path) for a in assets for k in a.keys} >= {("core", "plaid_accounts"),
                                                              ("open_banking", "plaid_balances")}
    plaid = PlaidResource(client_id="client-balances", secret=SECRET, host=emulator.url,
                          access_tokens=json.dumps(emulator.access_tokens), max_attempts=3)
    for _ in range(3):
        assert dg.materialize(assets, resources={**resources, "plaid": plaid}).success
    with connection(data_dir / "warehouse.duckdb", read_only=True) as con:
        accounts = con.execute("SELECT count(DISTINCT (item_id, account_id)) FROM core.plaid_accounts").fetchone()[0]
        pulls = con.execute("SELECT count(*), count(DISTINCT snapshot_id) FROM core.plaid_accounts").fetchone()
        balances = con.execute(
            "SELECT count(*), count(DISTINCT (item_id, account_id, snapshot_date)), sum(pulls_that_day), "
            "count(DISTINCT snapshot_date) FROM open_banking.plaid_balances").fetchone()
        latest_kept = con.execute("""
            SELECT bool_and(b.observed_time = l.latest) FROM open_banking.plaid_balances b
            JOIN (SELECT item_id, account_id, CAST(observed_time AS DATE) AS day, max(observed_time) AS latest
                  FROM core.plaid_accounts GROUP BY ALL) l
              ON l.item_id = b.item_id AND l.account_id = b.account_id AND l.day = b.snapshot_date""").fetchone()[0]
    assert accounts > 0
    assert pulls == (3 * accounts, 3 * accounts)  # history: one row per account per pull, each its own snapshot
    rows, distinct, pulls_counted, days = balances
    assert rows == distinct == accounts * days  # published: one row per account per day (runs may span midnight)
    assert pulls_counted == 3 * accounts and latest_kept

