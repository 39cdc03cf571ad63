"""The pandera contracts: one per feed, documented, registrable for new feeds, typed like the core tables."""

import json
from pathlib import Path

import duckdb
import pandas as pd
import pandera.pandas as pa
import pytest

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.ingestion.feeds import FEEDS, Column, Feed
from fintech_dataops.lib.quality.core_gate import load_core_partitions
from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions
from fintech_dataops.schemas import (
    column_descriptions,
    feed_for,
    nullable_fields,
    register_feed,
    registered_feeds,
    schema_for,
    typed_frame,
)
from fintech_dataops.schemas.transaction_contract import OPTIONAL_FIELDS, REQUIRED_FIELDS


@pytest.mark.parametrize("feed", list(FEEDS))
def test_every_feed_has_a_contract_with_exactly_its_fields(feed):
    schema = schema_for(feed)
    assert set(schema.columns) == set(FEEDS[feed].fields)
    assert schema.columns[FEEDS[feed].id_field].unique, "ids are unique within a stored partition"
    assert FEEDS[feed].id_field not in nullable_fields(feed)
    assert FEEDS[feed].time_field not in nullable_fields(feed)


@pytest.mark.parametrize("feed", list(FEEDS))
def test_every_column_is_documented(feed):
    descriptions = column_descriptions(feed)
    assert list(descriptions) == list(FEEDS[feed].fields)
    assert all(descriptions.values())
    assert [c.description for c in schema_for(feed).columns.values()] == list(descriptions.values())


def test_the_transaction_declaration_is_the_transaction_contract():
    """The online service's record judge and the stored table's contract name the same required/optional fields."""
    transactions = feed_for("transactions")
    assert transactions.fields == REQUIRED_FIELDS + OPTIONAL_FIELDS
    assert transactions.nullable_fields == frozenset(OPTIONAL_FIELDS)


def transactions_frame(**overrides) -> pd.DataFrame:
    row = {
        "transaction_id": "T1", "customer_id": "C1", "merchant_id": "M1", "amount": 10.0, "currency": "EUR",
        "event_time": pd.Timestamp("2026-10-01 10:00:00"), "channel": "atm", "merchant_category": None,
        "country": "FR", "device_id": None, **overrides,
    }
    return typed_frame(pd.DataFrame([row]), "transactions")


def test_typed_frame_gives_stable_dtypes_even_for_all_null_columns():
    frame = transactions_frame()
    assert str(frame["merchant_category"].dtype) == "str"
    assert str(frame["event_time"].dtype) == "datetime64[us]"
    schema_for("transactions").validate(frame)


@pytest.mark.parametrize(
    ("overrides", "check"),
    [
        ({"amount": -1.0}, "greater_than(0)"),
        ({"amount": 2e6}, "less_than_or_equal_to(1000000.0)"),
        ({"currency": "eur"}, "isin"),
        ({"country": "France"}, "iso_country"),
        ({"event_time": pd.Timestamp("2199-01-01")}, "not_in_future"),
    ],
)
def test_contract_rejects_bad_values(overrides, check):
    with pytest.raises(pa.errors.SchemaErrors) as info:
        schema_for("transactions").validate(transactions_frame(**overrides), lazy=True)
    assert info.value.failure_cases["check"].astype(str).str.startswith(check).any()


def test_contract_rejects_duplicate_ids_in_a_frame():
    frame = pd.concat([transactions_frame(), transactions_frame()], ignore_index=True)
    with pytest.raises(pa.errors.SchemaErrors):
        schema_for("transactions").validate(frame, lazy=True)


WALLET = Feed(
    name="wallet_topups", id_field="topup_id", time_field="event_time", description="Wallet top-ups (test feed).",
    columns=(
        Column("topup_id", "VARCHAR", "Top-up id", unique=True),
        Column("customer_id", "VARCHAR", "Customer"),
        Column("amount", "DECIMAL(18,3)", "Amount", gt=0),
        Column("event_time", "TIMESTAMP", "When"),
    ),
)


@pytest.fixture()
def wallet_registered():
    """Register WALLET for one test only: a later test building the Dagster graph must not see it."""
    from fintech_dataops.schemas import registry

    registered_feeds()
    saved = (dict(registry._feeds), registry._version)
    register_feed(WALLET, replace=True)
    yield WALLET
    registry._feeds.clear()
    registry._feeds.update(saved[0])
    registry._version, registry._pii = saved[1] + 1, (-1, frozenset())


def test_another_domain_can_register_a_feed_and_reuse_the_core_pipeline(tmp_path: Path, wallet_registered):
    assert "wallet_topups" in registered_feeds() and feed_for("wallet_topups") is WALLET
    lines = [
        json.dumps({"topup_id": "W1", "customer_id": "C1", "amount": 5.0, "event_time": "2026-10-01T00:00:00Z"}),
        json.dumps({"topup_id": "W2", "customer_id": "C1", "amount": 0, "event_time": "2026-10-01T00:00:00Z"}),
    ]
    landing.land_lines(tmp_path / "landing", "wallet_topups", "2026-10-01", "b1", lines)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_raw_partitions(con, tmp_path / "landing", "wallet_topups", ["2026-10-01"])
    result = load_core_partitions(con, "wallet_topups", ["2026-10-01"])
    assert (result.valid_rows, result.quarantined_rows) == (1, 1)
    assert con.execute("SELECT failed_checks FROM quarantine.wallet_topups").fetchone()[0] == ["greater_than"]


def test_a_declaration_is_checked_and_a_feed_is_declared_once():
    with pytest.raises(ValueError, match="not one of its columns"):
        Feed(name="wrong_feed", id_field="topup_id", time_field="event_time", description="",
             columns=(Column("topup_id", "VARCHAR", "id", unique=True),))
    with pytest.raises(ValueError, match="must be declared unique"):
        Feed(name="wrong_feed", id_field="topup_id", time_field="topup_id", description="",
             columns=(Column("topup_id", "VARCHAR", "id"),))
    with pytest.raises(ValueError, match="already declared"):
        register_feed(Feed(name="transactions", id_field="t", time_field="t", description="",
                           columns=(Column("t", "TIMESTAMP", "t", unique=True),)))


def _every_contract_module() -> tuple[str, ...]:
    """Every feed declared in a module of fintech_dataops.schemas (the registry finds them all)."""
    return registered_feeds()


# Core (DuckDB) type → the pandas dtype its contract column must declare. Stored money is DECIMAL and
# judged on float64 (never stored as such: typed_frame converts for the check only).
_CONTRACT_DTYPE = {"VARCHAR": "string", "DOUBLE": "float64", "DECIMAL": "float64", "INTEGER": "Int32",
                   "BOOLEAN": "boolean", "TIMESTAMP": "datetime64", "DATE": "datetime64"}


@pytest.mark.parametrize("feed", _every_contract_module())
def test_contract_types_match_the_core_types(feed):
    """Names alone let a field's type drift between the feed declaration and its contract; types may not."""
    columns = schema_for(feed).columns
    drift = {}
    for name, core_type in feed_for(feed).core_types.items():
        expected = _CONTRACT_DTYPE[core_type.split("(")[0].upper()]
        declared = str(columns[name].dtype)
        if not (declared.startswith(expected) or (expected == "string" and declared in ("str", "object"))):
            drift[name] = (core_type, declared)
    assert drift == {}, f"{feed}: core type vs contract dtype differ: {drift}"
