"""Warehouse side of the fraud domain: read transactions/labels/features, write the fraud.* tables.

Each function is one step of an asset body (no Dagster here): features for a
set of days (with the previous days' tail as history), scoring stored
features, alerts, training on a trailing window and evaluation against the
labels that have arrived.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.fraud.evaluation import (
    ALERT_DECISIONS,
    GROUND_TRUTH,
    LABELS_TO_DATE,
    compare_strategies,
    curves_svg,
    pr_points,
    roc_points,
)
from fintech_dataops.lib.fraud.features import US_PER_SECOND, FeatureConfig, compute_features
from fintech_dataops.lib.money.currencies import MONEY_SQL_TYPE
from fintech_dataops.lib.money.fx import FxRates, MoneyConfig
from fintech_dataops.lib.open_banking.tables import fraud_labels_sql
from fintech_dataops.lib.ingestion.sources import transactions_sql
from fintech_dataops.lib.warehouse import replace_frame_partitions, table_exists

FEATURES_TABLE = "fraud.features"
SCORED_TABLE = "fraud.scored_transactions"
ALERTS_TABLE = "fraud.alerts"
EVALUATION_TABLE = "fraud.evaluation"
LABELS_TABLE = "core.fraud_labels"
# Open-banking money coming in (salary, incoming transfers) is not a payment the platform decides on:
# fraud neither scores it nor counts it in customer spend windows (credit still reads it, lib/credit).
INFLOW_CATEGORIES = ("income", "transfer_in")
# Types of the fraud.* columns whose values alone may not tell (all null on a day: no model yet →
# model_version/model_score, no rule hit → empty lists, no device seen). A stored table keeps its
# own types; these decide when a table or a column is first written.
DECLARED_TYPES = {
    "transaction_id": "VARCHAR", "customer_id": "VARCHAR", "merchant_id": "VARCHAR", "currency": "VARCHAR",
    "device_id": "VARCHAR", "channel": "VARCHAR", "country": "VARCHAR", "merchant_category": "VARCHAR",
    "event_time": "TIMESTAMP", "partition_date": "DATE", "risk_score": "DOUBLE", "model_score": "DOUBLE",
    "decision": "VARCHAR", "rule_ids": "VARCHAR[]", "reasons": "VARCHAR[]", "discretionary_alert": "BOOLEAN",
    "model_version": "VARCHAR", "scored_at": "TIMESTAMP", "alerted_at": "TIMESTAMP",
    # Stored money is exact: the amount as landed, and in the reporting currency (NULL = no rate).
    "amount": MONEY_SQL_TYPE, "amount_reporting": MONEY_SQL_TYPE, "fx_rate_missing": "BOOLEAN",
}
ALERT_COLUMNS = (
    "transaction_id", "customer_id", "merchant_id", "amount", "currency", "amount_reporting", "event_time",
    "risk_score", "model_score", "decision", "reasons", "rule_ids", "partition_date", "alerted_at",
)


def _days(days) -> list[date]:
    return sorted(d if isinstance(d, date) else date.fromisoformat(str(d)) for d in days)


def daily_counts(frame: pd.DataFrame, days, by: str | None = None) -> dict[str, dict[str, int]]:
    """``{day: {"rows": n, <value of by>: n, ...}}`` for each of ``days`` (ISO dates), from ``partition_date``.

    Every day is present (a day without rows counts 0), and with ``by`` every value seen in the run
    is counted on every day, so each day of a range reports its own figures.
    """
    keys = [d.isoformat() for d in _days(days)]
    values = sorted(frame[by].dropna().unique()) if by and len(frame) else []
    counts = {day: {"rows": 0, **{str(v): 0 for v in values}} for day in keys}
    if not len(frame):
        return counts
    day_of_row = pd.to_datetime(frame["partition_date"]).dt.strftime("%Y-%m-%d")
    for day, rows in day_of_row.value_counts().items():
        if day in counts:
            counts[day]["rows"] = int(rows)
    if by:
        for (day, value), rows in frame.groupby([day_of_row, frame[by]]).size().items():
            if day in counts:
                counts[day][str(value)] = int(rows)
    return counts


def read_labels(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
    """Confirmed frauds of every label source (core.fraud_labels ∪ open_banking.stripe_fraud_labels); None if none."""
    try:
        source = fraud_labels_sql(con)
    except LookupError:
        return None
    return con.execute(
        f"SELECT transaction_id, is_fraud, reported_time FROM ({source}) WHERE is_fraud"
    ).df()


def scorable_transactions_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Every transaction source (card + open banking) minus open-banking inflows (INFLOW_CATEGORIES)."""
    categories = ", ".join(f"'{c}'" for c in INFLOW_CATEGORIES)
    return (f"SELECT * FROM ({transactions_sql(con)}) WHERE NOT (source = 'open_banking' "
            f"AND coalesce(lower(merchant_category), '') IN ({categories}))")


