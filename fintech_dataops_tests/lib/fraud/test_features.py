import numpy as np
import pandas as pd
import pytest

from fintech_dataops.lib.fraud.features import (
    FEATURE_COLUMNS,
    FeatureConfig,
    compute_features,
    prepare_transactions,
)
from fintech_dataops_tests.lib.fraud.helpers import T0, simulated_month, tx_frame


@pytest.fixture(scope="module")
def month():
    tx, labels, _ = simulated_month()
    return tx, labels


def test_features_use_only_the_past(month):
    tx, labels = month
    cut = tx["event_time"].min().normalize() + pd.Timedelta(days=12)
    past = tx[tx["event_time"] < cut]
    base = compute_features(past, labels=labels[labels["reported_time"] < cut]).set_index("transaction_id")
    # Alter the future: shuffle future amounts and times among themselves, add a burst, add future labels.
    future = tx[tx["event_time"] >= cut].copy()
    rng = np.random.default_rng(1)
    future["amount"] = rng.permutation(future["amount"].to_numpy()) * 3
    future["event_time"] = cut + pd.to_timedelta(rng.permutation(len(future)), unit="s")
    altered = pd.concat([past, future], ignore_index=True).sample(frac=1.0, random_state=3)
    again = compute_features(altered, labels=labels).set_index("transaction_id").loc[base.index]
    pd.testing.assert_frame_equal(base[list(FEATURE_COLUMNS)], again[list(FEATURE_COLUMNS)])


def test_a_day_with_its_history_equals_the_same_day_in_one_pass(month):
    tx, labels = month
    day = tx["event_time"].min().normalize() + pd.Timedelta(days=20)
    today = tx[(tx["event_time"] >= day) & (tx["event_time"] < day + pd.Timedelta(days=1))]
    history = tx[tx["event_time"] < day]
    split = compute_features(today, history, labels).set_index("transaction_id")
    whole = compute_features(tx, None, labels).set_index("transaction_id").loc[split.index]
    pd.testing.assert_frame_equal(split[list(FEATURE_COLUMNS)], whole[list(FEATURE_COLUMNS)])


def test_customer_windows_count_prior_transactions_only():
    frame = tx_frame([("t1", "c1", 0, 10), ("t2", "c1", 1800, 30), ("t3", "c1", 3599, 50), ("t4", "c1", 3600, 70),
                      ("t5", "c1", 7300, 90), ("u1", "c2", 10, 1000)])
    f = compute_features(frame).set_index("transaction_id")
    assert f["customer_count_1h"].tolist() == [0, 1, 2, 3, 0, 0]  # t4's window [t-1h, t) still holds t1
    assert f.loc["t4", "customer_mean_amount_1h"] == pytest.approx(30.0)
    assert f.loc["t4", "amount_ratio_1h"] == pytest.approx(70 / 30)
    assert f.loc["t5", "customer_count_1d"] == 4
    assert f.loc["t1", "amount_ratio_30d"] == 1.0  # no history: neutral ratio
    assert f.loc["t2", "seconds_since_previous"] == 1800
    assert f.loc["t1", "seconds_since_previous"] == 30 * 86_400  # capped at the longest window
    assert f.loc["t3", "device_count_30d"] == 2


def test_merchant_fraud_rate_only_counts_labels_reported_before_the_day():
    config = FeatureConfig(label_delay_days=1)
    rows = [(f"p{i}", f"c{i}", i * 3600, 20, "M1") for i in range(10)]  # day 0 at M1
    later = [("q1", "z1", 3 * 86_400, 20, "M1")]  # day 3 at M1
    frame = tx_frame(rows + later, start=pd.Timestamp("2026-03-10"))
    reported_late = pd.DataFrame({"transaction_id": ["p0", "p1"], "is_fraud": [True, True],
                                  "reported_time": [pd.Timestamp("2026-03-13 08:00")] * 2})
    reported_early = reported_late.assign(reported_time=pd.Timestamp("2026-03-12 08:00"))
    late = compute_features(frame, labels=reported_late, config=config).set_index("transaction_id")
    early = compute_features(frame, labels=reported_early, config=config).set_index("transaction_id")
    # Day 3 with a 1-day delay: the 1-day window is day 1 (empty), the 7/30-day windows hold day 0.
    assert late.loc["q1", ["merchant_count_1d", "merchant_count_7d", "merchant_count_30d"]].tolist() == [0, 10, 10]
    assert late.loc["q1", "merchant_fraud_rate_7d"] == 0.0  # reported on the day itself: not yet known
    assert early.loc["q1", "merchant_fraud_rate_7d"] == pytest.approx(0.2)
    assert early.loc["q1", "merchant_fraud_rate_30d"] == pytest.approx(0.2)
    assert early.loc["q1", "merchant_fraud_rate_1d"] == 0.0
    assert early.loc["p5", "merchant_fraud_rate_30d"] == 0.0  # its own day is behind the delay


def test_bad_rows_are_returned_not_raised():
    frame = tx_frame([("t1", "c1", 0, 10), ("t2", "c1", 1, 10)])
    frame["event_time"] = frame["event_time"].astype(object)
    frame.loc[1, "event_time"] = "not a time"
    frame.loc[0, "amount"] = np.nan
    valid, rejected = prepare_transactions(pd.concat([frame, tx_frame([("t3", "c1", 5, 3)])], ignore_index=True))
    assert valid["transaction_id"].tolist() == ["t3"]
    assert sorted(rejected["reject_reason"]) == ["amount is not a number", "event_time is not a timestamp"]


def test_iso_text_times_and_missing_currency_are_accepted():
    frame = tx_frame([("t1", "c1", 0, 10)]).drop(columns=["currency", "device_id"])
    frame["event_time"] = (T0.isoformat() + "Z")
    f = compute_features(frame)
    assert f.loc[0, "currency"] == "USD" and f.loc[0, "event_time"] == T0
