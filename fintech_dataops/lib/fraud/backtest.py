"""Backtest: fit on one period, score the next, measure — the analyst's replay of rules and models.

Files are CSV or Parquet with the landing-zone transaction fields
(``transaction_id, customer_id, merchant_id, amount, currency, event_time``;
extra columns are ignored, ``currency`` defaults to USD) and a label column. Amounts are judged in the
reporting currency at the reference rate of each event's day (``lib.money.fx``), as in production.

Labels are used as they would have been known (the label delay): when the real
report times are unknown, a fraud label counts as reported ``label_delay_days``
after its transaction (default 7, the handbook's delay period). So a training
row's merchant risk holds only the labels known on its day — the same rule the
test rows get (no train/serve skew) — and the model is trained as of the first
test day on the rows whose labels had matured by then: transactions of the last
delay period before it are left out (their frauds may not be reported yet, so
they cannot serve as negatives).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.fraud.evaluation import (
    ALERT_DECISIONS,
    card_precision_at_k,
    compare_strategies,
    recall_by_group,
)
from fintech_dataops.lib.fraud.features import US_PER_DAY, FeatureConfig, compute_features, reporting_amount, to_epoch_us
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


def labels_frame(transactions: pd.DataFrame, is_fraud: np.ndarray, delay_days: float) -> pd.DataFrame:
    """Fraud labels for the frauds in ``transactions``, each reported ``delay_days`` after its transaction."""
    fraud = transactions.loc[np.asarray(is_fraud, dtype=bool)]
    event_us = to_epoch_us(fraud["event_time"])
    reported = event_us + int(round(delay_days * US_PER_DAY))
    return pd.DataFrame({
        "transaction_id": fraud["transaction_id"].astype("string").to_numpy(),
        "is_fraud": True,
        "reported_time": reported.astype("datetime64[us]"),
    })


def served_validation_features(train: pd.DataFrame, fit_features: pd.DataFrame, labels: pd.DataFrame,
                               feature_config: FeatureConfig, model_config: ModelConfig, gap_days: int,
                               fx, history_start=None) -> pd.DataFrame | None:
    """The validation days' features as the test's will be served: with the history cut ``gap_days``
    before them (None when there is no gap: the train features are already served that way).

    A test file that starts ``gap_days`` after the train file sees customer windows without the
    gap's transactions and merchant risk that stops at the end of the train file. The validation
    days (the last ``model_config.validation_days`` of ``fit_features``, as ``train_model`` picks
    them) are featurised the same way — history and labels up to ``gap_days`` before their first
    day — so the operating point is chosen on what the model will be served, not on features a
    test row can never have.
    """
    if gap_days <= 0 or fit_features.empty:
        return None
    days = to_epoch_us(fit_features["event_time"]) // US_PER_DAY
    first_validation_day = int(days.max()) - model_config.validation_days + 1
    cut = pd.Timestamp((first_validation_day - gap_days) * US_PER_DAY, unit="us")
    validation_ids = set(fit_features.loc[days >= first_validation_day, "transaction_id"].astype(str))
    train_times = pd.Series(to_epoch_us(train["event_time"]) // US_PER_DAY, index=train.index)
    ids = train["transaction_id"].astype(str)
    history = train.loc[train_times < first_validation_day - gap_days]
    if history.empty or not validation_ids:
        return None
    target = train.loc[ids.isin(validation_ids)]
    return compute_features(fx.annotate(target), fx.annotate(history), labels, feature_config, labels_until=cut,
                            history_start=history_start)


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
    scenario_column: str | None = None,
    top_k: int = 100,
) -> dict:
    """Fit on ``train`` (its label column), score ``test`` with ``train`` as history, measure on ``test``.

    ``train_labels`` (transaction_id/reported_time[/is_fraud]) gives the real report
    times of the train labels; otherwise each counts as reported ``label_delay_days``
    after its transaction. ``scenario_column`` (optional, in ``test``) adds the recall
    per fraud scenario; ``top_k`` is the daily alert budget of card precision@k.
    """
    from fintech_dataops.lib.money.fx import bundled_rates

    rule_config = rule_config or RuleConfig()
    fx = fx or bundled_rates()
    feature_config = feature_config or FeatureConfig(velocity_window_s=float(rule_config.velocity_window_s))
    started = time.perf_counter()
    y_train = label_values(train, label_column)
    if train_labels is None:
        train_labels = labels_frame(train, y_train, feature_config.label_delay_days)
    # Where the data begins: merchant windows reaching back before it are unknown, not rates over a
    # truncated window, for the train rows, the validation rows and the test rows alike.
    train_us_all = to_epoch_us(train["event_time"])
    train_us_all = train_us_all[train_us_all != np.iinfo(np.int64).min]
    history_start = pd.Timestamp((int(train_us_all.min()) // US_PER_DAY) * US_PER_DAY, unit="us") \
        if len(train_us_all) else None
    train_features = compute_features(fx.annotate(train), None, train_labels, feature_config,
                                      history_start=history_start)
    y_fit = pd.Series(y_train, index=train["transaction_id"].astype("string")).groupby(level=0).max()
    y_fit = y_fit.reindex(train_features["transaction_id"]).fillna(False).to_numpy(dtype=bool)
    # Trained as of the first test transaction: only rows whose labels had matured by then.
    test_us = to_epoch_us(test["event_time"])
    test_us = test_us[test_us != np.iinfo(np.int64).min]
    train_us = train_features["event_time"].to_numpy().astype("datetime64[us]").astype("int64")
    as_of_us = int(test_us.min()) if len(test_us) else int(train_us.max()) + 1
    mature = train_us < as_of_us - feature_config.label_delay_days * US_PER_DAY
    training_note = "rows whose labels had matured (event before the first test day minus the label delay)"
    if mature.sum() < 100:
        mature = np.ones(len(train_features), dtype=bool)
        training_note = "every train row: too few matured rows to leave the last delay period out"
    fit_features = train_features.loc[mature].reset_index(drop=True)
    # The test file may start after a gap the files do not hold: merchant windows end where the
    # labelled history does (the day after the last train transaction), not in the empty gap.
    labels_until = pd.Timestamp((int(train_us.max()) // US_PER_DAY + 1) * US_PER_DAY, unit="us")
    gap_days = max(0, int(as_of_us // US_PER_DAY) - int(labels_until.value // 1000 // US_PER_DAY))
    validation_features = served_validation_features(
        train, fit_features, train_labels, feature_config, model_config or ModelConfig(), gap_days, fx,
        history_start=history_start)
    model = train_model(fit_features, y_fit[mature], config=model_config, feature_config=feature_config,
                        rule_config=rule_config, validation_features=validation_features)
    engine = FraudEngine(rules=rule_config, model=model, fx=fx)
    scored = engine.score_frame(test, history=train, labels=train_labels, labels_until=labels_until,
                                history_start=history_start)
    y_test = pd.Series(label_values(test, label_column), index=test["transaction_id"].astype("string"))
    y_test = y_test.groupby(level=0).max().reindex(scored["transaction_id"].astype("string")).fillna(False)
    y_test = y_test.to_numpy(dtype=bool)
    comparison = compare_strategies(scored, y_test, review_threshold=engine.review_threshold)
    combined = comparison["combined"]
    days = to_epoch_us(scored["event_time"]) // US_PER_DAY
    card_precision = card_precision_at_k(scored["customer_id"].to_numpy(dtype=object), days, y_test,
                                         scored["risk_score"].to_numpy(dtype="float64"), k=top_k)
    by_scenario = None
    if scenario_column is not None:
        scenario = pd.Series(test[scenario_column].astype("string").to_numpy(),
                             index=test["transaction_id"].astype("string")).groupby(level=0).first()
        scenario = scenario.reindex(scored["transaction_id"].astype("string")).fillna("unknown").to_numpy()
        by_scenario = recall_by_group(y_test, scored["decision"].isin(ALERT_DECISIONS).to_numpy(), scenario,
                                      amounts=reporting_amount(scored))
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
        f"card_precision_at_{top_k}": card_precision,
        "fraud_value_caught": combined.get("fraud_value_caught"),
        "fraud_value_total": combined.get("fraud_value_total"),
        **({"recall_by_scenario": by_scenario} if by_scenario is not None else {}),
        "transactions": int(len(scored)),
        "frauds": int(y_test.sum()),
        "reporting_currency": engine.reporting_currency,
        "rule_hits": rule_hits,
        "model": {"kind": model.kind, "version": model.version,
                  "thresholds": {"review": model.review_threshold, "block": model.block_threshold},
                  "label_delay_days": feature_config.label_delay_days,
                  "trained_on": {"rows": int(mature.sum()), "left_out_immature": int((~mature).sum()),
                                 "frauds": int(y_fit[mature].sum()), "which": training_note},
                  "validation": {kind: {"auc_roc": c["model_only"].get("auc_roc"),
                                        "average_precision": c["model_only"].get("average_precision"),
                                        "recall": c["model_only"].get("recall"),
                                        "false_positive_rate_discretionary":
                                            c["combined"].get("false_positive_rate_discretionary")}
                                 for kind, c in model.evaluation["candidates"].items()},
                  "training_window": model.training_window},
        "strategies": comparison,
        "seconds": round(time.perf_counter() - started, 2),
    }
