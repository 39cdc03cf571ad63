"""PII canaries (issue 13, item 10): a distinctive name, e-mail and phone enter through every source —
the simulator's feeds, the Plaid and Stripe emulators (through the real SDKs and the open-banking
assets) and the online decision service — and none of them appears anywhere in the published PM view,
while the figures a PM needs stay readable."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import duckdb
import pytest

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.self_service import pii
from fintech_dataops.lib.ingestion.feeds import FEEDS
from fintech_dataops.lib.self_service.pm_view import publish_snapshot, snapshot_path_for

NAME, FIRST, LAST = "Quillon Zamberwick", "Quillon", "Zamberwick"
EMAIL, EMAIL_LOCAL = "quillon.zamberwick@canary-pii.test", "quillon.zamberwick"
PHONE, PHONE_DIGITS = "+1-555-013-7742", "5550137742"
ADDRESS = "17 Canarywharf Lane"
TAX_ID = "DE813377420"
CANARIES = (NAME, FIRST, LAST, EMAIL, EMAIL_LOCAL, PHONE, PHONE_DIGITS, "555-013-7742", ADDRESS, TAX_ID)
CONTACT = {"name": NAME, "email": EMAIL, "phone": PHONE}


def _address() -> dict:
    return {"line1": ADDRESS, "line2": None, "city": "Zamberwick", "postal_code": "Z9 7QW", "state": None,
            "country": "US"}


# --------------------------------------------------------------------------- the sources


def land_simulator_with_canaries(landing_dir, start: date) -> list[str]:
    from fintech_dataops.lib.simulator.world import SimulationConfig, land_simulation, simulate

    sim = simulate(SimulationConfig(start=start, days=2, customers=40, seed=5))
    customers = sim.feeds["customers"]
    customers.loc[customers.index[0], ["full_name", "email"]] = [NAME, EMAIL]  # one simulated customer
    land_simulation(sim, landing_dir)
    day = start.isoformat()
    for feed in FEEDS:
        frame = sim.feeds[feed]
        record = json.loads(frame.head(1).to_json(orient="records", date_format="iso"))[0] if len(frame) else {}
        record.update(customer_name=NAME, contact=CONTACT, phone=PHONE, notes=f"call {NAME} on {PHONE}")
        record[FEEDS[feed].id_field] = f"CANARY-{feed}"
        broken = dict(record, **{FEEDS[feed].time_field: f"when {NAME} calls"})  # quarantined: bad time
        lines = [json.dumps(record), json.dumps(broken), f'{{"truncated": "{NAME} {EMAIL}']
        if feed == "customers":  # the failing value is quoted in the quarantine reason
            lines.append(json.dumps(dict(record, customer_id="CANARY-bad-email", email=f"{NAME} at {PHONE}")))
        landing.land_lines(landing_dir, feed, day, "partner-canary", lines)
    return sorted({p.name[5:] for feed in FEEDS for p in (landing_dir / feed).glob("date=*")})


def plant_canaries_in_the_emulator(emulator, monkeypatch) -> None:
    from fintech_dataops.lib.open_banking import emulator_data

    for charge in emulator.stripe.charges:
        charge["billing_details"] = {"address": _address(), "email": EMAIL, "name": NAME, "phone": PHONE,
                                     "tax_id": TAX_ID}
        charge["receipt_email"] = EMAIL
        charge["shipping"] = {"name": NAME, "phone": PHONE, "address": _address()}
        charge["metadata"] = {**charge["metadata"], "customer_name": NAME, "customer_phone": PHONE}
    for intent in emulator.stripe.payment_intents:
        intent["receipt_email"] = EMAIL
        intent["shipping"] = {"name": NAME, "phone": PHONE, "address": _address()}
    for dispute in emulator.stripe.disputes:
        dispute["evidence"] = {"customer_name": NAME, "customer_email_address": EMAIL, "billing_address": ADDRESS}
    for changes in emulator._logs.values():
        for change in changes:
            t = change.transaction
            t["account_owner"] = NAME
            t["name"] = f"Zelle payment from {NAME}"
            t["original_description"] = f"ZELLE FROM {NAME} {PHONE}"
            t["location"] = {**(t.get("location") or {}), "address": ADDRESS, "city": "Zamberwick"}
            t["payment_meta"] = {**(t.get("payment_meta") or {}), "payer": NAME, "payee": EMAIL}

    real_balances = emulator_data.plaid_balances

    def balances_with_owners(config, item, as_of):
        accounts = copy.deepcopy(real_balances(config, item, as_of))
        for account in accounts:
            account["name"] = f"{FIRST}'s checking"
            account["owners"] = [{"names": [NAME], "emails": [{"data": EMAIL, "primary": True, "type": "primary"}],
                                  "phone_numbers": [{"data": PHONE, "primary": True, "type": "mobile"}],
                                  "addresses": [{"data": {"street": ADDRESS, "city": "Zamberwick"}}]}]
        return accounts

    monkeypatch.setattr(emulator_data, "plaid_balances", balances_with_owners)


def post_to_the_service(data_dir) -> None:
    from fastapi.testclient import TestClient

    from fintech_dataops.lib.fraud.engine import FraudEngine
    from fintech_dataops.lib.realtime.app import ServiceConfig, create_app

    moment = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    event = {"transaction_id": "CANARY-online", "customer_id": "C0000001", "merchant_id": "M1", "amount": 25.0,
             "currency": "USD", "event_time": moment, "channel": "online", "merchant_category": "grocery",
             "country": "US", "device_id": "D1", "cardholder_name": NAME, "cardholder": CONTACT,
             "billing_phone": PHONE}
    config = ServiceConfig(data_dir=data_dir, batch_window_ms=1.0, rotate_seconds=0.2, warm_start=False)
    with TestClient(create_app(config, engine=FraudEngine())) as client:
        assert client.post("/v1/transactions", json=event).status_code == 200
        refused = client.post("/v1/transactions", json={"transaction_id": "CANARY-refused", "cardholder": CONTACT})
        assert refused.status_code >= 400


# --------------------------------------------------------------------------- the scan


def canary_hits(database) -> dict[str, str]:
    """Every (table.column) of the published file holding any canary, case-insensitive."""
    hits: dict[str, int] = {}
    with duckdb.connect(str(database), read_only=True) as con:
        columns = con.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database()").fetchall()
        condition = " OR ".join("contains(lower(v), ?)" for _ in CANARIES)
        for schema, table, column in columns:
            n = con.execute(
                f'SELECT count(*) FROM (SELECT CAST("{column}" AS VARCHAR) AS v FROM "{schema}"."{table}") '
                f"WHERE {condition}", [c.lower() for c in CANARIES]).fetchone()[0]
            if n:
                example = con.execute(
                    f'SELECT v FROM (SELECT CAST("{column}" AS VARCHAR) AS v FROM "{schema}"."{table}") '
                    f"WHERE {condition} LIMIT 1", [c.lower() for c in CANARIES]).fetchone()[0]
                hits[f"{schema}.{table}.{column}"] = f"{n} row(s), e.g. {example[:300]}"
    return hits


@pytest.mark.slow
def test_no_canary_reaches_any_published_table(data_dir, landing_dir, resources, monkeypatch):
    from fintech_dataops.defs.open_banking.assets import open_banking_assets
    from fintech_dataops.defs.open_banking.resources import PlaidResource, StripeResource
    from fintech_dataops.lib.open_banking.emulator import SandboxEmulator
    from fintech_dataops.lib.open_banking.emulator_data import EmulatorConfig
    from fintech_dataops.lib.quality.core_gate import load_core_partitions
    from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions

    today = datetime.now(timezone.utc).date()
    config = EmulatorConfig(start=today - timedelta(days=5), days=5, plaid_items=2, stripe_customers=5,
                            stripe_charges_per_day=4, plaid_client_id="client-canary", plaid_secret="plaid-canary-S1",
                            stripe_api_key="sk_test_canaryKey000111")
    with SandboxEmulator(config) as emulator:
        plant_canaries_in_the_emulator(emulator, monkeypatch)
        result = dg.materialize(open_banking_assets, resources={
            **resources,
            "plaid": PlaidResource(client_id="client-canary", secret="plaid-canary-S1", host=emulator.url,
                                   access_tokens=json.dumps(emulator.access_tokens), max_attempts=2),
            "stripe": StripeResource(api_key="sk_test_canaryKey000111", api_base=emulator.url, max_attempts=2),
        })
    assert result.success
    days = land_simulator_with_canaries(landing_dir, today - timedelta(days=2))
    post_to_the_service(data_dir)
    days = sorted(set(days) | {d.isoformat() for d in landing.landed_days(landing_dir, "transactions")})

    warehouse = data_dir / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        for feed in FEEDS:
            load_raw_partitions(con, landing_dir, feed, days)
            load_core_partitions(con, feed, days)
    # The canaries are really in the warehouse, through every source ...
    clear = canary_hits(warehouse)
    for table in ("raw.customers.record", "core.customers.full_name", "core.customers.email",
                  "quarantine.customers.reason", "raw.stripe_charges.record", "raw.stripe_payment_intents.record",
                  "raw.plaid_transactions.record", "raw.plaid_accounts.record", "core.plaid_accounts.account_name",
                  "core.plaid_transactions.description", *(f"raw.{feed}.record" for feed in FEEDS),
                  *(f"quarantine.{feed}.record" for feed in FEEDS)):
        assert table in clear, f"no canary reached {table}: the test would prove nothing there"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        online = con.execute("SELECT record FROM raw.transactions WHERE source_file LIKE '%/rt-%' "
                             "AND contains(record, 'CANARY-online')").fetchall()
    assert online and NAME in online[0][0], "the online service's event reached raw with its canary"

    # ... and none of them in the published view, in any table or column.
    snapshot = snapshot_path_for(data_dir)
    publish_snapshot(warehouse, snapshot)
    assert canary_hits(snapshot) == {}

    # The PM keeps what is not PII: ids, amounts, dates, categories, counts.
    with duckdb.connect(str(warehouse), read_only=True) as source, \
            duckdb.connect(str(snapshot), read_only=True) as published:
        for sql in (
            "SELECT transaction_id, customer_id, amount, currency, event_time, channel, merchant_category, country "
            "FROM core.transactions ORDER BY transaction_id",
            "SELECT customer_id, country, segment, signup_time, declared_monthly_income FROM core.customers ORDER BY 1",
            "SELECT charge_id, amount, currency, status, card_country, event_time FROM core.stripe_charges ORDER BY 1",
            "SELECT change_id, amount, category, transaction_date FROM core.plaid_transactions ORDER BY 1",
            "SELECT partition_date, source_file, line_number, failed_checks, failed_columns FROM quarantine.customers "
            "ORDER BY 1, 2, 3",
        ):
            assert published.execute(sql).fetchall() == source.execute(sql).fetchall(), sql
        charge = json.loads(published.execute("SELECT record FROM raw.stripe_charges LIMIT 1").fetchone()[0])
    api = charge["api_object"]
    assert api["amount"] > 0 and api["currency"] == "usd" and api["id"].startswith("ch_")
    assert api["billing_details"]["name"] == "Q***" and api["billing_details"]["phone"] == "+***"
    assert api["billing_details"]["email"] == "q***@canary-pii.test"
    assert api["metadata"]["merchant_category"] and api["payment_method_details"]["card"]["brand"] == "visa"


def test_a_new_column_or_key_is_masked_until_declared_safe():
    assert not pii.is_safe("loyalty_nickname", "VARCHAR") and not pii.is_safe("loyalty_nickname")
    assert pii.column_treatment("core", "loyalty_nickname", "VARCHAR") == "mask"
    assert pii.column_treatment("core", "loyalty_pin", "BIGINT") == "mask"
    assert pii.column_treatment("marts", "loyalty_pin", "BIGINT") == "keep"  # a computed schema
    assert pii.column_treatment("marts", "phone", "BIGINT") == "mask"             # never, even there
    assert pii.column_treatment("core", "amount", "DOUBLE") == "keep"
    assert pii.column_treatment("raw", "record", "VARCHAR") == "json"
    assert pii.column_treatment("quarantine", "reason", "VARCHAR") == "reason"
    line = json.dumps({"amount": 12.5, "customer_id": "C1", "nickname": "Quix", "tax_ids": [{"type": "eu_vat",
                       "value": TAX_ID}], "score_hint": 7, "pending": False})
    assert json.loads(pii.mask_json_line(line)) == {
        "amount": 12.5, "customer_id": "C1", "nickname": "Q***", "tax_ids": [{"type": "eu_vat", "value": "D***"}],
        "score_hint": None, "pending": False}
    assert pii.mask_json_line('{"name": "Quillon Zamberwick"') == pii.UNREADABLE_LINE
    assert pii.mask_text("q.z@canary.test") == "q***@canary.test"
    assert pii.mask_text('{"email": "q@canary.test", "phone": "+1 555"}') == "{***"  # not one address
    assert pii.mask_quoted_values("email: failed str_matches (value 'Quillon at 555')",
                                  json.dumps({"email": "Quillon at 555", "currency": "XYZ"})) == \
        "email: failed str_matches (value '***')"
    assert pii.mask_quoted_values("currency: not an allowed value (value 'XYZ')",
                                  json.dumps({"currency": "XYZ"})) == "currency: not an allowed value (value 'XYZ')"


SOME_KEYS = sorted(pii.SAFE_KINDS)[:: 7] + ["name", "email", "phone", "nickname", "Amount", "metadata"]


def _line_strategy():
    from hypothesis import strategies as st

    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12), st.sampled_from(["2026-11-04", "2026-11-04T10:00:00Z", "C0000001", "USD", "a b",
                                               NAME, EMAIL, PHONE, "12.50", "true", "x\"y"]))
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=2) | st.dictionaries(
        st.sampled_from(SOME_KEYS), inner, max_size=2), max_leaves=4)
    return st.dictionaries(st.sampled_from(SOME_KEYS), values, max_size=6).map(
        lambda d: json.dumps(d, separators=(",", ":") if len(d) % 2 else (", ", ": ")))


def test_the_vectorised_fast_path_only_keeps_lines_the_masker_would_keep():
    """Lines the publisher keeps without calling the masker (the RE2 pattern) are exactly unchanged by it."""
    from hypothesis import given, settings

    con = duckdb.connect()
    pattern = pii.flat_safe_line_pattern()
    assert con.execute("SELECT regexp_full_match(?, ?)", [json.dumps(
        {"transaction_id": "T1", "amount": 12.5, "currency": "USD", "event_time": "2026-11-04T10:00:00Z",
         "is_fraud": False, "reasons": "rule \"x\""}), pattern]).fetchone()[0], "the fast path is used at all"

    @settings(max_examples=400, deadline=None)
    @given(_line_strategy())
    def agree(line):
        if con.execute("SELECT regexp_full_match(?, ?)", [line, pattern]).fetchone()[0]:
            assert json.loads(pii.mask_json_line(line)) == json.loads(line), line

    agree()
