"""The emulator's data: deterministic, linked to the simulator's customers, faithful to the SDK models."""

from __future__ import annotations

import json
from datetime import date, timedelta

import plaid
from plaid.model.accounts_balance_get_request import AccountsBalanceGetRequest

from fintech_dataops.lib.open_banking.emulator import SandboxEmulator
from fintech_dataops.lib.open_banking.emulator_data import (
    EmulatorConfig,
    StripeGenerator,
    landed_population,
    plaid_change_log,
    plaid_changes_for_day,
    plaid_items,
)
from fintech_dataops.lib.open_banking.plaid_sync import plaid_client


def test_data_is_deterministic_and_independent_of_the_window():
    a = EmulatorConfig(start=date(2026, 5, 1), days=10, plaid_items=2)
    b = EmulatorConfig(start=date(2026, 5, 6), days=10, plaid_items=2)
    item_a, item_b = plaid_items(a)[0], plaid_items(b)[0]
    assert item_a == item_b
    day = date(2026, 5, 8)
    assert plaid_changes_for_day(a, item_a, day) == plaid_changes_for_day(b, item_b, day)
    assert [c.key for c in plaid_change_log(a, item_a)] == [c.key for c in plaid_change_log(a, item_a)]
    assert StripeGenerator(a).generate().charges == StripeGenerator(a).generate().charges


def test_items_link_to_existing_simulator_customers(tmp_path):
    config = EmulatorConfig(start=date(2026, 5, 1), customers=250, plaid_items=12, stripe_customers=30)
    for item in plaid_items(config):
        assert item.customer_id.startswith("C") and 1 <= int(item.customer_id[1:]) <= 250
    folder = tmp_path / "customers" / "date=2026-05-01"
    folder.mkdir(parents=True)
    (folder / "b1.jsonl").write_text("\n".join(json.dumps({"customer_id": f"C{i:07d}"}) for i in range(1, 181)) + "\nnot json\n")
    assert landed_population(tmp_path) == 180
    assert landed_population(tmp_path / "nothing") is None


def test_responses_deserialize_through_the_sdk_models():
    config = EmulatorConfig(start=date.today() - timedelta(days=5), days=5, plaid_items=2)
    with SandboxEmulator(config) as emu:
        api = plaid_client(emu.url, config.plaid_client_id, config.plaid_secret)
        response = api.accounts_balance_get(AccountsBalanceGetRequest(access_token=emu.items[0].access_token))
        assert isinstance(response, plaid.model.accounts_get_response.AccountsGetResponse)
        assert {a.account_id for a in response.accounts} == {a.account_id for a in emu.items[0].accounts}
        assert emu.url.startswith("http://127.0.0.1:")