@dataclass
class FeatureRun:
    features: pd.DataFrame
    history_rows: int
    labels: int
    seconds: float
    note: str = ""


def features_for_days(con: duckdb.DuckDBPyConnection, days, config: FeatureConfig,
                      money: MoneyConfig | None = None) -> FeatureRun:
    """Features of every transaction landed on ``days``, with the previous days' tail as history.

    Amounts are converted into the reporting currency at the rates of ``core.fx_rates`` (the bundled
    ECB history when that table does not exist) by the same ``FxRates`` the online engine uses.
    """
    started = time.perf_counter()
    days = _days(days)
    try:
        source = scorable_transactions_sql(con)
    except LookupError as exc:
        return FeatureRun(pd.DataFrame(), 0, 0, time.perf_counter() - started, note=str(exc))
    target = con.execute(
        f"SELECT * FROM ({source}) WHERE partition_date BETWEEN ? AND ?", [days[0], days[-1]]
    ).df()
    target = target[pd.to_datetime(target["partition_date"]).dt.date.isin(days)]
    if target.empty:
        return FeatureRun(pd.DataFrame(), 0, 0, time.perf_counter() - started, note="no transactions on these days")
    lookback = max(int(config.customer_horizon_us) // US_PER_SECOND, (config.merchant_horizon_days + 1) * 86_400)
    lower = pd.Timestamp(target["event_time"].min()) - pd.Timedelta(seconds=lookback)
    history = con.execute(
        f"SELECT * FROM ({source}) WHERE event_time >= ? AND event_time <= ? AND partition_date NOT BETWEEN ? AND ?",
        [lower.to_pydatetime(), pd.Timestamp(target["event_time"].max()).to_pydatetime(), days[0], days[-1]],
    ).df()
    labels = read_labels(con)
    fx = FxRates.from_warehouse(con, money)
    features = compute_features(fx.annotate(target), fx.annotate(history) if len(history) else history, labels, config)
    features["partition_date"] = pd.to_datetime(features["partition_date"]).dt.date
    return FeatureRun(features, len(history), 0 if labels is None else len(labels), time.perf_counter() - started)


def write_partitions(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, days,
                     list_columns: tuple[str, ...] = ()) -> int:
    """Replace the ``days`` partitions of ``table`` with ``frame`` (idempotent; empty frame clears them).

    Every column is written in the table's type (stored, else :data:`DECLARED_TYPES`), whatever the
    days hold: the most recent days have no labels yet, a day can have no model or no rule hit.
    """
    if frame.empty and not table_exists(con, table):
        return 0
    types = {**DECLARED_TYPES, **{c: "VARCHAR[]" for c in list_columns}}
    return replace_frame_partitions(con, table, frame, partition_column="partition_date",
                                    partition_values=_days(days), column_types=types)


def read_features(con: duckdb.DuckDBPyConnection, days=None, *, start=None, end=None) -> pd.DataFrame:
    """Stored features for ``days`` (partition dates) or for event times in [start, end)."""
    if not table_exists(con, FEATURES_TABLE):
        return pd.DataFrame()
    if days is not None:
        days = _days(days)
        return con.execute(f"SELECT * FROM {FEATURES_TABLE} WHERE partition_date BETWEEN ? AND ? "
                           "ORDER BY event_time, transaction_id", [days[0], days[-1]]).df().pipe(
            lambda f: f[pd.to_datetime(f["partition_date"]).dt.date.isin(days)])
    return con.execute(f"SELECT * FROM {FEATURES_TABLE} WHERE event_time >= ? AND event_time < ? "
                       "ORDER BY event_time, transaction_id", [start, end]).df()


def score_days(con: duckdb.DuckDBPyConnection, days, engine: FraudEngine) -> pd.DataFrame:
    """Decisions for the stored features of ``days`` (the same ``decide`` the online path runs)."""
    features = read_features(con, days)
    if features.empty:
        return pd.DataFrame()
    scored = engine.decide(features)
    scored["scored_at"] = datetime.now(timezone.utc).replace(tzinfo=None)
    return scored


def alerts_from_scored(scored: pd.DataFrame) -> pd.DataFrame:
    """One row per review/block decision, with its reasons and rule ids."""
    if scored.empty:
        return pd.DataFrame(columns=list(ALERT_COLUMNS))
    alerts = scored[scored["decision"].isin(ALERT_DECISIONS)].copy()
    alerts["alerted_at"] = scored["scored_at"].iloc[0] if "scored_at" in scored else datetime.now(timezone.utc)
    return alerts[[c for c in ALERT_COLUMNS]].reset_index(drop=True)


def alerts_by_rule(alerts: pd.DataFrame, days) -> dict[str, dict[str, int]]:
    """``{day: {rule_id: alerts}}`` for each of ``days``; an alert no rule raised counts under ``MODEL``."""
    by_day: dict[str, dict[str, int]] = {d.isoformat(): {} for d in _days(days)}
    if not len(alerts):
        return by_day
    day_of_row = pd.to_datetime(alerts["partition_date"]).dt.strftime("%Y-%m-%d")
    for day, rule_ids in zip(day_of_row, alerts["rule_ids"]):
        counts = by_day.setdefault(day, {})
        for rule_id in (list(rule_ids) if rule_ids is not None and len(rule_ids) else ["MODEL"]):
            counts[rule_id] = counts.get(rule_id, 0) + 1
    return by_day


def read_scored(con: duckdb.DuckDBPyConnection, days) -> pd.DataFrame:
    days = _days(days)
    if not table_exists(con, SCORED_TABLE):
        return pd.DataFrame()
    frame = con.execute(f"SELECT * FROM {SCORED_TABLE} WHERE partition_date BETWEEN ? AND ?",
                        [days[0], days[-1]]).df()
    frame = frame[pd.to_datetime(frame["partition_date"]).dt.date.isin(days)]
    for column in ("rule_ids", "reasons"):
        frame[column] = frame[column].map(lambda v: [] if v is None else list(v))
    return frame


@dataclass
class TrainingData:
    features: pd.DataFrame
    is_fraud: np.ndarray
    start: date | None
    end: date | None
    note: str = ""


def training_data(con: duckdb.DuckDBPyConnection, *, training_days: int, label_maturity_days: int) -> TrainingData:
    """Features of the trailing window whose labels have had ``label_maturity_days`` to arrive.

    Window: ``[end - training_days, end)`` with ``end = latest feature day + 1 - label_maturity_days``.
    """
    if not table_exists(con, FEATURES_TABLE):
        return TrainingData(pd.DataFrame(), np.zeros(0, bool), None, None, "fraud.features does not exist yet")
    latest = con.execute(f"SELECT max(CAST(event_time AS DATE)) FROM {FEATURES_TABLE}").fetchone()[0]
    if latest is None:
        return TrainingData(pd.DataFrame(), np.zeros(0, bool), None, None, "fraud.features is empty")
    end = latest + timedelta(days=1 - label_maturity_days)
    start = end - timedelta(days=training_days)
    features = read_features(con, start=datetime.combine(start, datetime.min.time()),
                             end=datetime.combine(end, datetime.min.time()))
    labels = read_labels(con)
    fraud_ids = set() if labels is None else set(labels["transaction_id"])
    y = features["transaction_id"].isin(fraud_ids).to_numpy() if len(features) else np.zeros(0, bool)
    return TrainingData(features, y, start, end)


@dataclass
class EvaluationResult:
    table: pd.DataFrame
    comparison: dict
    scope: str
    days: int
    svg: str = ""
    notes: list[str] = field(default_factory=list)
    truth_comparison: dict = field(default_factory=dict)  # against a simulation's ground truth (demo only)


def evaluate_scored(con: duckdb.DuckDBPyConnection, *, out_of_sample_after: date | None,
                    review_threshold: float | None, truth: pd.DataFrame | None = None) -> EvaluationResult:
    """Rules / model / combined metrics of fraud.scored_transactions against every fraud-label source.

    Only days after the model's training window (out of sample) are evaluated when
    there are any; otherwise every scored day (flagged as in-sample). Rows carry ``labels``:
    ``labels to date`` (a fraud whose chargeback has not arrived counts as legitimate — on the
    newest days that is most of them) and, when ``truth`` is given (a simulation's
    ``transaction_id, is_fraud``; ``evaluation.read_truth``), the same metrics against it.
    """
    notes: list[str] = []
    if not table_exists(con, SCORED_TABLE):
        return EvaluationResult(pd.DataFrame(), {}, "none", 0, notes=["fraud.scored_transactions does not exist yet"])
    scored = con.execute(f"SELECT * FROM {SCORED_TABLE}").df()
    scope = "all scored days (in-sample: no day after the training window yet)"
    if out_of_sample_after is not None:
        later = scored[pd.to_datetime(scored["event_time"]).dt.date > out_of_sample_after]
        if len(later):
            scored, scope = later, f"out of sample: event days after {out_of_sample_after}"
    labels = read_labels(con)
    if labels is None:
        notes.append("no fraud label table yet (core.fraud_labels, open_banking.stripe_fraud_labels): "
                     "every transaction counts as legitimate")
    fraud_ids = set() if labels is None else set(labels["transaction_id"])
    y = scored["transaction_id"].isin(fraud_ids).to_numpy()
    for column in ("rule_ids", "reasons"):
        scored[column] = scored[column].map(lambda v: [] if v is None else list(v))
    comparison = compare_strategies(scored, y, review_threshold=review_threshold)
    rows = [{"strategy": name, "labels": LABELS_TO_DATE, "scope": scope, **{k: v for k, v in metrics.items()}}
            for name, metrics in comparison.items()]
    truth_comparison = {}
    if truth is not None and len(truth):
        true_ids = set(truth.loc[truth["is_fraud"].astype(bool), "transaction_id"].astype(str))
        # A transaction the simulation has no truth for (open banking) keeps its label.
        y_truth = scored["transaction_id"].astype(str).isin(true_ids).to_numpy() | y
        truth_comparison = compare_strategies(scored, y_truth, review_threshold=review_threshold)
        rows += [{"strategy": name, "labels": GROUND_TRUTH, "scope": scope, **metrics}
                 for name, metrics in truth_comparison.items()]
    table = pd.DataFrame(rows)
    # A metric no strategy has a value for (no label yet: recall, AUC) is still a number: typed
    # DOUBLE, not a column of type NULL in fraud.evaluation.
    for column in table.columns.drop(["strategy", "labels", "scope"]):
        if table[column].isna().all():
            table[column] = table[column].astype("float64")
    table["evaluated_at"] = datetime.now(timezone.utc).replace(tzinfo=None)
    svg = ""
    if y.any() and (~y).any():
        curves = {}
        for name, column in (("model", "model_score"), ("combined", "risk_score")):
            s = scored[column].to_numpy(dtype="float64")
            if np.isfinite(s).any():
                fpr, tpr = roc_points(y, s)
                recall, precision = pr_points(y, s)
                curves[name] = (fpr, tpr, recall, precision)
        points = {n: (m["false_positive_rate"] or 0.0, m["recall"] or 0.0)
                  for n, m in comparison.items() if n in ("model_only", "combined")}
        svg = curves_svg(curves, operating_points=points) if curves else ""
    days = int(pd.to_datetime(scored["event_time"]).dt.date.nunique())
    return EvaluationResult(table, comparison, scope, days, svg, notes, truth_comparison)


def save_report(reports_dir: Path, name: str, text: str) -> Path:
    from fintech_dataops.lib.ingestion.landing import write_atomic

    return write_atomic(Path(reports_dir) / "fraud" / name, text.encode("utf-8"))

