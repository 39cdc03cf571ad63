"""Plaid /transactions/sync through plaid-python against the emulator on loopback."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import duckdb
import pytest

from fintech_dataops.lib.ingestion.landing import landed_files
from fintech_dataops.lib.open_banking import layers, tables
from fintech_dataops.lib.open_banking.errors import CredentialsRejected, OpenBankingError, SyncRestartLimit
from fintech_dataops.lib.open_banking.plaid_sync import PlaidSyncer, plaid_client
from fintech_dataops.lib.open_banking.state import SyncStateStore
from fintech_dataops_tests.lib.open_banking.conftest import FAST_RETRY, PLAID_SECRET, START, at, end_of


def syncer(emulator, landing, state, *, secret=None, sleep=None, page_size=15, log=lambda m: None):
    api = plaid_client(emulator.url, emulator.config.plaid_client_id, secret or emulator.config.plaid_secret)
    return PlaidSyncer(api, landing, state, retry=FAST_RETRY, page_size=page_size, sleep=sleep, log=log)


def landed_changes(landing) -> list[dict]:
    from fintech_dataops.lib.ingestion.landing import landed_days

    rows = []
    for day in landed_days(landing, "plaid_transactions"):
        for path in landed_files(landing, "plaid_transactions", day):
            rows += [json.loads(line) for line in path.read_text().splitlines()]
    return rows


def current_state(landing, tmp_path) -> dict[str, dict]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    layers.load_raw_feed(con, landing, "plaid_transactions")
    quality = layers.load_core_feed(con, "plaid_transactions")
    assert quality.quarantined_rows == 0, quality.failed_checks
    tables.build_plaid_current(con)
    rows = con.execute("SELECT transaction_id, amount, merchant_name FROM open_banking.plaid_transactions").fetchall()
    con.close()
    return {r[0]: {"amount": r[1], "merchant_name": r[2]} for r in rows}


def expected_state(emulator, customer_id) -> dict[str, dict]:
    """The item's transactions the emulator knows at ``as_of``: the change log replayed directly."""
    from fintech_dataops.lib.open_banking.emulator_data import plaid_change_log

    item = next(i for i in emulator.items if i.customer_id == customer_id)
    state = {}
    for change in plaid_change_log(emulator.config, item):
        if change.available_at > emulator.as_of:
            continue
        txn = change.transaction
        if change.kind == "removed":
            state.pop(txn["transaction_id"], None)
        else:
            # stored money is exact: the API's decimal amount, not a binary float
            state[txn["transaction_id"]] = {"amount": Decimal(str(txn["amount"])), "merchant_name": txn["merchant_name"]}
    return state


def expected_all(emulator) -> dict[str, dict]:
    merged = {}
    for customer in emulator.access_tokens:
        merged.update(expected_state(emulator, customer))
    return merged


def sync_all(emulator, landing, state):
    results = [syncer(emulator, landing, state).sync_item(c, t, now=emulator.as_of)
               for c, t in sorted(emulator.access_tokens.items())]
    return {k: sum(getattr(r, k) for r in results) for k in ("added", "modified", "removed", "pages")} | {
        "landed": sum(r.landing.records for r in results)}


def test_full_then_incremental_sync_applies_added_modified_removed(emulator, ob_dirs, tmp_path):
    landing, state = ob_dirs
    emulator.as_of = at(START) + timedelta(days=6)
    first = sync_all(emulator, landing, state)
    assert first["pages"] > 3 and first["added"] > 0
    assert current_state(landing, tmp_path / "a") == expected_all(emulator)

    second = {"added": 0, "modified": 0, "removed": 0}
    for _ in range(4):  # incremental syncs every other day
        emulator.advance(timedelta(days=2))
        for key, value in sync_all(emulator, landing, state).items():
            second[key] = second.get(key, 0) + value
    assert second["modified"] > 0 and second["removed"] > 0 and second["added"] > 0
    current = current_state(landing, tmp_path / "b")
    assert current == expected_all(emulator)
    changes = landed_changes(landing)
    removed = {c["transaction_id"] for c in changes if c["change_type"] == "removed"}
    assert removed and not removed & set(current), "a removed transaction disappears from the current state"
    modified = [c for c in changes if c["change_type"] == "modified"]
    assert modified
    for change in modified:
        if change["transaction_id"] in current:
            assert current[change["transaction_id"]]["amount"] == Decimal(str(change["amount"])), "a modified one is updated"

    third = sync_all(emulator, landing, state)
    assert (third["added"], third["modified"], third["removed"], third["landed"]) == (0, 0, 0, 0)


