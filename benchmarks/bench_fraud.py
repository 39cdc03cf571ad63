"""Fraud engine: batch scoring throughput (features + rules + model) and detection quality.

Throughput: ``FraudEngine.score_frame`` on >= 1M simulated transactions (quick:
100k) with a trained model, split into features / rules+model+decision, plus
the rules-only engine. Peers, measured in the same run: (a) a row-at-a-time
Python loop applying only the two rules (per-customer deque), on a 100k sample
— the naive rule engine, which computes far less than the engine; (b) the same
engine (features + rules + model) called one transaction at a time, on a
500-row sample — the naive way to use the engine. Quality: the simulator's default month
(30 days, 3000 customers, seed 42): fit on days 1-21, score days 22-30,
measure against the simulator's truth — rules alone, model alone, combined.
"""

from __future__ import annotations

import datetime as dt
import gc
import time
from collections import defaultdict, deque

import numpy as np
import pandas as pd

START = dt.date(2026, 10, 1)


def _core(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in ("event_time", "reported_time"):
        if column in out.columns:
            out[column] = out[column].dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    return out


def _simulate(customers: int, days: int = 30, seed: int = 42):
    from fintech_dataops.lib.simulator import SimulationConfig, simulate

    sim = simulate(SimulationConfig(start=START, days=days, customers=customers, seed=seed))
    return _core(sim.feeds["transactions"]), _core(sim.feeds["fraud_labels"]), sim.truth


def python_rule_loop(frame: pd.DataFrame, high_value: float = 800.0, max_tx: int = 3, window_s: float = 10.0) -> int:
    """The peer: the same two rules, one row at a time (sorted stream, per-customer deque)."""
    recent: dict[str, deque] = defaultdict(deque)
    flagged = 0
    rows = frame.sort_values(["event_time", "transaction_id"])
    for record in rows[["customer_id", "amount", "event_time"]].to_dict("records"):
        t = record["event_time"].timestamp()
        queue = recent[record["customer_id"]]
        queue.append(t)
        while queue and queue[0] <= t - window_s:
            queue.popleft()
        if record["amount"] > high_value or len(queue) > max_tx:
            flagged += 1
    return flagged


def throughput(quick: bool) -> dict:
    from fintech_dataops.lib.fraud.engine import FraudEngine
    from fintech_dataops.lib.fraud.model import train_model

    # A model fitted on a separate small month (training cost is not what is measured here).
    train_tx, train_labels, train_truth = _simulate(800, seed=7)
    engine = FraudEngine()
    train_features = engine.features(train_tx, labels=train_labels)
    y = train_features["transaction_id"].isin(train_truth.loc[train_truth["is_fraud"], "transaction_id"]).to_numpy()
    model = train_model(train_features, y)

    customers = 1_700 if quick else 17_500
    tx, labels, _ = _simulate(customers)
    n = len(tx)
    scored_engine = FraudEngine(model=model)
    t0 = time.perf_counter()
    features = scored_engine.features(tx, labels=labels)
    t1 = time.perf_counter()
    decided = scored_engine.decide(features)
    t2 = time.perf_counter()
    rules_only = FraudEngine().score_frame(tx, labels=labels)
    t3 = time.perf_counter()
    sample = tx.iloc[: min(n, 100_000)]
    t4 = time.perf_counter()
    loop_flagged = python_rule_loop(sample)
    t5 = time.perf_counter()
    engine_flagged = int((FraudEngine().score_frame(sample)["rule_ids"].map(len) > 0).sum())
    alerts = int(decided["decision"].isin(["review", "block"]).sum())
    rules_only_alerts = int(rules_only["decision"].isin(["review", "block"]).sum())
    del features, decided, rules_only  # millions of list objects would slow every later garbage collection
    gc.collect()
    # Second peer: the same engine (features + rules + model) called one transaction at a time.
    one_by_one = FraudEngine(model=model)
    ordered = tx.sort_values(["event_time", "transaction_id"])
    one_by_one.warm_start(ordered.iloc[: len(ordered) // 2], labels)
    stream = ordered.iloc[len(ordered) // 2:]
    records = stream.head(300 if quick else 500).to_dict("records")
    t6 = time.perf_counter()
    for record in records:
        one_by_one.score_batch([record])
    t7 = time.perf_counter()
    micro = stream.iloc[len(records):len(records) + 20_000].to_dict("records")
    t8 = time.perf_counter()
    for start in range(0, len(micro), 500):
        one_by_one.score_batch(micro[start:start + 500])
    t9 = time.perf_counter()
    full = n / (t2 - t0)
    peer = len(sample) / (t5 - t4)
    per_row = len(records) / (t7 - t6)
    return {
        "transactions": n,
        "model_kind": model.kind,
        "features_seconds": round(t1 - t0, 2),
        "rules_model_decision_seconds": round(t2 - t1, 2),
        "full_pipeline_tx_per_s": round(full),
        "rules_only_engine_tx_per_s": round(n / (t3 - t2)),
        "peer": "row-at-a-time Python loop, same two rules, per-customer deque",
        "peer_sample": len(sample),
        "peer_tx_per_s": round(peer),
        "ratio_full_pipeline_vs_peer": round(full / peer, 2),
        "ratio_rules_only_vs_peer": round((n / (t3 - t2)) / peer, 2),
        "peer_and_engine_agree_on_rule_hits": loop_flagged == engine_flagged,
        "peer_engine_one_transaction_at_a_time_tx_per_s": round(per_row),
        "ratio_full_pipeline_vs_one_at_a_time": round(full / per_row, 1),
        "online_micro_batches_of_500_tx_per_s": round(len(micro) / (t9 - t8)),
        "online_one_transaction_ms": round(1000 / per_row, 1),
        "alerts": alerts,
        "rules_only_alerts": rules_only_alerts,
    }


def quality(customers: int = 3000, seed: int = 42, train_days: int = 21) -> dict:
    """Default simulated month: fit on days 1-21, score days 22-30 against the simulator's truth.

    Two label regimes for training: the labels reported by the cut (what a model
    trained that day knows) and the labels of the training days reported by the
    end of the month (matured, the fraud.model asset's 7-day maturity).
    """
    from fintech_dataops.lib.fraud.backtest import backtest

    tx, labels, truth = _simulate(customers, seed=seed)
    frame = tx.merge(truth[["transaction_id", "is_fraud"]], on="transaction_id")
    cut = pd.Timestamp(START) + pd.Timedelta(days=train_days)
    train = frame[frame["event_time"] < cut].copy()
    test = frame[frame["event_time"] >= cut].copy()
    out = {"protocol": f"simulator {customers} customers, 30 days, seed {seed}; train days 1-{train_days}, "
                       f"test days {train_days + 1}-30 ({len(test):,} transactions, {int(test['is_fraud'].sum())} "
                       "frauds, truth labels)"}
    for regime, known in (("labels_known_at_cut", labels[labels["reported_time"] < cut]),
                          ("labels_matured", labels)):
        train["label"] = train["transaction_id"].isin(known["transaction_id"])
        test["label"] = test["is_fraud"]
        result = backtest(train, test, label_column="label",
                          train_labels=known[known["transaction_id"].isin(train["transaction_id"])])
        out[regime] = {
            "model_kind": result["model"]["kind"],
            "thresholds": result["model"]["thresholds"],
            **{name: {k: (round(v, 6) if isinstance(v, float) else v) for k, v in metrics.items()
                      if k in ("false_positive_rate", "false_positive_rate_discretionary", "recall", "precision",
                               "auc_roc", "average_precision", "alerts", "alerts_per_day", "fraud_value_caught",
                               "fraud_value_total")}
               for name, metrics in result["strategies"].items()},
        }
    return out


def run(quick: bool = False) -> dict:
    result = {"throughput": throughput(quick)}
    result["quality"] = quality(customers=600 if quick else 3000)
    return result


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2, default=str))
