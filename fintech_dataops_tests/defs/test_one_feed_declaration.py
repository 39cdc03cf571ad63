"""A feed is one declaration: a throwaway feed, declared once, gets its raw/core assets, its pandera
contract, its column docs and its masking policy — nothing else is written for it."""

import json

import dagster as dg
import duckdb
import pytest

from fintech_dataops.schemas import registry

# The worked example of docs/DEVELOPING.md ("How to add a feed"): this is the whole feed.
from fintech_dataops.schemas.declaration import MONEY, NOT_IN_FUTURE, TIMESTAMP, VARCHAR, Column, Feed

WALLET_TOPUPS = Feed(
    name="wallet_topups",
    id_field="topup_id",
    time_field="event_time",
    description="Wallet top-ups reported by the wallet partner.",
    quarantine_warn_rate=0.02,
    columns=(
        Column("topup_id", VARCHAR, "Top-up id (unique)", unique=True, str_length=(1, 64)),
        Column("customer_id", VARCHAR, "Customer (core.customers)", str_length=(1, 64)),
        Column("holder_name", VARCHAR, "Name on the funding card", pii="direct"),
        Column("amount", MONEY, "Top-up amount, major units of `currency`", gt=0, le=10_000),
        Column("currency", VARCHAR, "ISO 4217 currency code", isin=("EUR", "USD")),
        Column("event_time", TIMESTAMP, "When the top-up was made (UTC)", rules=(NOT_IN_FUTURE,)),
    ),
)
DAY = "2026-10-01"


@pytest.fixture()
def declared():
    """Register the throwaway feed for one test only (the platform's registry is left as it was)."""
    registry.registered_feeds()
    saved = (dict(registry._feeds), registry._version, registry._pii)
    registry.register_feed(WALLET_TOPUPS)
    yield WALLET_TOPUPS
    registry._feeds.clear()
    registry._feeds.update(saved[0])
    registry._version, registry._pii = saved[1] + 1, (-1, frozenset())


def test_one_declaration_gives_the_contract_the_docs_and_the_masking(declared):
    from fintech_dataops.lib.self_service.pii import column_treatment, is_safe

    schema = registry.schema_for("wallet_topups")
    assert list(schema.columns) == list(declared.fields)
    assert schema.columns["topup_id"].unique
    assert str(schema.columns["amount"].dtype) == "float64"  # judged on float, stored as DECIMAL
    assert [c.name for c in schema.columns["currency"].checks] == ["isin"]
    assert declared.core_types["amount"] == "DECIMAL(18,3)"
    assert registry.column_descriptions("wallet_topups")["holder_name"] == "Name on the funding card"
    assert not is_safe("holder_name", "VARCHAR")
    assert column_treatment("core", "holder_name", "VARCHAR", "wallet_topups") == "mask"


def test_one_declaration_gives_a_raw_core_pair_that_loads_and_quarantines(declared, data_dir, landing_dir, resources):
    from fintech_dataops.defs.ingestion.assets import build_feed_assets, partner_feeds
    from fintech_dataops.lib.ingestion import landing

    assert declared in partner_feeds()  # a partner feed: defs/ingestion and defs/quality build its pair
    raw, core, quarantine = build_feed_assets(declared, "ingestion")
    assert (raw.key, core.key, quarantine.key) == (
        dg.AssetKey(["raw", "wallet_topups"]), dg.AssetKey(["core", "wallet_topups"]),
        dg.AssetKey(["quarantine", "wallet_topups"]))
    columns = core.specs_by_key[core.key].metadata["dagster/column_schema"].columns
    assert {c.name: c.description for c in columns}["holder_name"] == "Name on the funding card"
    assert {c.name: c.type for c in columns}["amount"] == "DECIMAL(18,3)"
    assert {spec.name for spec in core.check_specs} == {"schema", "reconciliation", "quarantine_rate"}

    good = {"topup_id": "W1", "customer_id": "C1", "holder_name": "Ada L", "amount": 25.5, "currency": "EUR",
            "event_time": "2026-10-01T09:00:00Z"}
    lines = [json.dumps(good), json.dumps({**good, "topup_id": "W2", "amount": 0}),
             json.dumps({**good, "topup_id": "W3", "currency": "GBP"}), "{not json"]
    landing.land_lines(landing_dir, "wallet_topups", DAY, "b1", lines)
    result = dg.materialize([raw, core], resources=resources, partition_key=DAY)
    assert result.success
    reported = [m for m in result.asset_materializations_for_node("core__wallet_topups")
                if m.asset_key == quarantine.key]
    assert [(m.partition, m.metadata["dagster/row_count"].value) for m in reported] == [(DAY, 3)]
    quarantine_rate = next(e for e in result.get_asset_check_evaluations() if e.check_name == "quarantine_rate")
    assert quarantine_rate.metadata["warn_rate"].value == 0.02  # the feed's declared threshold
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT topup_id, amount FROM core.wallet_topups").fetchall() == [("W1", 25.5)]
        assert con.execute("SELECT typeof(amount) FROM core.wallet_topups").fetchone()[0] == "DECIMAL(18,3)"
        reasons = dict(con.execute("SELECT line_number, failed_checks FROM quarantine.wallet_topups").fetchall())
    assert reasons[2] == ["greater_than"] and reasons[3] == ["isin"] and 4 in reasons
