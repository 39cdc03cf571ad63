"""Dispositions landed by the monitor go raw → core → fraud.dispositions and become fraud labels."""

from datetime import datetime, timedelta

import duckdb
import orjson
import pandas as pd
import pytest

from fintech_dataops.lib.fraud.warehouse_io import read_labels, training_data
from fintech_dataops.lib.ingestion.landing import land_lines, landed_days
from fintech_dataops.lib.monitor.cases import FEED_NAME, CaseBook, record_action
from fintech_dataops.lib.monitor.dispositions import analyst_precision, build_dispositions
from fintech_dataops.lib.quality.core_gate import load_core_partitions
from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions
from fintech_dataops_tests.lib.monitor.helpers import alert_rows

NOW = datetime(2026, 11, 30, 12, 0, 0)


def _alert(row: dict) -> dict:
    return {**row, "event_time": row["event_time"].isoformat(), "alerted_at": row["alerted_at"].isoformat()}


def _load(con, landing):
    days = [d.isoformat() for d in landed_days(landing, FEED_NAME)]
    load_raw_partitions(con, landing, FEED_NAME, days)
    return load_core_partitions(con, FEED_NAME, days)


@pytest.fixture
def landed(tmp_path):
    landing, book = tmp_path / "landing", CaseBook()
    fast, late, old = (_alert(a) for a in alert_rows(NOW))
    record_action(book, landing, fast, action="assign", analyst="alice", now=NOW)
    record_action(book, landing, fast, action="close", analyst="alice", disposition="confirmed_fraud",
                  now=NOW + timedelta(minutes=3))
    record_action(book, landing, late, action="close", analyst="bob", disposition="legitimate", now=NOW + timedelta(minutes=10))
    record_action(book, landing, old, action="close", analyst="bob", disposition="confirmed_fraud", now=NOW + timedelta(hours=1))
    record_action(book, landing, old, action="close", analyst="alice", disposition="unsure", now=NOW + timedelta(hours=2))
    # A hand-written line that breaks the contract: a close without a disposition.
    bad = {**orjson.loads(sorted((landing / FEED_NAME).rglob("*.jsonl"))[0].read_bytes()),
           "disposition_id": "bad-1", "action": "close", "disposition": None}
    land_lines(landing, FEED_NAME, NOW.date(), "hand-written", [orjson.dumps(bad).decode()])
    return tmp_path, landing


def test_case_actions_are_a_lossless_feed_with_quarantine(landed):
    tmp_path, landing = landed
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    result = _load(con, landing)
    assert (result.raw_rows, result.valid_rows, result.quarantined_rows) == (6, 5, 1)
    (checks,) = con.execute("SELECT failed_checks FROM quarantine.fraud_dispositions").fetchone()
    assert "disposition_only_on_close" in str(checks)
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'fraud_dispositions' AND table_schema = 'core'").fetchall())
    assert types["amount"].startswith("DECIMAL") and types["reported_time"] == "TIMESTAMP"


def test_dispositions_table_kpi_and_labels_with_the_disposition_time_as_reported_time(landed):
    tmp_path, landing = landed
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _load(con, landing)
    assert build_dispositions(con) == 4  # every close, append-only (T-old closed twice)
    current = con.execute("SELECT transaction_id, disposition, analyst, time_to_disposition_s FROM fraud.dispositions "
                          "WHERE is_current ORDER BY transaction_id").fetchall()
    assert current == [("T-fast", "confirmed_fraud", "alice", 180.0 + 300.0),
                       ("T-late", "legitimate", "bob", 600.0 + 3600.0),
                       ("T-old", "unsure", "alice", 7200.0 + 86400.0)]
    kpi = analyst_precision(con)
    assert kpi.value == pytest.approx(100 / 3, abs=1e-3) and kpi.details["closed"] == 3
    labels = read_labels(con)
    # Only the confirmed case is a fraud label (the unsure re-close withdrew T-old's), reported when it was closed.
    assert labels["transaction_id"].tolist() == ["T-fast"]
    assert pd.Timestamp(labels["reported_time"].iloc[0]) == pd.Timestamp(NOW + timedelta(minutes=3))


def test_a_confirmed_disposition_is_a_label_the_next_training_run_uses(landed):
    tmp_path, landing = landed
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _load(con, landing)
    features = pd.DataFrame({
        "transaction_id": ["T-fast", "T-late", "T-calm"],
        "event_time": [NOW - timedelta(minutes=5), NOW - timedelta(hours=27), NOW - timedelta(hours=2)],
        "partition_date": [NOW.date()] * 3,
    })
    con.execute("CREATE SCHEMA fraud")
    con.execute("CREATE TABLE fraud.features AS SELECT * FROM features")
    data = training_data(con, training_days=28, label_maturity_days=0)
    labelled = dict(zip(data.features["transaction_id"], data.is_fraud))
    assert labelled == {"T-late": False, "T-calm": False, "T-fast": True}
