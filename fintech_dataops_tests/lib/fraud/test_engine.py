import subprocess
import sys

import numpy as np
import pandas as pd

from fintech_dataops.lib.fraud.engine import DECISION_COLUMNS, INVALID_RECORD, FraudEngine
from fintech_dataops_tests.lib.fraud.helpers import tx_frame


def test_rules_only_engine_does_not_import_sklearn():
    code = (
        "import sys; from fintech_dataops.lib.fraud.engine import FraudEngine; "
        "from fintech_dataops_tests.lib.fraud.helpers import tx_frame; "
        "FraudEngine().score_frame(tx_frame([('t1','c1',0,900)])); "
        "print('sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _same_decisions(batch: pd.DataFrame, online: pd.DataFrame) -> None:
    batch = batch.set_index("transaction_id").sort_index()
    online = online.set_index("transaction_id").sort_index()
    assert list(batch.index) == list(online.index)
    assert (batch["decision"] == online["decision"]).all()
    assert batch["rule_ids"].tolist() == online["rule_ids"].tolist()
    assert batch["reasons"].tolist() == online["reasons"].tolist()
    np.testing.assert_array_equal(batch["risk_score"].to_numpy(), online["risk_score"].to_numpy())
    np.testing.assert_array_equal(batch["model_score"].to_numpy(), online["model_score"].to_numpy())


def test_batch_and_incremental_scoring_give_identical_decisions(month_split, trained_model):
    train, test, known, _ = month_split
    stream = test.sort_values(["event_time", "transaction_id"]).reset_index(drop=True)
    engine = FraudEngine(model=trained_model)
    batch = engine.score_frame(stream, history=train, labels=known)

    online = FraudEngine(model=trained_model)
    online.warm_start(train, known)
    parts = []
    for start in range(0, len(stream), 397):  # micro-batches that cut through bursts and midnights
        chunk = stream.iloc[start:start + 397]
        parts.append(online.score_batch(chunk.to_dict("records")))
    incremental = pd.concat(parts, ignore_index=True)
    _same_decisions(batch, incremental)
    assert (batch["decision"] != "approve").any() and batch["model_score"].notna().all()


def test_online_state_is_bounded_by_the_longest_window():
    engine = FraudEngine()
    days = [tx_frame([(f"t{d}", "c1", d * 86_400, 10)]) for d in range(45)]
    for frame in days:
        engine.score_batch(frame)
    assert engine.state_size["customer_transactions"] == 31  # 30-day window [t-30d, t) plus the newest
    assert engine.state_size["merchant_days"] <= engine.feature_config.merchant_horizon_days + 2


def test_score_batch_accepts_dicts_and_keeps_input_order():
    engine = FraudEngine()
    records = tx_frame([("t2", "c1", 5, 10), ("t1", "c1", 0, 950)]).to_dict("records")
    out = engine.score_batch(records)
    assert out["transaction_id"].tolist() == ["t2", "t1"]
    assert out["decision"].tolist() == ["approve", "review"]
    assert set(DECISION_COLUMNS) <= set(out.columns)
    assert engine.score_one(tx_frame([("t3", "c1", 7, 1)]).iloc[0].to_dict())["decision"] == "approve"


def test_unparseable_records_are_reviewed_with_a_reason():
    frame = tx_frame([("t1", "c1", 0, 10), ("t2", "c1", 1, 10)])
    frame["amount"] = frame["amount"].astype(object)
    frame.loc[1, "amount"] = "ten"
    out = FraudEngine().score_frame(frame).set_index("transaction_id")
    assert out.loc["t2", "decision"] == "review"
    assert out.loc["t2", "rule_ids"] == [INVALID_RECORD]
    assert out.loc["t1", "decision"] == "approve"


def test_model_alerts_carry_the_score_and_unusual_features(month_split, trained_model):
    _, test, known, _ = month_split
    train = month_split[0]
    out = FraudEngine(model=trained_model).score_frame(test, history=train, labels=known)
    alerted = out[out["model_score"] >= trained_model.review_threshold]
    assert len(alerted)
    assert all(any(r.startswith("MODEL: score") for r in reasons) for reasons in alerted["reasons"])
    assert (out["risk_score"] >= out["model_score"]).all()
    assert set(out["decision"]) <= {"approve", "review", "block"}


def test_fast_path_matches_the_general_path_on_a_simulated_stream(month_split, trained_model, monkeypatch):
    """The array fast path of score_batch and the DataFrame path give identical decisions and state.

    The stream holds every simulated fraud scenario, micro-batches that cut through bursts and
    midnights, a late (out-of-event-time-order) batch and new fraud labels arriving mid-stream.
    """
    from fintech_dataops.lib.fraud import engine as engine_module

    train, test, known, truth = month_split
    assert truth.loc[truth["is_fraud"], "scenario"].nunique() >= 4
    stream = test.sort_values(["event_time", "transaction_id"]).reset_index(drop=True)
    late = stream.iloc[100:150].copy()
    late["transaction_id"] = late["transaction_id"] + "-late"
    late["event_time"] = late["event_time"] - pd.Timedelta(hours=3)
    chunks = [stream.iloc[s:s + 251] for s in range(0, len(stream), 251)]
    chunks.insert(len(chunks) // 2, late)
    mid_labels = known.tail(20)

    def run(fast: bool) -> tuple[pd.DataFrame, dict]:
        calls = {"fast": 0}
        original = engine_module.FraudEngine._score_columns

        def counting(self, columns):
            calls["fast"] += 1
            return original(self, columns)

        with monkeypatch.context() as patch:
            patch.setattr(engine_module.FraudEngine, "_score_columns", counting)
            if not fast:
                patch.setattr(engine_module, "_fast_columns", lambda frame: None)
            online = FraudEngine(model=trained_model)
            online.warm_start(train, known.iloc[:-20])
            parts = []
            for i, chunk in enumerate(chunks):
                if i == 3:
                    online.add_labels(mid_labels.merge(train[["transaction_id", "merchant_id", "event_time"]],
                                                       on="transaction_id"))
                parts.append(online.score_batch(chunk.to_dict("records")))
        assert calls["fast"] == (len(chunks) if fast else 0)
        state = {c: online.window_entries(c) for c in online._customers}
        return pd.concat(parts, ignore_index=True), state

    fast, fast_state = run(True)
    general, general_state = run(False)
    _same_decisions(general, fast)
    assert fast_state == general_state
    assert (fast["decision"] != "approve").any()


def test_fast_path_rejects_malformed_records_through_the_general_path():
    records = tx_frame([("t1", "c1", 0, 10), ("t2", "c1", 1, 10)]).to_dict("records")
    records[1]["amount"] = None
    out = FraudEngine().score_batch(records).set_index("transaction_id")
    assert out.loc["t2", "rule_ids"] == [INVALID_RECORD]
    assert out.loc["t1", "decision"] == "approve"