def test_incremental_equals_one_full_sync(emulator, ob_dirs, tmp_path):
    landing, state = ob_dirs
    customer, token = sorted(emulator.access_tokens.items())[1]
    emulator.as_of = at(START) + timedelta(days=3)
    for _ in range(4):
        syncer(emulator, landing, state).sync_item(customer, token, now=emulator.as_of)
        emulator.advance(timedelta(days=3))
    stepwise = current_state(landing, tmp_path / "a")

    fresh_landing = tmp_path / "fresh"
    fresh_landing.mkdir()
    emulator.as_of -= timedelta(days=3)
    syncer(emulator, fresh_landing, SyncStateStore(tmp_path / "s2")).sync_item(customer, token, now=emulator.as_of)
    assert current_state(fresh_landing, tmp_path / "b") == stepwise


def test_mutation_during_pagination_restarts_from_the_starting_cursor(emulator, ob_dirs, tmp_path):
    landing, state = ob_dirs
    customer, token = sorted(emulator.access_tokens.items())[0]
    emulator.as_of = end_of(emulator.config)
    emulator.inject_plaid_mutation(times=2)
    messages = []
    result = syncer(emulator, landing, state, log=messages.append).sync_item(customer, token, now=emulator.as_of)
    assert result.restarts == 2
    assert any("restarting from the cursor" in m for m in messages)
    mutation_errors = [r for r in emulator.requests_to("/transactions/sync") if r["status"] == 400]
    assert len(mutation_errors) == 2
    changes = landed_changes(landing)
    assert len(changes) == len({c["change_id"] for c in changes}), "pages of the aborted attempts were not landed"

    clean_landing = tmp_path / "clean"
    clean_landing.mkdir()
    clean_state = SyncStateStore(tmp_path / "clean_state")
    syncer(emulator, clean_landing, clean_state).sync_item(customer, token, now=emulator.as_of)
    assert state.load("plaid", customer)["cursor"] == clean_state.load("plaid", customer)["cursor"]
    assert sorted(c["change_id"] for c in changes) == sorted(c["change_id"] for c in landed_changes(clean_landing))


def test_mutation_restart_limit_leaves_cursor_unchanged(emulator, ob_dirs):
    landing, state = ob_dirs
    customer, token = sorted(emulator.access_tokens.items())[0]
    emulator.inject_plaid_mutation(times=50)
    with pytest.raises(SyncRestartLimit):
        syncer(emulator, landing, state).sync_item(customer, token)
    assert state.load("plaid", customer) == {}
    assert landed_changes(landing) == []


def test_rate_limit_then_success_honours_retry_after(emulator, ob_dirs, sleeps):
    landing, state = ob_dirs
    customer, token = sorted(emulator.access_tokens.items())[0]
    emulator.inject("/transactions/sync", 429, retry_after=0.25)
    emulator.inject("/transactions/sync", 503)
    result = syncer(emulator, landing, state, sleep=sleeps).sync_item(customer, token)
    assert result.added > 0 and result.cursor_advanced
    assert sleeps.waits[0] == 0.25, "Retry-After is honoured"
    assert len(sleeps.waits) == 2
    statuses = [r["status"] for r in emulator.requests_to("/transactions/sync")]
    assert statuses[:3] == [429, 503, 200]


