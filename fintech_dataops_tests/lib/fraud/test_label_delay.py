"""Label delay, train/serve parity of label-dependent features, and a backtest on the contract columns only."""

import numpy as np
import pandas as pd
import pytest

from benchmarks.handbook_generator import HandbookConfig, generate, split
from fintech_dataops.lib.fraud.backtest import backtest, labels_frame
from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.fraud.evaluation import card_precision_at_k, recall_by_group
from fintech_dataops.lib.fraud.features import (
    FEATURE_COLUMNS,
    MERCHANT_FEATURES,
    FeatureConfig,
    compute_features,
)
from fintech_dataops_tests.lib.fraud.helpers import simulated_month

CONTRACT = ["transaction_id", "customer_id", "merchant_id", "amount", "currency", "event_time"]


@pytest.fixture(scope="module")
def month_with_labels():
    tx, labels, _ = simulated_month()
    located = labels.merge(tx[["transaction_id", "merchant_id", "event_time"]], on="transaction_id")
    return tx, located


def test_a_label_reported_after_the_cut_changes_no_training_feature(month_with_labels):
    tx, labels = month_with_labels
    cut = tx["event_time"].min().normalize() + pd.Timedelta(days=20)
    train = tx[tx["event_time"] < cut]
    known = labels[labels["reported_time"] < cut]
    base = compute_features(train, labels=known).set_index("transaction_id")
    # Every legitimate training transaction becomes a fraud whose label arrives after the cut.
    late = pd.DataFrame({"transaction_id": train["transaction_id"], "is_fraud": True,
                         "reported_time": cut + pd.Timedelta(hours=1)})
    again = compute_features(train, labels=pd.concat([known, late], ignore_index=True)).set_index("transaction_id")
    pd.testing.assert_frame_equal(base[list(FEATURE_COLUMNS)], again.loc[base.index, list(FEATURE_COLUMNS)])
    assert (base[[f for f in MERCHANT_FEATURES if "rate" in f]] > 0).any().any()  # the labels did count


def test_without_report_times_a_label_counts_only_after_the_delay():
    config = FeatureConfig(label_delay_days=7)
    start = pd.Timestamp("2026-03-01")
    rows = [{"transaction_id": f"t{d}", "customer_id": f"c{d}", "merchant_id": "M1", "amount": 10.0,
             "currency": "USD", "event_time": start + pd.Timedelta(days=d, hours=12)} for d in range(20)]
    frame = pd.DataFrame(rows)
    labels = labels_frame(frame, frame["transaction_id"].eq("t2").to_numpy(), config.label_delay_days)
    assert labels["reported_time"].tolist() == [start + pd.Timedelta(days=9, hours=12)]
    f = compute_features(frame, labels=labels, config=config).set_index("transaction_id")
    # Day 2's fraud, reported on day 9, is in the windows of days 10+ (window end = day - 7 > 2).
    assert (f.loc[[f"t{d}" for d in range(10)], "merchant_fraud_rate_30d"] == 0).all()
    assert f.loc["t10", "merchant_fraud_rate_1d"] == 1.0  # the 1-day window of day 10 is day 2
    assert f.loc["t10", "merchant_fraud_rate_30d"] == pytest.approx(1 / 3)  # days 0..2 behind the delay
    assert f.loc["t11", "merchant_fraud_rate_1d"] == 0.0


def test_online_and_batch_agree_on_every_feature_with_labels_arriving_during_the_stream(month_with_labels):
    tx, labels = month_with_labels
    cut = tx["event_time"].min().normalize() + pd.Timedelta(days=12)
    train, test = tx[tx["event_time"] < cut], tx[tx["event_time"] >= cut]
    config = FeatureConfig(label_delay_days=2)  # short: labels reported inside the stream count
    engine = FraudEngine(features=config)
    # Both paths judge amounts in the reporting currency (the month has several currencies).
    batch = compute_features(engine.with_reporting(test), engine.with_reporting(train), labels,
                             config).set_index("transaction_id")
    assert (labels["reported_time"] >= cut).any()

    engine.warm_start(train, labels[labels["reported_time"] < cut])
    stream = test.sort_values(["event_time", "transaction_id"]).reset_index(drop=True)
    later = labels[labels["reported_time"] >= cut]
    parts = []
    for start in range(0, len(stream), 311):
        chunk = stream.iloc[start:start + 311]
        # Chargebacks land while the stream runs: by the chunk's last event, every label reported
        # before it has arrived (re-adding earlier ones is idempotent).
        engine.add_labels(later[later["reported_time"] <= chunk["event_time"].iloc[-1]])
        parts.append(engine.online_features(chunk))
    online = pd.concat(parts, ignore_index=True).set_index("transaction_id").loc[batch.index]
    for name in FEATURE_COLUMNS:
        np.testing.assert_allclose(online[name].to_numpy(dtype="float64"), batch[name].to_numpy(dtype="float64"),
                                   rtol=1e-12, atol=0, err_msg=name)
    assert (batch["merchant_fraud_rate_7d"] > 0).sum() > 10


