"""Backfills the way people run them: the most recent days again, and ranges that mix built and new days.

Every daily asset (the whole ``daily_pipeline``) is rerun over (a) the newest days, whose labels
have not arrived and which are scored before any model exists, and (b) a range that holds those
already-built days and older, new ones, now with a model. Issue 13, item 0: on 1bf85e7 the second
run failed in ``fraud__scored_transactions`` (``VARCHAR -> "NULL"``).
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import pytest

from fintech_dataops.lib.warehouse import connection, stored_column_types

pytestmark = pytest.mark.slow

DAYS = 6
# A model trained on these few days (the defaults want four weeks and a week of label maturity).
SMALL_MODEL = {"ops": {"fraud__model": {"config": {"training_days": DAYS, "label_maturity_days": 1,
                                                   "validation_days": 2, "isolation_trees": 20,
                                                   "boosting_iterations": 30}}}}
PARTITIONED = ("core.transactions", "fraud.features", "fraud.scored_transactions")


def _run(first: date, last: date, run_config: dict | None = None):
    from fintech_dataops.definitions import defs

    result = defs.resolve_job_def("daily_pipeline").execute_in_process(
        instance=dg.DagsterInstance.get(), run_config=run_config or {}, raise_on_error=False,
        tags={"dagster/asset_partition_range_start": first.isoformat(),
              "dagster/asset_partition_range_end": last.isoformat()},
    )
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert result.success, f"daily_pipeline {first} … {last} failed in {failed}"
    return result


def _per_day(database, table: str) -> dict:
    with connection(database, read_only=True) as con:
        return dict(con.execute(f"SELECT CAST(partition_date AS DATE), count(*) FROM {table} GROUP BY 1").fetchall())


def test_the_daily_pipeline_reruns_the_newest_days_and_a_range_mixing_built_and_new_days(data_dir):
    from fintech_dataops.commands.pipeline import ensure_dagster_home
    from fintech_dataops.commands.simulate import simulate_into

    start = date.today() - timedelta(days=DAYS)
    simulate_into(data_dir / "landing", start=start, days=DAYS, customers=100, seed=11, echo=lambda *_: None)
    ensure_dagster_home(data_dir)
    days = [start + timedelta(days=i) for i in range(DAYS)]
    database = data_dir / "warehouse.duckdb"

    # (a) the two newest days first: no label has arrived for them, and with the default config
    # (four weeks of features, a week of label maturity) no model can be trained on them yet.
    _run(days[-2], days[-1])
    with connection(database, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM fraud.scored_transactions WHERE model_version IS NULL").fetchone()[0]
        types = stored_column_types(con, "fraud.scored_transactions")
    assert types["model_version"] == "VARCHAR" and types["rule_ids"] == "VARCHAR[]"
    recent = {table: _per_day(database, table) for table in PARTITIONED}

    # (b) every day: four new ones and the two built ones, with a model trained this time.
    result = _run(days[0], days[-1], SMALL_MODEL)
    statuses = [m.metadata["status"].value for m in
                (e.event_specific_data.materialization for e in result.get_asset_materialization_events())
                if m.asset_key == dg.AssetKey(["fraud", "model"])]
    assert statuses == ["trained"]
    with connection(database, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM fraud.scored_transactions WHERE model_version IS NULL "
                           "AND partition_date >= ?", [days[-2]]).fetchone()[0] == 0
        assert stored_column_types(con, "fraud.scored_transactions") == types
        for table in PARTITIONED:
            ids = con.execute(f"SELECT count(*), count(DISTINCT transaction_id) FROM {table}").fetchone()
            assert ids[0] == ids[1], f"{table} holds duplicated rows after the rerun"
    for table in PARTITIONED:
        per_day = _per_day(database, table)
        assert set(per_day) == set(days)
        assert {d: per_day[d] for d in days[-2:]} == recent[table]  # rebuilt, not appended to
