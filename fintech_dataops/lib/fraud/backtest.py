"""Backtest: fit on one period, score the next, measure — the analyst's replay of rules and models.

Files are CSV or Parquet with the landing-zone transaction fields
(``transaction_id, customer_id, merchant_id, amount, currency, event_time``;
extra columns are ignored, ``currency`` defaults to USD) and a label column. Amounts are judged in the
reporting currency at the reference rate of each event's day (``lib.money.fx``), as in production.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.fraud.evaluation import ALERT_DECISIONS, compare_strategies
from fintech_dataops.lib.fraud.features import FeatureConfig, compute_features
from fintech_dataops.lib.fraud.model import ModelConfig, train_model
from fintech_dataops.lib.fraud.rules import RuleConfig


def read_transactions_file(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet file of transactions (ids read as text, so leading zeros survive)."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix.lower() in (".csv", ".txt", ".gz"):
        return pd.read_csv(path, dtype={"transaction_id": str, "customer_id": str, "merchant_id": str,
                                        "device_id": str, "currency": str})
    raise ValueError(f"{path}: expected a .csv or .parquet file")


def label_values(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A label column (bool, 0/1, 'true'/'false') as a bool array; missing → False (not known as fraud)."""
    if column not in frame.columns:
        raise KeyError(f"label column {column!r} not found; columns: {', '.join(map(str, frame.columns))}")
    values = frame[column]
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        return values.astype("string").str.strip().str.lower().isin(["1", "true", "t", "yes", "y", "1.0"]).to_numpy()
    return pd.to_numeric(values, errors="coerce").fillna(0).to_numpy() > 0


def labels_frame(transactions: pd.DataFrame, is_fraud: np.ndarray, reported_time) -> pd.DataFrame:
    """Fraud labels for the frauds in ``transactions``, all reported at ``reported_time``."""
    fraud = transactions.loc[np.asarray(is_fraud, dtype=bool)]
    return pd.DataFrame({
        "transaction_id": fraud["transaction_id"].astype("string"),
        "is_fraud": True,
        "reported_time": pd.Timestamp(reported_time),
    })


def backtest(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    label_column: str = "is_fraud",
    train_labels: pd.DataFrame | None = None,
    rule_config: RuleConfig | None = None,
    model_config: ModelConfig | None = None,
    feature_config: FeatureConfig | None = None,
    fx=None,
) -> dict:
    """Fit on ``train`` (its label column), score ``test`` with ``train`` as history, measure on ``test``.

    ``train_labels`` (label_id/transaction_id/reported_time) replaces the label column
    for merchant risk when the real report times are known; otherwise every train
    label counts as reported at the end of the train period.
    """
    from fintech_dataops.lib.money.fx import bundled_rates

    rule_config = rule_config or RuleConfig()
    fx = fx or bundled_rates()
    feature_config = feature_config or FeatureConfig(velocity_window_s=float(rule_config.velocity_window_s))
    started = time.perf_counter()
    y_train = label_values(train, label_column)
    if train_labels is None:
        train_end = pd.to_datetime(train["event_time"], utc=True, errors="coerce", format="ISO8601").max()
        train_labels = labels_frame(train, y_train, train_end.tz_localize(None) if train_end is not pd.NaT else None)
    train_features = compute_features(fx.annotate(train), None, train_labels, feature_config)
    y_fit = pd.Series(y_train, index=train["transaction_id"].astype("string")).groupby(level=0).max()
    y_fit = y_fit.reindex(train_features["transaction_id"]).fillna(False).to_numpy(dtype=bool)
    model = train_model(train_features, y_fit, config=model_config, feature_config=feature_config,
                        rule_config=rule_config)
    engine = FraudEngine(rules=rule_config, model=model, fx=fx)
    scored = engine.score_frame(test, history=train, labels=train_labels)
    y_test = pd.Series(label_values(test, label_column), index=test["transaction_id"].astype("string"))
    y_test = y_test.groupby(level=0).max().reindex(scored["transaction_id"].astype("string")).fillna(False)
    y_test = y_test.to_numpy(dtype=bool)
    comparison = compare_strategies(scored, y_test, review_threshold=engine.review_threshold)
    combined = comparison["combined"]
    rule_hits = {rule_id: 0 for rule_id in ("HIGH_VALUE", "VELOCITY", "FX_RATE_MISSING")}
    for ids in scored["rule_ids"]:
        for rule_id in ids:
            rule_hits[rule_id] = rule_hits.get(rule_id, 0) + 1
    return {
        "auc_roc": combined["auc_roc"],
        "average_precision": combined["average_precision"],
        "precision": combined["precision"],
        "recall": combined["recall"],
        "false_positive_rate": combined["false_positive_rate"],
        "false_positive_rate_discretionary": combined["false_positive_rate_discretionary"],
        "alerts": int(scored["decision"].isin(ALERT_DECISIONS).sum()),
        "blocks": int((scored["decision"] == "block").sum()),
        "transactions": int(len(scored)),
        "frauds": int(y_test.sum()),
        "reporting_currency": engine.reporting_currency,
        "rule_hits": rule_hits,
        "model": {"kind": model.kind, "version": model.version,
                  "thresholds": {"review": model.review_threshold, "block": model.block_threshold}},
        "strategies": comparison,
        "seconds": round(time.perf_counter() - started, 2),
    }
