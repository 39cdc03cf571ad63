"""``FraudEngine``: the one scorer used by the batch, near-real-time and online paths.

- Batch: ``score_frame(transactions, history, labels)`` scores a whole frame
  (a day, a backfill range, a backtest file) with vectorised features.
- Online: ``warm_start(history, labels)`` loads the recent past into bounded
  per-customer / per-merchant state, then ``score_batch(records)`` scores each
  micro-batch against that state and appends it. State older than the longest
  window is dropped, so memory is bounded by the traffic of the last 30 days.

Both paths run the same ``compute_features`` → rules → model → decision code,
so a replay of an event-time-ordered stream reproduces the online decisions
exactly (no train/serve skew). Events that arrive out of event-time order are
scored online on what had arrived; a later batch replay sees them in order.

Decision: ``risk_score = max(model_score, review_threshold if a review rule
fired, block_threshold if a block rule fired)``; ``block`` when risk_score >=
block_threshold, ``review`` when >= review_threshold, else ``approve``. Every
reason that fired is listed.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from fintech_dataops.lib.fraud.features import (
    US_PER_DAY,
    FeatureConfig,
    compute_features,
    fraud_events,
    prepare_transactions,
)
from fintech_dataops.lib.fraud.rules import RuleConfig, evaluate_rules

DECISIONS = ("approve", "review", "block")
INVALID_RECORD = "INVALID_RECORD"
RULES_ONLY_REVIEW_THRESHOLD = 0.5
RULES_ONLY_BLOCK_THRESHOLD = 0.9
DECISION_COLUMNS = (
    "transaction_id", "customer_id", "merchant_id", "amount", "currency", "event_time",
    "risk_score", "model_score", "decision", "rule_ids", "reasons", "discretionary_alert", "model_version",
)


class FraudEngine:
    """Rules + features + (optional) model → decision with reasons.

    ``model`` is a :class:`~fintech_dataops.lib.fraud.model.FraudModel` or None
    (rules only; scikit-learn is then never imported). With a model, the feature
    windows are the ones the model was trained with.
    """

    def __init__(self, rules: RuleConfig | None = None, model=None, features: FeatureConfig | None = None):
        self.rules = rules or RuleConfig()
        self.model = model
        base = model.feature_config if model is not None else (features or FeatureConfig())
        # The velocity feature is the rule's window: one number, one place.
        self.feature_config = replace(base, velocity_window_s=float(self.rules.velocity_window_s))
        if model is not None:
            self.review_threshold = float(model.review_threshold)
            self.block_threshold = float(model.block_threshold)
        else:
            self.review_threshold = RULES_ONLY_REVIEW_THRESHOLD
            self.block_threshold = RULES_ONLY_BLOCK_THRESHOLD
        self.reset_state()

    @classmethod
    def from_models_dir(cls, models_dir: str | Path, version: str | None = None,
                        rules: RuleConfig | None = None) -> FraudEngine:
        """Engine with a saved model (default: the CURRENT version); rules default to the model's own."""
        from fintech_dataops.lib.fraud.model import load_model

        model = load_model(Path(models_dir), version)
        return cls(rules=rules or model.rule_config, model=model)

    @property
    def model_version(self) -> str | None:
        return self.model.version if self.model is not None else None

    # ---------------------------------------------------------------- batch
    def features(self, transactions: pd.DataFrame, history: pd.DataFrame | None = None,
                 labels: pd.DataFrame | None = None) -> pd.DataFrame:
        """Past-only features of ``transactions`` (see :func:`compute_features`)."""
        return compute_features(transactions, history, labels, self.feature_config)

    def score_frame(self, transactions: pd.DataFrame, history: pd.DataFrame | None = None,
                    labels: pd.DataFrame | None = None) -> pd.DataFrame:
        """Decisions for every row of ``transactions`` (input order; unparseable rows → review, INVALID_RECORD).

        ``history``: earlier transactions (at least the previous 30 days' tail for exact
        customer windows, label delay + merchant window for merchant risk).
        ``labels``: fraud labels known so far (chargebacks), for merchant risk.
        """
        valid, rejected = prepare_transactions(transactions)
        history_valid = prepare_transactions(history)[0] if history is not None and len(history) else None
        feats = compute_features(valid, history_valid, labels, self.feature_config, prepared=True)
        return self._with_rejected(self.decide(feats), rejected)

    def decide(self, feats: pd.DataFrame) -> pd.DataFrame:
        """Rules + model on a feature frame → the decision frame (one row per feature row)."""
        n = len(feats)
        hits = evaluate_rules(feats, self.rules)
        if self.model is not None and n:
            model_score = np.asarray(self.model.score(feats), dtype="float64")
        else:
            model_score = np.full(n, np.nan)
        risk = np.nan_to_num(model_score, nan=0.0)
        reasons = [[] for _ in range(n)]
        rule_ids = [[] for _ in range(n)]
        for rule_id, mask in hits.hits.items():
            floor = self.block_threshold if hits.actions[rule_id] == "block" else self.review_threshold
            risk = np.where(mask, np.maximum(risk, floor), risk)
            texts = hits.reasons[rule_id]
            for i in np.flatnonzero(mask):
                rule_ids[i].append(rule_id)
                reasons[i].append(texts[i])
        if self.model is not None:
            for i, text in self._model_reasons(feats, model_score).items():
                reasons[i].append(text)
        # What would be alerted without the mandatory policy reviews: the FPR the KR is about.
        discretionary = hits.discretionary_hit(n) | (np.nan_to_num(model_score, nan=-1.0) >= self.review_threshold)
        decision = np.where(risk >= self.block_threshold, "block",
                            np.where(risk >= self.review_threshold, "review", "approve"))
        out = feats[[c for c in ("transaction_id", "customer_id", "merchant_id", "amount", "currency", "event_time",
                                 "partition_date") if c in feats.columns]].copy()
        out["risk_score"] = risk
        out["model_score"] = model_score
        out["decision"] = decision
        out["rule_ids"] = rule_ids
        out["reasons"] = reasons
        out["discretionary_alert"] = discretionary
        out["model_version"] = self.model_version
        return out

    def _model_reasons(self, feats: pd.DataFrame, model_score: np.ndarray) -> dict[int, str]:
        """For rows at or above the review threshold: the score and the features far above typical."""
        rows = np.flatnonzero(model_score >= self.review_threshold)
        if not len(rows):
            return {}
        typical = getattr(self.model, "feature_typical", {}) or {}
        level = np.where(model_score[rows] >= self.block_threshold, "block", "review")
        out = {}
        values = {name: feats[name].to_numpy(dtype="float64")[rows] for name in typical}
        for j, i in enumerate(rows):
            unusual = []
            for name, (median, p99) in typical.items():
                value = values[name][j]
                if value > p99 and p99 > 0:
                    unusual.append((value / p99, f"{name}={value:,.4g} (typical {median:,.4g})"))
            unusual.sort(reverse=True)
            detail = "; ".join(text for _, text in unusual[:3])
            out[int(i)] = (f"MODEL: score {model_score[i]:.4f} >= {level[j]} threshold "
                           f"{self.block_threshold if level[j] == 'block' else self.review_threshold:.4f}"
                           + (f" — {detail}" if detail else ""))
        return out

    def _with_rejected(self, decided: pd.DataFrame, rejected: pd.DataFrame) -> pd.DataFrame:
        if not len(rejected):
            return decided.reset_index(drop=True)
        bad = rejected[[c for c in decided.columns if c in rejected.columns]].copy()
        bad["risk_score"] = self.review_threshold
        bad["model_score"] = np.nan
        bad["decision"] = "review"
        bad["rule_ids"] = [[INVALID_RECORD] for _ in range(len(bad))]
        bad["reasons"] = [[f"{INVALID_RECORD}: {r}"] for r in rejected["reject_reason"]]
        bad["discretionary_alert"] = True
        bad["model_version"] = self.model_version
        return pd.concat([decided, bad], ignore_index=True)

    # ---------------------------------------------------------------- online
    def reset_state(self) -> None:
        # customer_id → deque of (event_us, transaction_id, amount_cents, device_id), event-time ordered
        self._customers: dict[str, deque] = defaultdict(deque)
        # merchant_id → {day: transactions}; merchant_id → {(tx_day, reported_day, transaction_id)}
        self._merchant_days: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self._merchant_frauds: dict[str, set] = defaultdict(set)
        self._latest_us: int | None = None

    @property
    def state_size(self) -> dict[str, int]:
        return {
            "customers": len(self._customers),
            "customer_transactions": sum(len(q) for q in self._customers.values()),
            "merchant_days": sum(len(d) for d in self._merchant_days.values()),
            "fraud_labels": sum(len(s) for s in self._merchant_frauds.values()),
        }

    def warm_start(self, history: pd.DataFrame, labels: pd.DataFrame | None = None) -> int:
        """Load recent history (and labels) into the online state; returns the transactions kept."""
        self.reset_state()
        valid = prepare_transactions(history)[0] if history is not None and len(history) else None
        if labels is not None and len(labels):
            self._add_fraud_events(fraud_events(labels, valid))
        if valid is None or not len(valid):
            return 0
        self._remember(valid.sort_values(["event_us", "transaction_id"], kind="mergesort"))
        return self.state_size["customer_transactions"]

    def add_labels(self, labels: pd.DataFrame) -> int:
        """Add fraud labels (need merchant_id and event_time, or use warm_start); returns labels added."""
        events = fraud_events(labels)
        self._add_fraud_events(events)
        return len(events)

    def score_batch(self, records: Iterable[Mapping] | pd.DataFrame) -> pd.DataFrame:
        """Score a micro-batch against the state, then add it to the state. Output in input order."""
        frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
        if frame.empty:
            return pd.DataFrame(columns=list(DECISION_COLUMNS))
        valid, rejected = prepare_transactions(frame)
        customers = pd.unique(valid["customer_id"])
        history = self._customer_history(customers)
        batch_merchant_days = valid.groupby(["merchant_id", valid["event_us"] // US_PER_DAY]).size()
        for (merchant, day), count in batch_merchant_days.items():
            self._merchant_days[merchant][int(day)] += int(count)
        merchants = pd.unique(valid["merchant_id"])
        feats = compute_features(
            valid, history, None, self.feature_config, prepared=True,
            merchant_counts=self._merchant_count_frame(merchants), frauds=self._fraud_frame(merchants),
        )
        decided = self.decide(feats)
        self._remember(valid.sort_values(["event_us", "transaction_id"], kind="mergesort"), count_merchants=False)
        return self._with_rejected(decided, rejected)

    def score_one(self, record: Mapping) -> dict:
        """One transaction → one decision dict (convenience over ``score_batch``)."""
        return self.score_batch([record]).iloc[0].to_dict()

    def _customer_history(self, customers: Iterable[str]) -> pd.DataFrame:
        rows = [(c, *entry) for c in customers for entry in self._customers.get(c, ())]
        frame = pd.DataFrame(rows, columns=["customer_id", "event_us", "transaction_id", "amount_cents", "device_id"])
        frame["merchant_id"] = ""
        return frame.astype({"customer_id": "string", "transaction_id": "string", "merchant_id": "string",
                             "device_id": "string", "event_us": "int64", "amount_cents": "int64"})

    def _remember(self, valid: pd.DataFrame, *, count_merchants: bool = True) -> None:
        horizon = int(self.feature_config.customer_horizon_us)
        touched = set()
        for customer, event_us, tx_id, cents, device in zip(
            valid["customer_id"].to_numpy(dtype=object), valid["event_us"].to_numpy(),
            valid["transaction_id"].to_numpy(dtype=object), valid["amount_cents"].to_numpy(),
            valid["device_id"].to_numpy(dtype=object),
        ):
            self._customers[customer].append((int(event_us), tx_id, int(cents), device))
            touched.add(customer)
        for customer in touched:
            queue = self._customers[customer]
            if len(queue) > 1 and queue[-1][0] < queue[-2][0]:
                self._customers[customer] = queue = deque(sorted(queue, key=lambda e: (e[0], e[1])))
            newest = queue[-1][0]
            while queue and queue[0][0] < newest - horizon:
                queue.popleft()
        if count_merchants:
            days = valid.groupby(["merchant_id", valid["event_us"] // US_PER_DAY]).size()
            for (merchant, day), count in days.items():
                self._merchant_days[merchant][int(day)] += int(count)
        if len(valid):
            latest = int(valid["event_us"].max())
            previous_day = None if self._latest_us is None else self._latest_us // US_PER_DAY
            self._latest_us = latest if self._latest_us is None else max(self._latest_us, latest)
            if previous_day is None or self._latest_us // US_PER_DAY != previous_day:
                self._prune_merchants()  # merchant state is by day: prune once per new day, not per batch

    def _prune_merchants(self) -> None:
        oldest_day = self._latest_us // US_PER_DAY - self.feature_config.merchant_horizon_days - 1
        for merchant in list(self._merchant_days):
            days = self._merchant_days[merchant]
            for day in [d for d in days if d < oldest_day]:
                del days[day]
            if not days:
                del self._merchant_days[merchant]
        for merchant in list(self._merchant_frauds):
            events = {e for e in self._merchant_frauds[merchant] if e[0] >= oldest_day}
            if events:
                self._merchant_frauds[merchant] = events
            else:
                del self._merchant_frauds[merchant]

    def _add_fraud_events(self, events: pd.DataFrame) -> None:
        for merchant, tx_day, reported_day, tx_id in events.itertuples(index=False):
            self._merchant_frauds[merchant].add((int(tx_day), int(reported_day), tx_id))

    def _merchant_count_frame(self, merchants: Iterable[str]) -> pd.DataFrame:
        rows = [(m, d, c) for m in merchants for d, c in self._merchant_days.get(m, {}).items()]
        return pd.DataFrame(rows, columns=["merchant_id", "day", "tx_count"]).astype(
            {"merchant_id": "string", "day": "int64", "tx_count": "int64"})

    def _fraud_frame(self, merchants: Iterable[str]) -> pd.DataFrame:
        rows = [(m, *e) for m in merchants for e in self._merchant_frauds.get(m, ())]
        return pd.DataFrame(rows, columns=["merchant_id", "tx_day", "reported_day", "transaction_id"]).astype(
            {"merchant_id": "string", "tx_day": "int64", "reported_day": "int64", "transaction_id": "string"})
