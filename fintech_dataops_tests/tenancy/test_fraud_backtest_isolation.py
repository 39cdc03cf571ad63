"""``fraud backtest`` per tenant: each bank's backtest uses that bank's active rules, and another bank's
storage stays byte-identical (and cannot be read through a file argument)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fintech_dataops.cli import main
from fintech_dataops.lib.fraud.rules import RuleConfig, save_rules
from fintech_dataops.lib.tenancy.paths import TENANT_ENV
from fintech_dataops_tests.lib.fraud.helpers import simulated_month
from fintech_dataops_tests.tenancy.test_isolation import tree_digest

THRESHOLDS = {"acme": 500.0, "globex": 2000.0}  # each bank's own HIGH_VALUE rule


@pytest.fixture()
def files(tmp_path):
    tx, _, truth = simulated_month()
    frame = tx.merge(truth[["transaction_id", "is_fraud"]], on="transaction_id")
    cut = frame["event_time"].min().normalize() + pd.Timedelta(days=21)
    train, test = tmp_path / "train.parquet", tmp_path / "test.parquet"
    frame[frame["event_time"] < cut].to_parquet(train, index=False)
    later = frame[(frame["event_time"] >= cut) & (frame["currency"] == "USD")]
    later.to_parquet(test, index=False)
    return train, test, later


def _backtest(tenant, monkeypatch, capsys, *args) -> tuple[int, str, str]:
    monkeypatch.setenv(TENANT_ENV, tenant)
    capsys.readouterr()
    code = main(["--tenant", tenant, "fraud", "backtest", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_fraud_backtest_reads_only_the_selected_banks_rules_and_writes_nothing(two_banks, files, monkeypatch,
                                                                              capsys):
    registry, _ = two_banks
    train, test, later = files
    for name, threshold in THRESHOLDS.items():
        save_rules(registry.root(name) / "models", RuleConfig(high_value_amount=threshold))
    before = {name: tree_digest(registry.root(name)) for name in THRESHOLDS}
    for name, threshold in THRESHOLDS.items():
        code, out, err = _backtest(name, monkeypatch, capsys, "--train", str(train), "--test", str(test))
        assert code == 0, err
        result = json.loads(out)
        assert result["rule_hits"]["HIGH_VALUE"] == int((later["amount"] > threshold).sum()), name
    assert int((later["amount"] > 500).sum()) != int((later["amount"] > 2000).sum())  # the check can tell them apart
    # Neither bank's storage changed (a backtest replays files; it lands nothing).
    assert {name: tree_digest(registry.root(name)) for name in THRESHOLDS} == before
    # A file argument inside the other bank's storage is refused before anything is read.
    foreign = registry.root("globex") / "landing" / "train.parquet"
    foreign.parent.mkdir(parents=True, exist_ok=True)
    foreign.write_bytes(train.read_bytes())
    globex_before = tree_digest(registry.root("globex"))
    code, out, err = _backtest("acme", monkeypatch, capsys, "--train", str(foreign), "--test", str(test))
    assert code == 2 and "refused" in err and out == ""
    assert tree_digest(registry.root("globex")) == globex_before
