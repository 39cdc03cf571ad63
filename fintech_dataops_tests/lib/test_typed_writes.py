"""Partitioned writes carry the table's types whatever a day's data holds (issue 13, item 0).

The most recent days have no labels yet, a day can be scored before any model exists, and most
decisions carry no rule: whole columns are null or lists are nearly all empty. None of that may
decide a stored column's type, nor make a rerun of those days fail.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pandas as pd
import pytest

from fintech_dataops.lib.fraud.warehouse_io import SCORED_TABLE, write_partitions
from fintech_dataops.lib.warehouse import replace_frame_partitions, replace_partitions, stored_column_types

DAY = date(2026, 11, 27)


def _scored(day: date, n: int, *, model_version: str | None, rule_every: int | None = None,
            rule_at: tuple[int, ...] = ()) -> pd.DataFrame:
    """A fraud.scored_transactions frame as lib/fraud/engine.decide returns it."""
    hits = {i for i in range(n) if (rule_every and i % rule_every == 0) or i in rule_at}
    return pd.DataFrame({
        "transaction_id": [f"t-{day}-{i}" for i in range(n)],
        "customer_id": [f"c{i % 97}" for i in range(n)],
        "merchant_id": [f"m{i % 13}" for i in range(n)],
        "amount": [10.0 + i % 50 for i in range(n)],
        "currency": ["USD"] * n,
        "event_time": pd.to_datetime([datetime.combine(day, datetime.min.time()) + timedelta(seconds=i)
                                      for i in range(n)]),
        "partition_date": pd.to_datetime([day] * n),
        "risk_score": [0.95 if i in hits else 0.0 for i in range(n)],
        "model_score": [float("nan") if model_version is None else 0.01] * n,
        "decision": ["review" if i in hits else "approve" for i in range(n)],
        "rule_ids": [["HIGH_VALUE"] if i in hits else [] for i in range(n)],
        "reasons": [["HIGH_VALUE: amount 900 > 800"] if i in hits else [] for i in range(n)],
        "discretionary_alert": [False] * n,
        "model_version": [model_version] * n,
    })


@pytest.fixture()
def con():
    connection = duckdb.connect(":memory:")
    yield connection
    connection.close()


def test_a_day_whose_rule_hits_are_sparse_is_written(con):
    """DuckDB's pandas scan samples rows: sampled lists all empty → "NULL"[] → VARCHAR -> "NULL" on old main."""
    write_partitions(con, SCORED_TABLE, _scored(DAY - timedelta(days=1), 50, model_version="v1", rule_every=5),
                     [DAY - timedelta(days=1)], ("rule_ids", "reasons"))
    sparse = _scored(DAY, 5000, model_version="v1", rule_at=(1237,))
    assert write_partitions(con, SCORED_TABLE, sparse, [DAY], ("rule_ids", "reasons")) == 5000
    assert con.execute(f"SELECT rule_ids FROM {SCORED_TABLE} WHERE transaction_id = ?",
                       [f"t-{DAY}-1237"]).fetchone()[0] == ["HIGH_VALUE"]


def test_recent_days_first_then_a_model_and_older_days_keep_declared_types(con):
    """The newest days scored before any model (all-null model columns), then a range that mixes
    them with new days once a model exists: no column may be born with type NULL."""
    recent = [DAY - timedelta(days=1), DAY]
    frame = pd.concat([_scored(d, 30, model_version=None) for d in recent], ignore_index=True)
    write_partitions(con, SCORED_TABLE, frame, recent, ("rule_ids", "reasons"))
    types = stored_column_types(con, SCORED_TABLE)
    assert types["model_version"] == "VARCHAR" and types["model_score"] == "DOUBLE"
    assert types["rule_ids"] == "VARCHAR[]" and types["partition_date"] == "DATE"

    mixed = [DAY - timedelta(days=3), DAY - timedelta(days=2), *recent]
    frame = pd.concat([_scored(d, 30, model_version="v7", rule_every=4) for d in mixed], ignore_index=True)
    for _ in range(2):  # and a rerun does not duplicate
        assert write_partitions(con, SCORED_TABLE, frame, mixed, ("rule_ids", "reasons")) == 120
    assert con.execute(f"SELECT count(*), count(DISTINCT model_version) FROM {SCORED_TABLE}").fetchone() == (120, 1)
    assert stored_column_types(con, SCORED_TABLE) == types


def test_a_column_typed_null_by_an_older_release_is_repaired(con):
    con.execute("CREATE SCHEMA fraud")
    con.execute(f"CREATE TABLE {SCORED_TABLE} AS SELECT 'a' AS transaction_id, DATE '2026-11-20' AS partition_date, "
                "NULL AS model_version")
    assert stored_column_types(con, SCORED_TABLE)["model_version"] == '"NULL"'
    frame = pd.DataFrame({"transaction_id": ["b"], "partition_date": [DAY], "model_version": ["v2"]})
    write_partitions(con, SCORED_TABLE, frame, [DAY])
    assert stored_column_types(con, SCORED_TABLE)["model_version"] == "VARCHAR"
    assert con.execute(f"SELECT model_version FROM {SCORED_TABLE} ORDER BY transaction_id").fetchall() == [
        (None,), ("v2",)]


def test_an_undeclared_all_null_column_is_refused_not_created_as_null(con):
    frame = pd.DataFrame({"id": ["x"], "partition_date": [DAY], "mystery": [None]})
    with pytest.raises(ValueError, match="mystery"):
        replace_frame_partitions(con, "fraud.other", frame, partition_column="partition_date", partition_values=[DAY])
    with pytest.raises(ValueError, match="mystery"):
        con.execute("CREATE SCHEMA IF NOT EXISTS fraud")
        replace_partitions(con, "fraud.other", "SELECT 'x' AS id, DATE '2026-11-27' AS partition_date, NULL AS mystery",
                           partition_column="partition_date", partition_values=[DAY])
    declared = replace_frame_partitions(con, "fraud.other", frame, partition_column="partition_date",
                                        partition_values=[DAY], column_types={"mystery": "VARCHAR"})
    assert declared == 1 and stored_column_types(con, "fraud.other")["mystery"] == "VARCHAR"


def test_an_empty_frame_clears_the_days(con):
    write_partitions(con, SCORED_TABLE, _scored(DAY, 10, model_version="v1"), [DAY], ("rule_ids", "reasons"))
    assert write_partitions(con, SCORED_TABLE, pd.DataFrame(), [DAY]) == 0
    assert con.execute(f"SELECT count(*) FROM {SCORED_TABLE}").fetchone()[0] == 0


def test_evaluation_of_days_without_labels_has_no_untyped_metric(con):
    """fraud.evaluation is rewritten whole, but an all-None metric (no label yet) became a column of type NULL."""
    from fintech_dataops.lib.fraud.warehouse_io import EVALUATION_TABLE, evaluate_scored
    from fintech_dataops.lib.warehouse import replace_table

    frame = _scored(DAY, 40, model_version=None, rule_every=7)
    write_partitions(con, SCORED_TABLE, frame, [DAY], ("rule_ids", "reasons"))
    result = evaluate_scored(con, out_of_sample_after=None, review_threshold=None)
    assert "no fraud label table yet" in " ".join(result.notes)
    con.register("_evaluation", result.table)
    replace_table(con, EVALUATION_TABLE, "SELECT * FROM _evaluation")
    types = stored_column_types(con, EVALUATION_TABLE)
    assert not [c for c, t in types.items() if '"NULL"' in t], types
    assert types["recall"] == "DOUBLE"