def test_retries_exhausted_fail_without_advancing_the_cursor(emulator, ob_dirs, sleeps):
    landing, state = ob_dirs
    customer, token = sorted(emulator.access_tokens.items())[0]
    emulator.inject("/transactions/sync", 500, times=FAST_RETRY.max_attempts)
    with pytest.raises(OpenBankingError, match="HTTP 500"):
        syncer(emulator, landing, state, sleep=sleeps).sync_item(customer, token)
    assert state.load("plaid", customer) == {}
    assert len(sleeps.waits) == FAST_RETRY.max_attempts - 1


def test_crash_between_landing_and_cursor_commit_replays_without_duplicates(emulator, ob_dirs, tmp_path):
    landing, state = ob_dirs
    customer, token = sorted(emulator.access_tokens.items())[2]
    emulator.as_of = at(START) + timedelta(days=10)

    def crash():
        raise KeyboardInterrupt("killed after landing, before the cursor commit")

    with pytest.raises(KeyboardInterrupt):
        syncer(emulator, landing, state).sync_item(customer, token, now=emulator.as_of, after_landing=crash)
    assert state.load("plaid", customer) == {}, "the cursor did not advance"
    landed_once = len(landed_changes(landing))
    assert landed_once > 0

    emulator.advance(timedelta(days=3))  # new data arrived meanwhile
    replay = syncer(emulator, landing, state).sync_item(customer, token, now=emulator.as_of)
    assert replay.landing.skipped_already_landed == landed_once
    changes = landed_changes(landing)
    assert len(changes) == len({c["change_id"] for c in changes})
    assert current_state(landing, tmp_path / "w") == expected_state(emulator, customer)


def test_bad_credentials_give_a_clear_error_without_the_secret(emulator, ob_dirs):
    landing, state = ob_dirs
    customer, token = sorted(emulator.access_tokens.items())[0]
    wrong = "wrong-secret-do-not-print-77"
    with pytest.raises(CredentialsRejected) as info:
        syncer(emulator, landing, state, secret=wrong).sync_item(customer, token)
    text = str(info.value)
    assert "INVALID_API_KEYS" in text and "PLAID_SECRET" in text
    assert wrong not in text and PLAID_SECRET not in text and token not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__

    with pytest.raises(CredentialsRejected, match="INVALID_ACCESS_TOKEN"):
        syncer(emulator, landing, state).sync_item(customer, "access-sandbox-unknown")


def test_balances_deserialize_and_land(emulator, ob_dirs, tmp_path):
    landing, state = ob_dirs
    outcome, items = syncer(emulator, landing, state).land_balances(emulator.access_tokens, now=at(START, 12))
    assert items == 3
    assert outcome.records == sum(len(i.accounts) for i in emulator.items)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    layers.load_raw_feed(con, landing, "plaid_accounts")
    result = layers.load_core_feed(con, "plaid_accounts")
    assert result.valid_rows == outcome.records and result.quarantined_rows == 0
    row = con.execute("SELECT customer_id, current_balance, account_type FROM core.plaid_accounts LIMIT 1").fetchone()
    assert row[0].startswith("C") and row[1] > 0 and row[2] == "depository"


def test_two_pulls_in_the_same_second_are_two_snapshots_in_core(emulator, ob_dirs, tmp_path):
    """Seen in CI on an idle machine: three pipeline runs within seconds kept two pulls, because the
    snapshot id was account × pull time *to the second*, so a second pull in the same second repeated
    the first's ids and core quarantined it as duplicates of a pull it never was."""
    landing, state = ob_dirs
    first = at(START, 12)
    second = first + timedelta(milliseconds=400)
    assert first.replace(microsecond=0) == second.replace(microsecond=0)  # the same second
    sync = syncer(emulator, landing, state)
    one, _ = sync.land_balances(emulator.access_tokens, now=first)
    two, _ = sync.land_balances(emulator.access_tokens, now=second)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    layers.load_raw_feed(con, landing, "plaid_accounts")
    result = layers.load_core_feed(con, "plaid_accounts")
    assert result.valid_rows == one.records + two.records and result.quarantined_rows == 0
    assert con.execute("SELECT count(DISTINCT observed_time) FROM core.plaid_accounts").fetchone()[0] == 2
