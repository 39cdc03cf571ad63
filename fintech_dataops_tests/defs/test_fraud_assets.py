"""The fraud assets on a small simulated month written straight into core.* of a temp warehouse."""

import warnings

import dagster as dg
import pandas as pd
import pytest

from fintech_dataops.defs.fraud.assets import (
    fraud_alerts,
    fraud_evaluation,
    fraud_features,
    fraud_model,
    fraud_scored_transactions,
)
from fintech_dataops.lib.ingestion.feeds import FEEDS
from fintech_dataops.lib.fraud.model import current_version, list_versions, read_manifest
from fintech_dataops.lib.money.fx import bundled_rates
from fintech_dataops.lib.warehouse import connection
from fintech_dataops_tests.lib.fraud.helpers import simulated_month

warnings.filterwarnings("ignore", category=dg.BetaWarning)

SMALL_MODEL = {"ops": {"fraud__model": {"config": {"training_days": 28, "label_maturity_days": 7,
                                                   "validation_days": 6, "isolation_trees": 40,
                                                   "boosting_iterations": 60}}}}


def _write_core(database, feed: str, frame: pd.DataFrame) -> None:
    core = frame[list(FEEDS[feed].fields)].copy()
    core["partition_date"] = frame["partition_date"]
    core["source_file"] = f"{feed}/sim.jsonl"
    core["line_number"] = range(1, len(core) + 1)
    with connection(database) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS core")
        con.register("_core", core)
        con.execute(f"CREATE OR REPLACE TABLE core.{feed} AS SELECT * FROM _core")


@pytest.fixture()
def month_warehouse(data_dir, resources):
    tx, labels, truth = simulated_month()
    database = data_dir / "warehouse.duckdb"
    _write_core(database, "transactions", tx)
    _write_core(database, "fraud_labels", labels)
    first, last = tx["partition_date"].min(), tx["partition_date"].max()
    return database, first.isoformat(), last.isoformat(), tx, truth


def _range_tags(first: str, last: str) -> dict:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def _per_day(result, node: str, name: str) -> dict:
    return {m.partition: m.metadata[name].value for m in result.asset_materializations_for_node(node)}


def _stored_per_day(database, sql: str) -> dict:
    with connection(database, read_only=True) as con:
        return {day.isoformat(): value for day, value in con.execute(sql).fetchall()}


