"""The ledger's Dagster wiring: daily booking is idempotent, batches settle on the local chain, and the
checks pass on an honest ledger and fail (listing the rows) on a planted difference."""

import dagster as dg
import duckdb

from fintech_dataops.defs.ledger.assets import (
    ENTRIES, approved_payments_booked_once, chain_matches_ledger, entries_balance, ledger_batches, ledger_entries,
    ledger_settlement_mart, ledger_verifies,
)
from fintech_dataops.defs.ledger.resources import ChainResource
from fintech_dataops.defs.resources import WarehouseResource
from fintech_dataops_tests.lib.ledger.conftest import DAYS, make_sources


def _resources(data_dir):
    return {"warehouse": WarehouseResource(data_dir=str(data_dir)), "chain": ChainResource(data_dir=str(data_dir))}


def _entries_metadata(result):
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == ENTRIES]
    return event.materialization.metadata


def _checks(result):
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_daily_booking_is_idempotent_and_batches_settle_with_passing_checks(data_dir):
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        make_sources(con)
    assets = [ledger_entries, ledger_batches, entries_balance, approved_payments_booked_once,
              chain_matches_ledger, ledger_verifies]
    first = dg.materialize(assets, resources=_resources(data_dir), partition_key="2026-11-01",
                           selection=list(ledger_entries.keys))
    assert first.success and _checks(first) == {"entries_balance": True, "approved_payments_booked_once": True}
    booked = _entries_metadata(first)
    again = dg.materialize(assets, resources=_resources(data_dir), partition_key="2026-11-01",
                           selection=list(ledger_entries.keys))
    assert booked["booked"].value == booked["dagster/row_count"].value == 12
    assert _entries_metadata(again)["booked"].value == 0 and _entries_metadata(again)["dagster/row_count"].value == 12

    settled = dg.materialize(assets, resources=_resources(data_dir), selection=list(ledger_batches.keys))
    assert settled.success and _checks(settled) == {"chain_matches_ledger": True, "ledger_verifies": True}
    mart = dg.materialize([ledger_settlement_mart], resources=_resources(data_dir))
    assert mart.success
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        assert con.execute("SELECT status, entry_count FROM ledger.batches").fetchall() == [("settled", 12)]
        usd = con.execute("SELECT entries, entries_settled, card_volume, platform_fees, card_volume_settled "
                          "FROM marts.ledger_settlement WHERE currency = 'USD'").fetchone()
        # 3 approved USD payments of 12.34 (fee 0.19 each) + the loan (disbursement, repayment) on 2026-11-01
        assert [str(v) for v in usd] == ["5", "5", "37.020", "0.570", "37.020"]
        con.execute("UPDATE ledger.postings SET amount_minor = amount_minor + 1 WHERE line_no = 0 AND entry_id = "
                    "(SELECT entry_id FROM ledger.entries WHERE seq = 3)")
    balance = entries_balance(warehouse=WarehouseResource(data_dir=str(data_dir)))
    assert balance.passed is False and balance.metadata["unbalanced"].value == 1
    verified = ledger_verifies(warehouse=WarehouseResource(data_dir=str(data_dir)))
    assert verified.passed is False and "hash_mismatch" in verified.metadata["listed"].value


def test_a_range_booked_in_one_run_records_each_days_own_counts(data_dir):
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        make_sources(con)
    result = dg.materialize([ledger_entries], resources=_resources(data_dir), tags={
        "dagster/asset_partition_range_start": DAYS[0], "dagster/asset_partition_range_end": DAYS[-1]})
    assert result.success
    recorded: dict = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        recorded[(materialization.asset_key.path[1], materialization.partition)] = materialization.metadata
    with duckdb.connect(str(data_dir / "warehouse.duckdb")) as con:
        entries = dict(con.execute("SELECT strftime(business_date, '%Y-%m-%d'), count(*) FROM ledger.entries "
                                   "GROUP BY 1").fetchall())
        postings = dict(con.execute("SELECT strftime(e.business_date, '%Y-%m-%d'), count(*) FROM ledger.postings p "
                                    "JOIN ledger.entries e USING (entry_id) GROUP BY 1").fetchall())
    assert set(entries) == set(DAYS) and len(set(entries.values())) > 1  # the days differ
    for day in DAYS:
        assert recorded[("entries", day)]["dagster/row_count"].value == entries[day]
        assert recorded[("entries", day)]["booked"].value == entries[day]
        assert recorded[("postings", day)]["dagster/row_count"].value == postings[day]
        assert recorded[("entries", day)]["days_in_run"].value == len(DAYS)