def test_customer_shards_together_compute_every_feature_one_engine_does(month_with_labels):
    """The decision service's scoring processes (``serve --scoring-processes 2``): each shard keeps the
    windows of its customers, counts every row for the merchant windows and reads every label."""
    from fintech_dataops.lib.fraud.features import US_PER_DAY
    from fintech_dataops.lib.realtime.scoring_process import customer_shards

    tx, labels = month_with_labels
    cut = tx["event_time"].min().normalize() + pd.Timedelta(days=12)
    train, test = tx[tx["event_time"] < cut], tx[tx["event_time"] >= cut]
    config = FeatureConfig(label_delay_days=2)
    single = FraudEngine(features=config)
    single.warm_start(train, labels[labels["reported_time"] < cut])
    shards = [FraudEngine(features=config) for _ in range(2)]
    for k, shard in enumerate(shards):
        kept = shard.warm_start(train, labels[labels["reported_time"] < cut],
                                customers=lambda ids, k=k: customer_shards(ids, 2) == k)
        assert 0 < kept < len(train)
    stream = test.sort_values(["event_time", "transaction_id"]).reset_index(drop=True)
    later = labels[labels["reported_time"] >= cut]
    expected, got = [], []
    for start in range(0, len(stream), 257):
        chunk = stream.iloc[start:start + 257]
        arrived = later[later["reported_time"] <= chunk["event_time"].iloc[-1]]
        single.add_labels(arrived)
        expected.append(single.online_features(chunk))
        owner = customer_shards(chunk["customer_id"].to_numpy(dtype=object), 2)
        moments = pd.to_datetime(chunk["event_time"], utc=True).dt.tz_convert(None).to_numpy()
        day = moments.astype("datetime64[us]").astype("int64") // US_PER_DAY
        for k, shard in enumerate(shards):
            shard.add_labels(arrived)
            shard.count_merchant_days(chunk["merchant_id"].to_numpy(dtype=object)[owner != k], day[owner != k])
            if (owner == k).any():
                got.append(shard.online_features(chunk[owner == k]))
    one = pd.concat(expected, ignore_index=True).set_index("transaction_id")
    sharded = pd.concat(got, ignore_index=True).set_index("transaction_id").loc[one.index]
    for name in FEATURE_COLUMNS:
        np.testing.assert_allclose(sharded[name].to_numpy(dtype="float64"), one[name].to_numpy(dtype="float64"),
                                   rtol=1e-12, atol=0, err_msg=name)
    assert (one["merchant_fraud_rate_7d"] > 0).sum() > 10 and (one["merchant_count_7d"] > 0).mean() > 0.5


@pytest.fixture(scope="module")
def handbook_split():
    frame = generate(HandbookConfig(customers=400, terminals=800, days=40, seed=5))
    return split(frame, burn_in_days=0, train_days=26, gap_days=7, test_days=7, start=HandbookConfig.start)


def test_the_backtest_works_with_only_the_six_contract_columns_and_the_label(handbook_split):
    train, test = handbook_split
    result = backtest(train[CONTRACT + ["is_fraud"]], test[CONTRACT + ["is_fraud"]], label_column="is_fraud")
    assert result["transactions"] == len(test) and result["frauds"] == int(test["is_fraud"].sum())
    assert result["auc_roc"] > 0.7 and result["card_precision_at_100"] is not None
    assert result["model"]["label_delay_days"] == 7
    # Trained as of the first test day: every train row had matured (the gap is the delay).
    assert result["model"]["trained_on"]["left_out_immature"] == 0


def test_optional_columns_present_but_null_change_nothing(handbook_split):
    train, test = handbook_split
    plain = backtest(train[CONTRACT + ["is_fraud"]], test[CONTRACT + ["is_fraud"]])
    nulls = {"device_id": None, "channel": None, "country": None}
    with_nulls = backtest(train[CONTRACT + ["is_fraud"]].assign(**nulls), test[CONTRACT + ["is_fraud"]].assign(**nulls))
    assert with_nulls["auc_roc"] == plain["auc_roc"] and with_nulls["recall"] == plain["recall"]


