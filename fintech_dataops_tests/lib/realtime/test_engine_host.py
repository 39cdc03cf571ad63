from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from fintech_dataops.lib import warehouse
from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.fraud.features import FeatureConfig
from fintech_dataops.lib.fraud.rules import RuleConfig
from fintech_dataops.lib.realtime.engine_host import EngineHost
from fintech_dataops_tests.lib.realtime.helpers import tx

START = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _warehouse_with(tmp_path, rows: list[dict]):
    """A warehouse whose core.transactions holds ``rows`` (naive-UTC times, partitioned by day)."""
    database = tmp_path / "warehouse.duckdb"
    history = pd.DataFrame(rows)
    history["event_time"] = pd.to_datetime(history["event_time"]).dt.tz_localize(None)
    history["partition_date"] = history["event_time"].dt.date
    with warehouse.connection(database) as con:
        con.register("h", history)
        con.execute("CREATE SCHEMA core; CREATE TABLE core.transactions AS SELECT * FROM h")
    return database


def test_customers_idle_longer_than_the_longest_window_are_evicted(tmp_path):
    host = EngineHost(FraudEngine(), tmp_path / "models")
    host.score([tx("old", "C-idle", at=START)])
    host.score([tx("new", "C-active", at=START + timedelta(days=31))])
    assert host.enforce_bounds() == 1
    assert host.state_size["customers"] == 1
    assert host.evicted_customers == 1


def test_the_customer_cap_evicts_the_least_recently_active_first(tmp_path):
    host = EngineHost(FraudEngine(), tmp_path / "models", max_customers=10)
    host.score([tx(f"T{i}", f"C{i:02d}", at=START, seconds=i) for i in range(20)])
    host.enforce_bounds()
    kept = set(host.engine._customers)
    assert len(kept) == 9
    assert kept == {f"C{i:02d}" for i in range(11, 20)}


def test_warm_start_reads_recent_core_history_so_a_burst_spanning_the_restart_is_caught(tmp_path):
    database = _warehouse_with(tmp_path, [tx(f"H{i}", "C-burst", 10.0, at=START, seconds=i) for i in range(3)])
    host = EngineHost(FraudEngine(), tmp_path / "models")
    report = host.warm_start(database)
    decision = host.score([tx("NEXT", "C-burst", 10.0, at=START, seconds=4)])
    assert report.transactions_kept == 3 and report.source.startswith("core.transactions")
    assert decision["rule_ids"].iloc[0] == ["VELOCITY"]
    # The window carries the device, as the batch path does (the device feature starts warm).
    assert {entry[3] for entry in host.engine.window_entries("C-burst")} == {"D1"}


def test_warm_start_keeps_only_the_newest_max_rows(tmp_path):
    database = _warehouse_with(tmp_path, [tx(f"H{i}", f"C{i}", 10.0, at=START, seconds=i) for i in range(5)])
    host = EngineHost(FraudEngine(), tmp_path / "models")
    report = host.warm_start(database, max_rows=2)
    assert report.transactions_read == 2 and report.transactions_kept == 2
    assert set(host.engine._customers) == {"C3", "C4"}


def test_serve_passes_the_warm_start_row_cap_through():
    from fintech_dataops.cli import build_parser

    args = build_parser().parse_args(["serve", "--warm-start-max-rows", "3000000"])
    assert args.warm_start_max_rows == 3_000_000
    assert build_parser().parse_args(["serve"]).warm_start_max_rows == 2_000_000


def test_a_missing_warehouse_is_a_cold_start(tmp_path):
    report = EngineHost(FraudEngine(), tmp_path / "models").warm_start(tmp_path / "none.duckdb")
    assert report.source == "cold" and report.transactions_kept == 0


@dataclass
class _ConstantModel:
    """Stands in for a trained FraudModel: scores everything 0.7."""

    version: str
    feature_config: FeatureConfig = FeatureConfig()
    rule_config: RuleConfig = RuleConfig()
    review_threshold: float = 0.6
    block_threshold: float = 0.95

    def score(self, features: pd.DataFrame) -> np.ndarray:
        return np.full(len(features), 0.7)


def test_hot_reload_swaps_the_model_between_batches_and_keeps_the_windows(tmp_path, monkeypatch):
    models = tmp_path / "models"
    (models / "fraud").mkdir(parents=True)
    (models / "fraud" / "CURRENT").write_text("v2\n")
    from fintech_dataops.lib.fraud import model as model_module
    from fintech_dataops.lib.fraud.rules import save_rules

    monkeypatch.setattr(model_module, "load_model", lambda d, version=None: _ConstantModel(version))
    save_rules(models, RuleConfig(high_value_amount=500.0))  # configured rules, not the model's defaults
    host = EngineHost(FraudEngine(), models)
    for i in range(3):
        host.score([tx(f"B{i}", "C-burst", 10.0, at=START, seconds=i)])
    assert host.prepare_reload() == "v2"
    assert host.model_version is None  # loaded, not yet live: the scoring thread swaps it in
    decided = host.score([tx("B3", "C-burst", 10.0, at=START, seconds=3)])
    assert host.model_version == "v2" and host.reloads == 1
    assert decided["model_version"].iloc[0] == "v2"
    assert "VELOCITY" in decided["rule_ids"].iloc[0]  # the window survived the swap
    assert host.engine.rules.high_value_amount == 500.0  # a reloaded model scores with the active rules
    assert host.prepare_reload() is None  # already live


def test_a_broken_model_keeps_the_old_one_and_reports_why(tmp_path):
    models = tmp_path / "models"
    (models / "fraud" / "v9").mkdir(parents=True)
    (models / "fraud" / "CURRENT").write_text("v9\n")
    host = EngineHost(FraudEngine(), models)
    assert host.prepare_reload() is None
    assert "v9" in host.last_reload_error
    assert host.score([tx("X", amount=900.0)])["decision"].iloc[0] == "review"


def test_health_figures_never_walk_the_live_state_from_another_thread(tmp_path):
    """Counting rows walks every window: done on the scoring thread at each bounds check, not per call."""
    host = EngineHost(FraudEngine(), tmp_path / "models")
    host.score([tx(f"T{i}", f"C{i % 3}", at=START, seconds=i) for i in range(6)])
    assert host.state_size["customers"] == 3  # live, O(1)
    assert host.state_size["customer_transactions"] == 0  # as of the last snapshot (start-up)
    host.enforce_bounds()
    assert host.state_size["customer_transactions"] == 6 and "as_of" in host.state_size
