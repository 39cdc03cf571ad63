import numpy as np
import pandas as pd
import pytest

from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.fraud.evaluation import (
    alert_metrics,
    auc_roc,
    average_precision,
    compare_strategies,
    curves_svg,
    metrics_markdown,
    pr_points,
    roc_points,
)


def test_ranking_metrics_match_scikit_learn():
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.random(2000) < 0.05
    scores = np.round(rng.random(2000) + y * 0.4, 2)  # rounded: ties included
    assert auc_roc(y, scores) == pytest.approx(roc_auc_score(y, scores))
    assert average_precision(y, scores) == pytest.approx(average_precision_score(y, scores))
    assert auc_roc(np.zeros(5, dtype=bool), np.arange(5)) is None


def test_alert_metrics_count_fpr_over_legitimate_transactions():
    y = np.array([True, True, False, False, False, False])
    alerted = np.array([True, False, True, False, False, False])
    m = alert_metrics(y, alerted, amounts=[100, 50, 10, 10, 10, 10], days=["d1"] * 3 + ["d2"] * 3)
    assert (m["precision"], m["recall"], m["false_positive_rate"]) == (0.5, 0.5, 0.25)
    assert m["fraud_value_caught"] == 100 and m["fraud_value_total"] == 150 and m["alerts_per_day"] == 1.0


def test_evaluation_on_a_simulated_month(month_split, trained_model):
    train, test, known, truth = month_split
    scored = FraudEngine(model=trained_model).score_frame(test, history=train, labels=known)
    y = scored["transaction_id"].isin(truth.loc[truth["is_fraud"], "transaction_id"]).to_numpy()
    result = compare_strategies(scored, y, review_threshold=trained_model.review_threshold)
    rules, model, combined = result["rules_only"], result["model_only"], result["combined"]
    assert rules["transactions"] == model["transactions"] == combined["transactions"] == len(test)
    # The rules flag every transaction above $800 (at the day's rate), fraud or not.
    high = scored["amount_reporting"].to_numpy() > 800
    assert scored.loc[high, "decision"].isin(["review", "block"]).all()
    # Combining never loses a fraud the rules caught, and the model ranks far better than the rules.
    assert combined["recall"] >= rules["recall"]
    assert combined["auc_roc"] > rules["auc_roc"]
    assert model["auc_roc"] > 0.7
    # The KR: alerts beyond the mandatory high-value reviews stay under 0.1 % of legitimate transactions.
    assert combined["false_positive_rate_discretionary"] < 0.001
    assert combined["fraud_value_caught"] <= combined["fraud_value_total"]
    table = metrics_markdown(result)
    assert "| combined |" in table and "false_positive_rate_discretionary" in table


def test_curves_render_as_svg():
    y = np.array([True, False, True, False, False])
    s = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    fpr, tpr = roc_points(y, s)
    recall, precision = pr_points(y, s)
    assert fpr[0] == 0 and tpr[-1] == 1 and recall[-1] == 1
    svg = curves_svg({"model": (fpr, tpr, recall, precision)}, operating_points={"model": (0.0, 0.5)})
    assert svg.startswith("<svg") and svg.count("<polyline") == 2 and "<circle" in svg
