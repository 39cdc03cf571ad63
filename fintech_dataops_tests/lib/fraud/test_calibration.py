"""The operating point is set on validation rows featurised as the test will be, with a bound on its FPR."""

import numpy as np
import pandas as pd
import pytest

from benchmarks.handbook_generator import HandbookConfig, generate, split
from fintech_dataops.lib.fraud.backtest import labels_frame, served_validation_features
from fintech_dataops.lib.fraud.features import FeatureConfig, compute_features
from fintech_dataops.lib.fraud.model import ModelConfig, allowed_false_positives
from fintech_dataops.lib.money.fx import bundled_rates

CONTRACT = ["transaction_id", "customer_id", "merchant_id", "amount", "currency", "event_time"]


def test_allowed_false_positives_bound_the_rate_with_the_confidence_asked():
    from scipy.stats import beta

    assert allowed_false_positives(40_000, 0.001, 0.0) == 40  # no confidence: the plain budget
    k = allowed_false_positives(40_000, 0.001, 0.95)
    assert 20 < k < 40
    assert beta.ppf(0.95, k + 1, 40_000 - k) <= 0.001 < beta.ppf(0.95, k + 2, 40_000 - k - 1)
    assert allowed_false_positives(400_000, 0.001, 0.95) / 400_000 > k / 40_000  # larger set, tighter bound
    assert allowed_false_positives(500, 0.001, 0.95) == 0  # too small to bound anything
    assert allowed_false_positives(0, 0.001, 0.95) == 0


@pytest.fixture(scope="module")
def gap_split():
    frame = generate(HandbookConfig(customers=300, terminals=600, days=40, seed=3))
    return split(frame, burn_in_days=0, train_days=26, gap_days=7, test_days=7, start=HandbookConfig.start)


def test_validation_rows_are_featurised_after_the_same_gap_as_the_test(gap_split):
    """A test file 7 days after the train file sees customer windows without those 7 days; the
    validation days used to set the threshold must see the same, not their full history."""
    train, _ = gap_split
    train = train[CONTRACT + ["is_fraud"]]
    config = FeatureConfig()
    labels = labels_frame(train, train["is_fraud"].to_numpy(), config.label_delay_days)
    full = compute_features(train, None, labels, config)
    served = served_validation_features(train, full, labels, config, ModelConfig(validation_days=7), 7,
                                        bundled_rates())
    days = pd.to_datetime(full["event_time"]).dt.normalize()
    validation = full[days >= days.max() - pd.Timedelta(days=6)]
    assert set(served["transaction_id"]) == set(validation["transaction_id"])
    merged = validation.merge(served, on="transaction_id", suffixes=("_full", "_served"))
    # The week before the validation days is missing from the served history, as the gap is for the test.
    assert (merged["customer_count_7d_served"] <= merged["customer_count_7d_full"]).all()
    assert (merged["customer_count_7d_served"] < merged["customer_count_7d_full"]).mean() > 0.5
    assert np.array_equal(merged["amount_full"], merged["amount_served"])
    assert served_validation_features(train, full, labels, config, ModelConfig(), 0, bundled_rates()) is None


def test_the_backtest_calibrates_on_the_served_validation_rows(gap_split):
    from fintech_dataops.lib.fraud.backtest import backtest

    train, test = gap_split
    result = backtest(train[CONTRACT + ["is_fraud"]], test[CONTRACT + ["is_fraud"]])
    window = result["model"]["training_window"]
    assert window["validation_rows_as_served"] > 0
