import json

import pandas as pd
import pytest

from fintech_dataops.cli import main
from fintech_dataops.lib.fraud.model import save_model
from fintech_dataops_tests.lib.fraud.conftest import month_split, trained_model  # noqa: F401 (shared fixtures)
from fintech_dataops_tests.lib.fraud.helpers import simulated_month


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tx, _, truth = simulated_month()
    frame = tx.merge(truth[["transaction_id", "is_fraud"]], on="transaction_id")
    cut = frame["event_time"].min().normalize() + pd.Timedelta(days=21)
    root = tmp_path_factory.mktemp("backtest")
    train, test = root / "train.parquet", root / "test.csv"
    frame[frame["event_time"] < cut].to_parquet(train, index=False)
    # CSV without currency (defaults to USD: so only the dollar transactions), ISO text times and an
    # extra column that is ignored.
    later = frame[(frame["event_time"] >= cut) & (frame["currency"] == "USD")].drop(columns=["currency"]).assign(note="x")
    later.assign(event_time=later["event_time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")).to_csv(test, index=False)
    return train, test, later


def test_backtest_prints_one_json_object_with_the_metrics(files, capsys):
    train, test, later = files
    assert main(["fraud", "backtest", "--train", str(train), "--test", str(test), "--label-column", "is_fraud"]) == 0
    out = capsys.readouterr().out.strip()
    result = json.loads(out)  # exactly one JSON document on stdout
    assert {"auc_roc", "average_precision", "precision", "recall", "false_positive_rate", "alerts",
            "transactions", "rule_hits"} <= set(result)
    assert result["transactions"] == len(later)
    assert result["frauds"] == int(later["is_fraud"].sum())
    assert result["rule_hits"]["HIGH_VALUE"] == int((later["amount"] > 800).sum())
    assert set(result["rule_hits"]) >= {"HIGH_VALUE", "VELOCITY"}
    assert 0.5 < result["auc_roc"] <= 1 and 0 <= result["false_positive_rate"] < 0.01
    assert result["alerts"] >= result["rule_hits"]["HIGH_VALUE"]


def test_backtest_reports_a_missing_label_column_as_an_error(files, capsys):
    train, test, _ = files
    assert main(["fraud", "backtest", "--train", str(train), "--test", str(test), "--label-column", "nope"]) == 2
    assert "label column 'nope' not found" in capsys.readouterr().err


def test_score_uses_the_current_model_of_the_data_dir(files, data_dir, capsys, tmp_path):
    _, test, later = files
    output = tmp_path / "scored.parquet"
    assert main(["--data-dir", str(data_dir), "fraud", "score", str(test), str(output)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model_version"] is None  # no model yet: rules only, said on stderr
    scored = pd.read_parquet(output)
    assert len(scored) == len(later) and summary["review"] >= int((later["amount"] > 800).sum())


def test_score_with_a_saved_model(files, data_dir, capsys, tmp_path, trained_model):
    _, test, later = files
    save_model(trained_model, data_dir / "models")
    output = tmp_path / "scored.csv"
    assert main(["--data-dir", str(data_dir), "fraud", "score", str(test), str(output)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model_version"] == trained_model.version
    scored = pd.read_csv(output)
    assert scored["model_score"].notna().all() and set(scored["model_version"]) == {trained_model.version}