def test_the_last_delay_period_before_the_test_is_not_trained_on(handbook_split):
    train, test = handbook_split
    without_gap = test.copy()
    without_gap["event_time"] = without_gap["event_time"] - pd.Timedelta(days=7)  # test right after train
    result = backtest(train[CONTRACT + ["is_fraud"]], without_gap[CONTRACT + ["is_fraud"]])
    last_week = (train["event_time"] >= train["event_time"].max().normalize() - pd.Timedelta(days=6)).sum()
    assert result["model"]["trained_on"]["left_out_immature"] == pytest.approx(last_week, rel=0.2)
    assert result["model"]["trained_on"]["rows"] == len(train) - result["model"]["trained_on"]["left_out_immature"]


def test_card_precision_counts_cards_per_day_and_drops_cards_already_caught():
    customers = ["a", "a", "b", "c", "a", "b", "c"]
    days = [0, 0, 0, 0, 1, 1, 1]
    y = [0, 1, 0, 0, 1, 0, 1]
    scores = [0.1, 0.9, 0.8, 0.2, 0.9, 0.7, 0.1]
    # Day 0: top-2 cards a (fraud), b → 1/2. Day 1: a was caught on day 0 → top-2 of b, c → c is fraud → 1/2.
    assert card_precision_at_k(customers, days, y, scores, k=2) == pytest.approx(0.5)
    assert card_precision_at_k(customers, days, y, scores, k=1) == pytest.approx(0.5)  # day 0: a; day 1: b


def test_recall_by_group_reports_each_scenario():
    out = recall_by_group([1, 1, 0, 1], [1, 0, 1, 1], ["x", "x", "none", "y"], amounts=[10, 20, 5, 7])
    assert out == {"x": {"frauds": 2, "caught": 1, "recall": 0.5, "value_caught": 10.0, "value_total": 30.0},
                   "y": {"frauds": 1, "caught": 1, "recall": 1.0, "value_caught": 7.0, "value_total": 7.0}}


def test_a_merchant_window_reaching_back_before_the_history_is_unknown_not_a_truncated_rate():
    """Issue 16 item 1: a terminal already compromised when the train file starts looked 100 %
    fraudulent over a 30-day window holding 3 days, a pattern a fully observed window never shows
    (the model learned it, and the test week's legitimate rows at such terminals became alerts)."""
    from fintech_dataops.lib.fraud.features import MERCHANT_UNKNOWN

    config = FeatureConfig(label_delay_days=7)
    start = pd.Timestamp("2026-03-01")
    rows = [{"transaction_id": f"t{d}", "customer_id": f"c{d}", "merchant_id": "M1", "amount": 10.0,
             "currency": "USD", "event_time": start + pd.Timedelta(days=d, hours=12)} for d in range(40)]
    frame = pd.DataFrame(rows)
    labels = labels_frame(frame, frame["transaction_id"].isin(["t0", "t1", "t2"]).to_numpy(), 7)
    plain = compute_features(frame, labels=labels, config=config).set_index("transaction_id")
    bounded = compute_features(frame, labels=labels, config=config, history_start=start).set_index("transaction_id")
    # Day 10: the 30-day window [-27, 3) holds days 0..2 only, all fraud — a 100 % rate without the bound.
    assert plain.loc["t10", "merchant_fraud_rate_30d"] == 1.0
    assert bounded.loc["t10", "merchant_fraud_rate_30d"] == MERCHANT_UNKNOWN
    assert bounded.loc["t10", "merchant_count_30d"] == MERCHANT_UNKNOWN
    # The 1-day window [2, 3) and the 7-day window of day 14, [0, 7), are fully observed: unchanged.
    assert bounded.loc["t10", "merchant_fraud_rate_1d"] == plain.loc["t10", "merchant_fraud_rate_1d"] == 1.0
    assert bounded.loc["t14", "merchant_fraud_rate_7d"] == plain.loc["t14", "merchant_fraud_rate_7d"]
    assert bounded.loc["t13", "merchant_fraud_rate_7d"] == MERCHANT_UNKNOWN  # [-1, 6) starts before the file
    # Day 37's 30-day window [0, 30) is whole: the same rate either way.
    assert bounded.loc["t37", "merchant_fraud_rate_30d"] == plain.loc["t37", "merchant_fraud_rate_30d"] == 0.1
    # Continuous data (no bound) and every non-merchant feature are untouched.
    others = [c for c in FEATURE_COLUMNS if c not in MERCHANT_FEATURES]
    pd.testing.assert_frame_equal(plain[others], bounded[others])
