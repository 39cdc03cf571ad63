"""Fraud sees open banking: Stripe fraud labels train/evaluate the model, open-banking inflows are not scored."""

import warnings
from datetime import date, datetime

import dagster as dg

from fintech_dataops.lib.fraud.features import FeatureConfig
from fintech_dataops.lib.fraud.warehouse_io import features_for_days, read_labels, scorable_transactions_sql
from fintech_dataops.lib.open_banking.tables import FRAUD_LABEL_COLUMNS
from fintech_dataops.lib.ingestion.sources import PLATFORM_TRANSACTION_COLUMNS
from fintech_dataops.lib.warehouse import connection

warnings.filterwarnings("ignore", category=dg.BetaWarning)

DAY = date(2026, 3, 2)


def _tx(tid, category, amount=50.0, minute=0):
    return (tid, "C1", f"M-{category}", amount, "USD", datetime(2026, 3, 2, 12, minute), "online", category, "US",
            None, DAY)


def _create(con, table, columns, rows, types):
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
    con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in zip(columns, types))})")
    con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' for _ in columns)})", rows)


TX_TYPES = ("VARCHAR", "VARCHAR", "VARCHAR", "DOUBLE", "VARCHAR", "TIMESTAMP", "VARCHAR", "VARCHAR", "VARCHAR",
            "VARCHAR", "DATE")
LABEL_TYPES = ("VARCHAR", "VARCHAR", "VARCHAR", "BOOLEAN", "VARCHAR", "DOUBLE", "TIMESTAMP", "DATE")


def _warehouse(path):
    with connection(path) as con:
        _create(con, "core.transactions", PLATFORM_TRANSACTION_COLUMNS,
                [_tx("card-1", "grocery"), _tx("card-2", "transfer_in", minute=1)], TX_TYPES)
        _create(con, "open_banking.platform_transactions", PLATFORM_TRANSACTION_COLUMNS,
                [_tx("plaid:pay", "income", 4000.0, 2), _tx("plaid:in", "transfer_in", 900.0, 3),
                 _tx("plaid:shop", "shopping", 40.0, 4), _tx("stripe:ch_1", "electronics", 999.0, 5)], TX_TYPES)
        _create(con, "core.fraud_labels", FRAUD_LABEL_COLUMNS,
                [("L1", "card-1", "C1", True, "card", 50.0, datetime(2026, 3, 3), DAY),
                 ("L2", "card-2", "C1", False, "none", 50.0, datetime(2026, 3, 3), DAY)], LABEL_TYPES)
        _create(con, "open_banking.stripe_fraud_labels", FRAUD_LABEL_COLUMNS,
                [("stripe:dp_1", "stripe:ch_1", "C1", True, "chargeback_fraud", 999.0, datetime(2026, 3, 3), DAY)],
                LABEL_TYPES)


def test_fraud_labels_are_card_and_stripe_labels(tmp_path):
    _warehouse(tmp_path / "w.duckdb")
    with connection(tmp_path / "w.duckdb", read_only=True) as con:
        labels = read_labels(con)
    assert sorted(labels["transaction_id"]) == ["card-1", "stripe:ch_1"]  # confirmed frauds only


def test_labels_are_none_without_any_label_table(tmp_path):
    with connection(tmp_path / "empty.duckdb") as con:
        assert read_labels(con) is None


def test_open_banking_inflows_are_not_scored_but_card_and_open_banking_spend_is(tmp_path):
    _warehouse(tmp_path / "w.duckdb")
    with connection(tmp_path / "w.duckdb", read_only=True) as con:
        ids = {r[0] for r in con.execute(f"SELECT transaction_id FROM ({scorable_transactions_sql(con)})").fetchall()}
        run = features_for_days(con, [DAY], FeatureConfig())
    # A card row is never dropped for its category; open-banking salary / incoming transfers are.
    assert ids == {"card-1", "card-2", "plaid:shop", "stripe:ch_1"}
    assert set(run.features["transaction_id"]) == ids
    assert run.labels == 2


def test_fraud_depends_on_the_open_banking_assets_when_they_are_defined():
    from fintech_dataops.defs import build_defs

    graph = build_defs().resolve_asset_graph()
    features = graph.get(dg.AssetKey(["fraud", "features"])).parent_keys
    model = graph.get(dg.AssetKey(["fraud", "model"])).parent_keys
    evaluation = graph.get(dg.AssetKey(["fraud", "evaluation"])).parent_keys
    assert dg.AssetKey(["open_banking", "platform_transactions"]) in features
    assert dg.AssetKey(["core", "transactions"]) in features
    for parents in (features, model, evaluation):
        assert {dg.AssetKey(["core", "fraud_labels"]), dg.AssetKey(["open_banking", "stripe_fraud_labels"])} <= parents