def test_fraud_assets_end_to_end(month_warehouse, resources, data_dir):
    database, first, last, tx, truth = month_warehouse
    result = dg.materialize([fraud_features], resources=resources, tags=_range_tags(first, last))
    assert result.success
    with connection(database, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM fraud.features").fetchone()[0] == len(tx)
    # one run over the month, and each day's materialization records that day's own row count
    features_per_day = _stored_per_day(database, "SELECT partition_date, count(*) FROM fraud.features GROUP BY 1")
    assert _per_day(result, "fraud__features", "dagster/row_count") == features_per_day
    assert len(set(features_per_day.values())) > 1

    result = dg.materialize([fraud_model], resources=resources, run_config=SMALL_MODEL)
    assert result.success
    metadata = result.asset_materializations_for_node("fraud__model")[0].metadata
    version = metadata["version"].value
    assert current_version(data_dir / "models") == version and list_versions(data_dir / "models") == [version]
    manifest = read_manifest(data_dir / "models", version)
    assert manifest["training_window"]["end"] < f"{last}T00:00:00"  # the newest week's labels are still arriving

    result = dg.materialize([fraud_scored_transactions, fraud_alerts], resources=resources,
                            tags=_range_tags(first, last))
    assert result.success
    with connection(database, read_only=True) as con:
        scored = con.execute("SELECT * FROM fraud.scored_transactions").df()
        alerts = con.execute("SELECT * FROM fraud.alerts").df()
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_schema = 'fraud' AND table_name = 'alerts'").fetchall())
    assert len(scored) == len(tx) and set(scored["model_version"]) == {version}
    for decision in ("approve", "review", "block"):
        stored = _stored_per_day(database, "SELECT partition_date, count(*) FILTER (WHERE decision = "
                                           f"'{decision}') FROM fraud.scored_transactions GROUP BY 1")
        assert _per_day(result, "fraud__scored_transactions", decision) == stored
    alerts_per_day = _stored_per_day(database, "SELECT d.partition_date, count(a.transaction_id) FROM "
                                               "(SELECT DISTINCT partition_date FROM fraud.scored_transactions) d "
                                               "LEFT JOIN fraud.alerts a USING (partition_date) GROUP BY 1")
    assert _per_day(result, "fraud__alerts", "dagster/row_count") == alerts_per_day
    expected_by_rule: dict = {day: {} for day in alerts_per_day}
    for day, rule_ids in zip(alerts["partition_date"], alerts["rule_ids"]):
        for rule_id in list(rule_ids) or ["MODEL"]:
            counts = expected_by_rule[pd.Timestamp(day).date().isoformat()]
            counts[rule_id] = counts.get(rule_id, 0) + 1
    assert _per_day(result, "fraud__alerts", "alerts_by_rule") == expected_by_rule
    assert types["reasons"] == "VARCHAR[]" and types["rule_ids"] == "VARCHAR[]"
    assert list(alerts.columns[:14]) == ["transaction_id", "customer_id", "merchant_id", "amount", "currency",
                                         "amount_reporting", "event_time", "risk_score", "model_score", "decision",
                                         "reasons", "rule_ids", "partition_date", "alerted_at"]
    assert types["amount"] == "DECIMAL(18,3)" and types["amount_reporting"] == "DECIMAL(18,3)"
    assert len(alerts) == scored["decision"].isin(["review", "block"]).sum()
    in_usd = bundled_rates().annotate(tx)  # the ECB rate of each day: > $800 whatever the currency
    high = set(in_usd.loc[in_usd["amount_reporting"] > 800, "transaction_id"])
    assert set(tx.loc[(tx["amount"] > 800) & (tx["currency"] == "USD"), "transaction_id"]) <= high
    assert high and high <= set(alerts["transaction_id"])  # 100 % of high-value transactions reviewed
    assert all(len(r) > 0 for r in alerts["reasons"])
    # A run over days long past (this month is) pages nobody: notifications are for what just happened.
    assert sum(m.metadata["notifications_sent"].value for m in result.asset_materializations_for_node("fraud__alerts")
               if "notifications_sent" in m.metadata) == 0
    assert not (data_dir / "alerts.log").exists()

    result = dg.materialize([fraud_evaluation], resources=resources)
    assert result.success
    metadata = result.asset_materializations_for_node("fraud__evaluation")[0].metadata
    assert metadata["scope"].value.startswith("out of sample")
    assert "curves" in metadata and metadata["combined/recall"].value >= metadata["rules_only/recall"].value
    with connection(database, read_only=True) as con:
        evaluation = con.execute("SELECT * FROM fraud.evaluation").df().set_index("strategy")
    assert set(evaluation.index) == {"rules_only", "model_only", "combined"}
    assert 0 <= evaluation.loc["combined", "false_positive_rate"] < 0.01


def test_one_day_equals_the_same_day_in_a_range_run_and_reruns_do_not_duplicate(month_warehouse, resources):
    database, first, last, tx, _ = month_warehouse
    day = (pd.Timestamp(first) + pd.Timedelta(days=10)).date().isoformat()
    assert dg.materialize([fraud_features], resources=resources, tags=_range_tags(first, last)).success
    with connection(database, read_only=True) as con:
        in_range = con.execute("SELECT * FROM fraud.features WHERE partition_date = ? ORDER BY transaction_id",
                               [day]).df()
    for _ in range(2):
        assert dg.materialize([fraud_features], resources=resources, partition_key=day).success
    with connection(database, read_only=True) as con:
        alone = con.execute("SELECT * FROM fraud.features WHERE partition_date = ? ORDER BY transaction_id",
                            [day]).df()
        total = con.execute("SELECT count(*) FROM fraud.features").fetchone()[0]
    pd.testing.assert_frame_equal(in_range, alone)
    assert total == len(tx)


def test_model_without_data_is_skipped_not_failed(resources):
    result = dg.materialize([fraud_model], resources=resources)
    assert result.success
    metadata = result.asset_materializations_for_node("fraud__model")[0].metadata
    assert metadata["status"].value == "not trained"
