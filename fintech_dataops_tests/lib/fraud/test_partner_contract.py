"""Issue 13 item 11: a partner file with only the six contract fields is scored, not quarantined.

channel and country are optional (null = unknown) in the contract, in core and in the fraud path:
features, decisions and the typed fraud.* writes cope with columns that are null on a whole day.
"""

from __future__ import annotations

import json

import duckdb

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.fraud.features import FeatureConfig
from fintech_dataops.lib.fraud.warehouse_io import (
    FEATURES_TABLE, SCORED_TABLE, features_for_days, score_days, write_partitions,
)
from fintech_dataops.lib.quality.core_gate import load_core_partitions
from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions

DAY = "2026-10-01"


def test_six_field_partner_transactions_reach_core_and_are_scored(tmp_path):
    lines = [json.dumps({"transaction_id": f"P{i}", "customer_id": "C1", "merchant_id": f"M{i % 2}",
                         "amount": 10.0 + i if i < 5 else 950.0, "currency": "USD",
                         "event_time": f"2026-10-01T10:0{i}:00Z"}) for i in range(6)]
    landing.land_lines(tmp_path / "landing", "transactions", DAY, "partner", lines)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        load_raw_partitions(con, tmp_path / "landing", "transactions", [DAY])
        quality = load_core_partitions(con, "transactions", [DAY])
        assert (quality.valid_rows, quality.quarantined_rows) == (6, 0)
        assert con.execute("SELECT count(*) FROM core.transactions WHERE channel IS NULL AND country IS NULL"
                           ).fetchone()[0] == 6
        run = features_for_days(con, [DAY], FeatureConfig())
        write_partitions(con, FEATURES_TABLE, run.features, [DAY])
        scored = score_days(con, [DAY], FraudEngine())
        write_partitions(con, SCORED_TABLE, scored, [DAY], list_columns=("rule_ids", "reasons"))
        stored = con.execute(f"SELECT transaction_id, decision FROM {SCORED_TABLE} ORDER BY 1").fetchall()
    assert [t for t, _ in stored] == [f"P{i}" for i in range(6)]
    assert dict(stored)["P5"] == "review"  # the $800 rule still sees the amount
