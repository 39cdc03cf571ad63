"""``FraudEngine``: the one scorer used by the batch, near-real-time and online paths.

- Batch: ``score_frame(transactions, history, labels)`` scores a whole frame
  (a day, a backfill range, a backtest file) with vectorised features.
- Online: ``warm_start(history, labels)`` loads the recent past into bounded
  per-customer / per-merchant state, then ``score_batch(records)`` (or, for the
  decision service, ``score_arrays(columns)``) scores each micro-batch against
  that state and appends it. A customer's window is a sorted list with a running
  sum (``windows.CustomerWindow``), so a feature costs O(log history) per event.
  State older than the longest window is dropped, so memory is bounded by the
  traffic of the last 30 days.

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

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from fintech_dataops.lib.fraud.features import (
    CUSTOMER_WINDOWS,
    MERCHANT_FEATURES,
    US_PER_DAY,
    US_PER_SECOND,
    FeatureConfig,
    compute_features,
    customer_window_features,
    derive_features,
    feature_matrix,
    merchant_windows,
    fraud_events,
    prepare_transactions,
    reporting_amount,
    to_epoch_us,
)
from fintech_dataops.lib.fraud.rules import RuleConfig, evaluate_rules
from fintech_dataops.lib.fraud.windows import CustomerWindow, RememberedIds, past_features

DECISIONS = ("approve", "review", "block")
INVALID_RECORD = "INVALID_RECORD"
RULES_ONLY_REVIEW_THRESHOLD = 0.5
RULES_ONLY_BLOCK_THRESHOLD = 0.9
_PASSTHROUGH_COLUMNS = ("transaction_id", "customer_id", "merchant_id", "amount", "currency", "event_time",
                        "partition_date", "amount_reporting", "fx_rate_missing")
DECISION_COLUMNS = (
    "transaction_id", "customer_id", "merchant_id", "amount", "currency", "amount_reporting", "fx_rate_missing",
    "event_time",
    "risk_score", "model_score", "decision", "rule_ids", "reasons", "discretionary_alert", "model_version",
)


_BULK_ROWS = 50_000  # above this many rows (a warm start), windows are built per customer, not per row
_ARRAY_COLUMNS = ("transaction_id", "customer_id", "merchant_id", "device_id", "currency", "amount",
                  "amount_cents", "event_us")


def _float_column(feats, name: str) -> np.ndarray:
    column = feats[name]
    if isinstance(column, pd.Series):
        return column.to_numpy(dtype="float64")
    return np.asarray(column, dtype="float64")


class FraudEngine:
    """Rules + features + (optional) model → decision with reasons.

    ``model`` is a :class:`~fintech_dataops.lib.fraud.model.FraudModel` or None
    (rules only; scikit-learn is then never imported). With a model, the feature
    windows are the ones the model was trained with.
    """

    def __init__(self, rules: RuleConfig | None = None, model=None, features: FeatureConfig | None = None,
                 fx=None):
        """``fx``: the reference rates (:class:`~fintech_dataops.lib.money.fx.FxRates`) that turn each
        amount into the reporting currency the rules and the model judge; default: the bundled ECB history."""
        self.rules = rules or RuleConfig()
        self._fx = fx
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
                        rules: RuleConfig | None = None, fx=None) -> FraudEngine:
        """Engine with a saved model (default: the CURRENT version); rules default to the model's own."""
        from fintech_dataops.lib.fraud.model import load_model

        model = load_model(Path(models_dir), version)
        return cls(rules=rules or model.rule_config, model=model, fx=fx)

    # ---------------------------------------------------------------- money
    @property
    def fx(self):
        """The reference rates in use (the bundled ECB history unless given)."""
        if self._fx is None:
            from fintech_dataops.lib.money.fx import bundled_rates

            self._fx = bundled_rates()
        return self._fx

    def set_fx(self, fx) -> None:
        """Swap the reference rates (the service's hot reload when a new day of rates lands)."""
        self._fx = fx

    @property
    def reporting_currency(self) -> str:
        return self.fx.config.reporting_currency

    def with_reporting(self, frame: pd.DataFrame | None) -> pd.DataFrame | None:
        """``frame`` plus ``amount_reporting`` / ``fx_rate_missing`` (kept when already there)."""
        if frame is None or not len(frame) or "amount_reporting" in frame.columns or "amount" not in frame.columns \
                or "event_time" not in frame.columns:
            return frame
        return self.fx.annotate(frame)

    @property
    def model_version(self) -> str | None:
        return self.model.version if self.model is not None else None

    # ---------------------------------------------------------------- batch
    def features(self, transactions: pd.DataFrame, history: pd.DataFrame | None = None,
                 labels: pd.DataFrame | None = None) -> pd.DataFrame:
        """Past-only features of ``transactions`` (see :func:`compute_features`)."""
        return compute_features(transactions, history, labels, self.feature_config)

    def score_frame(self, transactions: pd.DataFrame, history: pd.DataFrame | None = None,
                    labels: pd.DataFrame | None = None, *, labels_until=None,
                    history_start=None) -> pd.DataFrame:
        """Decisions for every row of ``transactions`` (input order; unparseable rows → review, INVALID_RECORD).

        ``history``: earlier transactions (at least the previous 30 days' tail for exact
        customer windows, label delay + merchant window for merchant risk).
        ``labels``: fraud labels known so far (chargebacks), for merchant risk.
        ``labels_until``: where ``history`` and its labels stop when a gap separates them
        from ``transactions``, and ``history_start`` where it begins (see :func:`compute_features`).
        """
        valid, rejected = prepare_transactions(self.with_reporting(transactions))
        history_valid = prepare_transactions(self.with_reporting(history))[0] \
            if history is not None and len(history) else None
        feats = compute_features(valid, history_valid, labels, self.feature_config, prepared=True,
                                 labels_until=labels_until, history_start=history_start)
        return self._with_rejected(self.decide(feats), rejected)

    def decide(self, feats: pd.DataFrame) -> pd.DataFrame:
        """Rules + model on a feature frame → the decision frame (one row per feature row)."""
        out = feats[[c for c in _PASSTHROUGH_COLUMNS if c in feats.columns]].copy()
        for name, values in self._decide_arrays(feats, len(feats)).items():
            out[name] = values
        out["model_version"] = self.model_version
        return out

    def _decide_arrays(self, feats, n: int) -> dict[str, object]:
        """The decision columns for ``feats`` (a DataFrame or a mapping of numpy arrays): one code path."""
        hits = evaluate_rules(feats, self.rules, self.reporting_currency)
        if self.model is not None and n:
            model_score = np.asarray(self._model_score(feats), dtype="float64")
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
        return {"risk_score": risk, "model_score": model_score, "decision": decision, "rule_ids": rule_ids,
                "reasons": reasons, "discretionary_alert": discretionary}

    def _model_score(self, feats) -> np.ndarray:
        names = getattr(self.model, "feature_names", None)
        if names is not None and hasattr(self.model, "score_matrix"):
            # A 2-D float array straight to the estimator (it was fitted on arrays, not named columns).
            return self.model.score_matrix(feature_matrix(feats, names))
        # Any other object with ``score(frame)`` (e.g. a wrapped third-party model).
        return self.model.score(feats if isinstance(feats, pd.DataFrame) else pd.DataFrame(feats))

    def _model_reasons(self, feats, model_score: np.ndarray) -> dict[int, str]:
        """For rows at or above the review threshold: the score and the features far above typical."""
        rows = np.flatnonzero(model_score >= self.review_threshold)
        if not len(rows):
            return {}
        typical = getattr(self.model, "feature_typical", {}) or {}
        level = np.where(model_score[rows] >= self.block_threshold, "block", "review")
        out = {}
        names = list(typical)
        values = np.column_stack([(reporting_amount(feats) if name == "amount" else _float_column(feats, name))[rows]
                                  for name in names]) if names else np.zeros((len(rows), 0))
        p99 = np.array([typical[name][1] for name in names], dtype="float64")
        # Which features are far above typical, for every alerted row at once; only those are formatted.
        with np.errstate(invalid="ignore"):
            far = (values > p99) & (p99 > 0)
        for j, i in enumerate(rows):
            unusual = []
            for k in np.flatnonzero(far[j]).tolist():
                name, (median, high) = names[k], typical[names[k]]
                value = float(values[j, k])
                unusual.append((value / high, f"{name}={value:,.4g} (typical {median:,.4g})"))
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
        # customer_id → its remembered rows, sorted by (event_us, transaction_id). The dict's order is
        # the order of last activity (a customer is moved to the end when it transacts), so eviction
        # reads idle customers off the front instead of scanning (or sorting) every customer.
        self._customers: dict[str, CustomerWindow] = {}
        self._rows = 0  # remembered customer rows, kept as they are added and dropped
        self._ids = RememberedIds()  # the transaction ids of those rows (a resend is found in O(1))
        # merchant_id → {day: transactions}; merchant_id → {(tx_day, reported_day, transaction_id)}
        self._merchant_days: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self._merchant_frauds: dict[str, set] = defaultdict(set)
        # merchant_id → {day: (delayed count, delayed fraud rate)}: a day's value only reads
        # earlier days, so it is kept until an event or label lands inside its window.
        self._merchant_risk_cache: dict[str, dict[int, tuple[float, float]]] = {}
        self._latest_us: int | None = None

    @property
    def state_size(self) -> dict[str, int]:
        return {
            "customers": len(self._customers),
            "customer_transactions": self._rows,
            "merchant_days": sum(len(d) for d in self._merchant_days.values()),
            "fraud_labels": sum(len(s) for s in self._merchant_frauds.values()),
        }

    @property
    def customer_count(self) -> int:
        """Customers with a window (O(1), unlike ``state_size``)."""
        return len(self._customers)

    def window_entries(self, customer_id: str) -> list[tuple[int, str, int, str]]:
        """The remembered rows of one customer: (event_us, transaction_id, amount_cents, device_id)."""
        window = self._customers.get(customer_id)
        return window.entries() if window else []

    def adopt_state(self, other: FraudEngine) -> None:
        """Take over ``other``'s online window state (a model swap keeps every customer's window).

        The state is moved, not copied: ``other`` must not score afterwards.
        """
        self._customers = other._customers
        self._rows = other._rows
        self._ids = other._ids
        self._merchant_days = other._merchant_days
        self._merchant_frauds = other._merchant_frauds
        self._merchant_risk_cache = other._merchant_risk_cache
        self._latest_us = other._latest_us

    def evict_idle(self, max_customers: int | None = None) -> int:
        """Drop customers idle past the longest window (they no longer influence any feature), then,
        above ``max_customers``, the least recently active down to 90 % of the cap; returns how many."""
        if self._latest_us is None:
            return 0
        customers = self._customers
        cutoff = self._latest_us - int(self.feature_config.customer_horizon_us)
        idle = []
        for customer, window in customers.items():  # least recently active first
            if window.times and window.times[-1] >= cutoff:
                break
            idle.append(customer)
        if max_customers is not None and len(customers) - len(idle) > max_customers:
            idle = list(islice(customers, len(customers) - int(max_customers * 0.9)))
        for customer in idle:
            window = customers.pop(customer)
            self._rows -= len(window.times)
            self._ids.forget(window.txs)
        return len(idle)

    def warm_start(self, history: pd.DataFrame, labels: pd.DataFrame | None = None,
                   customers: Callable[[np.ndarray], np.ndarray] | None = None) -> int:
        """Load recent history (and labels) into the online state; returns the transactions kept.

        ``customers``: customer ids → which of them this engine keeps windows for (a shard of the
        decision service); the merchant counts and labels still come from every row.
        """
        self.reset_state()
        valid = prepare_transactions(self.with_reporting(history))[0] if history is not None and len(history) else None
        if labels is not None and len(labels):
            self._add_fraud_events(fraud_events(labels, valid))
        if valid is None or not len(valid):
            return 0
        self._remember(valid, customers)
        return self.state_size["customer_transactions"]

    def add_labels(self, labels: pd.DataFrame) -> int:
        """Add fraud labels (need merchant_id and event_time, or use warm_start); returns labels added."""
        events = fraud_events(labels)
        self._add_fraud_events(events)
        return len(events)

    def score_batch(self, records: Iterable[Mapping] | pd.DataFrame) -> pd.DataFrame:
        """Score a micro-batch against the state, then add it to the state. Output in input order.

        A batch whose every record is well-formed (string ids, a finite amount, a datetime
        ``event_time``) takes the fast path: numpy arrays over the per-customer state, no
        intermediate DataFrames, the same window code as the batch path (so the decisions are
        identical). Anything else takes the general path (``prepare_transactions``).
        """
        frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
        if frame.empty:
            return pd.DataFrame(columns=list(DECISION_COLUMNS))
        columns = _fast_columns(frame)
        if columns is not None:
            return self._score_columns(columns)
        return self._score_batch_general(frame)

    def _score_batch_general(self, frame: pd.DataFrame) -> pd.DataFrame:
        valid, rejected = prepare_transactions(self.with_reporting(frame))
        customers = pd.unique(valid["customer_id"])
        history = self._customer_history(customers)
        batch_merchant_days = valid.groupby(["merchant_id", valid["event_us"] // US_PER_DAY]).size()
        for (merchant, day), count in batch_merchant_days.items():
            self._merchant_days[merchant][int(day)] += int(count)
        self._merchant_risk_cache.clear()
        merchants = pd.unique(valid["merchant_id"])
        feats = compute_features(
            valid, history, None, self.feature_config, prepared=True,
            merchant_counts=self._merchant_count_frame(merchants), frauds=self._fraud_frame(merchants),
        )
        decided = self.decide(feats)
        self._remember_arrays(valid["customer_id"].to_numpy(dtype=object), valid["event_us"].to_numpy(),
                              valid["transaction_id"].to_numpy(dtype=object), valid["amount_cents"].to_numpy(),
                              valid["device_id"].to_numpy(dtype=object))
        return self._with_rejected(decided, rejected)

    def _score_columns(self, c: dict[str, np.ndarray]) -> pd.DataFrame:
        return pd.DataFrame(self.score_arrays(c))

    def score_arrays(self, c: Mapping[str, np.ndarray]) -> dict[str, object]:
        """The fast path, arrays in and arrays out: ``compute_features`` semantics on the state.

        ``c`` holds equal-length, already validated columns (what :func:`_fast_columns` builds):
        ``transaction_id``, ``customer_id``, ``merchant_id``, ``device_id`` ("" when unknown) and
        ``currency`` as object arrays of str, ``amount`` float64, ``amount_cents`` and ``event_us``
        int64 (UTC microseconds). Returns the :data:`DECISION_COLUMNS` (``event_time`` as
        datetime64[us]) and adds the batch to the state. The online service calls this directly,
        so a micro-batch never becomes a DataFrame.
        """
        feats, cents = self._online_feature_arrays(c)
        tx, cust, merch, event_us, amount = (c["transaction_id"], c["customer_id"], c["merchant_id"], c["event_us"],
                                             c["amount"])
        n = len(tx)
        decided = self._decide_arrays(feats, n)
        out = {"transaction_id": tx, "customer_id": cust, "merchant_id": merch, "amount": amount,
               "currency": c["currency"], "amount_reporting": feats["amount_reporting"],
               "fx_rate_missing": feats["fx_rate_missing"], "event_time": event_us.astype("datetime64[us]")}
        if "partition_date" in c:
            out["partition_date"] = c["partition_date"]
        out.update(decided)
        out["model_version"] = [self.model_version] * n
        self._remember_arrays(cust, event_us, tx, cents, c["device_id"])
        return out

    def online_features(self, records: Iterable[Mapping] | pd.DataFrame) -> pd.DataFrame:
        """The features the online path computes for a micro-batch (then adds it to the state).

        The same arrays ``score_batch`` decides on; the parity tests compare them with
        ``compute_features`` on the same history and labels.
        """
        frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
        c = _fast_columns(frame)
        if c is None:
            raise ValueError("online_features needs well-formed records (the fast path's input)")
        feats, cents = self._online_feature_arrays(c)
        self._remember_arrays(c["customer_id"], c["event_us"], c["transaction_id"], cents, c["device_id"])
        out = pd.DataFrame({"transaction_id": c["transaction_id"], **feats})
        return out

    def _online_feature_arrays(self, c: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """(feature arrays, reporting-currency cents the windows remember) of a micro-batch."""
        missing = [k for k in _ARRAY_COLUMNS if k not in c]
        if missing:
            raise KeyError(f"score_arrays needs the columns {', '.join(missing)}")
        cust, tx, merch = c["customer_id"], c["transaction_id"], c["merchant_id"]
        event_us, amount = c["event_us"], c["amount"]
        day = event_us // US_PER_DAY
        # Every amount judged in the reporting currency: the rate of the event's day (or the latest before).
        if "amount_reporting" in c:
            reporting = np.asarray(c["amount_reporting"], dtype="float64")
            fx_missing = np.asarray(c.get("fx_rate_missing", np.isnan(reporting)), dtype=bool)
        else:
            reporting, fx_missing = self.fx.convert(amount, c["currency"], day)
        money = np.nan_to_num(reporting, nan=0.0)
        cents = np.round(money * 100).astype("int64")
        c = {**c, "amount_cents": cents}
        self.count_merchant_days(merch, day)
        cust_list, tx_list, us_list = cust.tolist(), tx.tolist(), event_us.tolist()
        if self._ids.holds_any(tx_list):
            # A resent transaction id: the batch path drops the remembered copy, so gather rows as it does.
            counts, sums, seconds_since, velocity, device_count = self._gathered_windows(c)
        else:
            counts, sums, seconds_since, velocity, device_count = self._incremental_windows(
                c, cust_list, us_list, tx_list)
        feats: dict[str, np.ndarray] = {"amount": amount, "amount_reporting": reporting, "fx_rate_missing": fx_missing}
        feats.update(derive_features(money, cents, event_us, counts=counts, sums_cents=sums,
                                     seconds_since_previous=seconds_since, velocity_count=velocity,
                                     device_count=device_count, merchant=self._merchant_risk(merch, day),
                                     config=self.feature_config))
        return feats, cents

    def count_merchant_days(self, merchants: np.ndarray, days: np.ndarray) -> None:
        """Count transactions per (merchant, day) for the delayed merchant windows.

        Scoring does it for its own rows; a customer shard of the decision service
        (``lib/realtime/scoring_process``) also counts the other shards' rows, so every shard's
        merchant windows see every transaction, as one engine's do.
        """
        delay = self.feature_config.label_delay_days
        for merchant, d in zip(merchants.tolist(), days.tolist()):
            self._merchant_days[merchant][d] += 1
            cached = self._merchant_risk_cache.get(merchant)
            if cached and d < max(cached) - delay:  # a late event inside a cached window
                del self._merchant_risk_cache[merchant]

    def _incremental_windows(self, c, customers: list[str], event_us: list[int], transaction_ids: list[str]):
        """Customer features as (the batch's own earlier rows, vectorised) + (the remembered rows, by
        binary search per event): O(batch × log history) instead of gathering every history row."""
        config = self.feature_config
        cust, tx, dev, us, cents = c["customer_id"], c["transaction_id"], c["device_id"], c["event_us"], c["amount_cents"]
        inside = customer_window_features(cust, us, tx, cents, config)
        past = past_features(self._customers, customers, event_us, transaction_ids, dev.tolist(), config)
        counts = {w: inside[f"customer_count_{w}"] + past[f"customer_count_{w}"] for w in CUSTOMER_WINDOWS}
        sums = {w: inside[f"customer_sum_cents_{w}"] + past[f"customer_sum_cents_{w}"] for w in CUSTOMER_WINDOWS}
        # The previous row is the later of the batch's and the state's: the smaller gap.
        seconds_since = np.minimum(inside["seconds_since_previous"], past["gap_us"] / US_PER_SECOND)
        velocity = (inside["velocity_count"] + past["velocity_past"]).astype("int64")
        device_inside = customer_window_features(cust + "\x1f" + dev, us, tx, cents, config)
        device_count = device_inside["customer_count_30d"] + past["device_count_past"]
        return counts, sums, seconds_since, velocity, device_count

    def _gathered_windows(self, c):
        """Customer features over the remembered rows gathered next to the batch (compute_features' way)."""
        config = self.feature_config
        cust, tx, dev, event_us, cents = (c["customer_id"], c["transaction_id"], c["device_id"], c["event_us"],
                                          c["amount_cents"])
        entries, owners = [], []
        for customer in dict.fromkeys(cust.tolist()):
            window = self._customers.get(customer)
            if window:
                rows = window.entries()
                entries.extend(rows)
                owners.extend([customer] * len(rows))
        if entries:
            p_us, p_tx, p_cents, p_dev = (np.array(v) for v in zip(*entries))
            p_us, p_cents = p_us.astype("int64"), p_cents.astype("int64")
            p_tx, p_dev = p_tx.astype(object), p_dev.astype(object)
            p_cust = np.array(owners, dtype=object)
            lower = int(event_us.min()) - max(int(config.customer_horizon_us),
                                              (config.merchant_horizon_days + 1) * US_PER_DAY)
            keep = (p_us >= lower) & (p_us <= int(event_us.max()))
            targets = set(tx.tolist())
            if not targets.isdisjoint(entries_tx := p_tx.tolist()):
                keep &= np.fromiter((t not in targets for t in entries_tx), dtype=bool, count=len(entries_tx))
            if not keep.all():
                p_us, p_tx, p_cents, p_dev, p_cust = p_us[keep], p_tx[keep], p_cents[keep], p_dev[keep], p_cust[keep]
        else:
            p_us = p_cents = np.zeros(0, dtype="int64")
            p_tx = p_dev = p_cust = np.zeros(0, dtype=object)
        n_past = len(p_us)
        all_cust = np.concatenate([p_cust, cust])
        all_us = np.concatenate([p_us, event_us])
        all_tx = np.concatenate([p_tx, tx])
        all_cents = np.concatenate([p_cents, cents])
        customer = customer_window_features(all_cust, all_us, all_tx, all_cents, config)
        counts = {w: customer[f"customer_count_{w}"][n_past:] for w in CUSTOMER_WINDOWS}
        sums = {w: customer[f"customer_sum_cents_{w}"][n_past:] for w in CUSTOMER_WINDOWS}
        pair = all_cust + "\x1f" + np.concatenate([p_dev, dev])
        device = customer_window_features(pair, all_us, all_tx, all_cents, config)
        return (counts, sums, customer["seconds_since_previous"][n_past:],
                customer["velocity_count"][n_past:].astype("int64"), device["customer_count_30d"][n_past:])

    def _merchant_risk(self, merchants: np.ndarray, days: np.ndarray) -> dict[str, np.ndarray]:
        """Delayed merchant counts and fraud rates from the state (``merchant_features`` semantics)."""
        delay = self.feature_config.label_delay_days
        caches = self._merchant_risk_cache
        values = np.empty((len(days), len(MERCHANT_FEATURES)))
        for i, (merchant, day) in enumerate(zip(merchants.tolist(), days.tolist())):
            cache = caches.get(merchant)
            if cache is None:
                cache = caches[merchant] = {}
            value = cache.get(day)
            if value is None:
                per_day = self._merchant_days.get(merchant) or {}
                frauds = [tx_day for tx_day, reported, _ in self._merchant_frauds.get(merchant, ()) if reported < day]
                windows = merchant_windows(day, delay)
                counts = [float(sum(per_day.get(d, 0) for d in range(lo, hi))) for _, lo, hi in windows]
                rates = [sum(1 for t in frauds if lo <= t < hi) / count if count > 0 else 0.0
                         for (_, lo, hi), count in zip(windows, counts)]
                value = cache[day] = (*counts, *rates)
            values[i] = value
        return {name: values[:, k] for k, name in enumerate(MERCHANT_FEATURES)}

    def score_one(self, record: Mapping) -> dict:
        """One transaction → one decision dict (convenience over ``score_batch``)."""
        return self.score_batch([record]).iloc[0].to_dict()

    def _customer_history(self, customers: Iterable[str]) -> pd.DataFrame:
        rows = [(c, *entry) for c in customers if c in self._customers for entry in self._customers[c].entries()]
        frame = pd.DataFrame(rows, columns=["customer_id", "event_us", "transaction_id", "amount_cents", "device_id"])
        frame["merchant_id"] = ""
        return frame.astype({"customer_id": "string", "transaction_id": "string", "merchant_id": "string",
                             "device_id": "string", "event_us": "int64", "amount_cents": "int64"})

    def _remember(self, valid: pd.DataFrame, customers: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        """Add prepared transactions (and their merchant days) to the state; customer windows only
        for the ``customers`` kept (all when None)."""
        days = valid.groupby(["merchant_id", valid["event_us"] // US_PER_DAY]).size()
        for (merchant, day), count in days.items():
            self._merchant_days[merchant][int(day)] += int(count)
        self._merchant_risk_cache.clear()
        if customers is not None:
            valid = valid[np.asarray(customers(valid["customer_id"].to_numpy(dtype=object)), dtype=bool)]
            if not len(valid):
                return
        self._remember_arrays(valid["customer_id"].to_numpy(dtype=object), valid["event_us"].to_numpy(),
                              valid["transaction_id"].to_numpy(dtype=object), valid["amount_cents"].to_numpy(),
                              valid["device_id"].to_numpy(dtype=object))

    def _remember_arrays(self, customers: np.ndarray, event_us: np.ndarray, transaction_ids: np.ndarray,
                         amount_cents: np.ndarray, devices: np.ndarray) -> None:
        """Append to the customer windows in (event time, transaction id) order and drop what aged out."""
        if not len(event_us):
            return
        horizon = int(self.feature_config.customer_horizon_us)
        state = self._customers
        if len(event_us) >= _BULK_ROWS:  # a warm start: build each new customer's window in one go
            self._remember_bulk(customers, event_us, transaction_ids, amount_cents, devices)
            self._after_remember(int(event_us.max()))
            return
        order = np.lexsort((transaction_ids, event_us))
        touched: dict[str, None] = {}  # in order of each customer's latest row
        tx_sorted = transaction_ids[order].tolist()
        self._ids.add(tx_sorted)
        for customer, us, tx_id, cents, device in zip(
            customers[order].tolist(), event_us[order].tolist(), tx_sorted,
            amount_cents[order].tolist(), devices[order].tolist(),
        ):
            window = state.get(customer)
            if window is None:
                window = state[customer] = CustomerWindow()
            window.add(us, tx_id, cents, device)
            touched.pop(customer, None)
            touched[customer] = None
        self._rows += len(order)
        for customer in touched:
            window = state.pop(customer)
            state[customer] = window  # most recently active: to the end
            self._rows -= window.drop_before(window.newest_us - horizon, self._ids)
        self._after_remember(int(event_us.max()))

    def _remember_bulk(self, customers: np.ndarray, event_us: np.ndarray, transaction_ids: np.ndarray,
                       amount_cents: np.ndarray, devices: np.ndarray) -> None:
        horizon = int(self.feature_config.customer_horizon_us)
        state = self._customers
        codes, uniques = pd.factorize(customers, sort=False)
        order = np.lexsort((transaction_ids, event_us, codes))
        sorted_codes = codes[order]
        starts = np.flatnonzero(np.concatenate(([True], sorted_codes[1:] != sorted_codes[:-1])))
        ends = np.append(starts[1:], len(order))
        us_l, tx_l = event_us[order].tolist(), transaction_ids[order].tolist()
        cents_sorted = amount_cents[order].astype("int64")
        dev_l, cents_l = devices[order].tolist(), cents_sorted.tolist()
        self._ids.add(tx_l)
        running = np.concatenate(([0], np.cumsum(cents_sorted)))
        # Customers in order of their latest row, so the dict ends up least recently active first.
        groups = sorted(zip(starts.tolist(), ends.tolist(), sorted_codes[starts].tolist()),
                        key=lambda g: (us_l[g[1] - 1], tx_l[g[1] - 1]))
        for start, end, code in groups:
            customer = uniques[code]
            window = state.pop(customer, None)
            if window is None or not window.times:
                window = CustomerWindow()
                window.set_rows(us_l[start:end], tx_l[start:end], (running[start:end + 1] - running[start]).tolist(),
                                dev_l[start:end])
            else:
                for i in range(start, end):
                    window.add(us_l[i], tx_l[i], cents_l[i], dev_l[i])
            state[customer] = window
            self._rows += end - start - window.drop_before(window.newest_us - horizon, self._ids)

    def _after_remember(self, latest: int) -> None:
        previous_day = None if self._latest_us is None else self._latest_us // US_PER_DAY
        self._latest_us = latest if self._latest_us is None else max(self._latest_us, latest)
        if previous_day is None or self._latest_us // US_PER_DAY != previous_day:
            self._prune_merchants()  # merchant state is by day: prune once per new day, not per batch

    def _prune_merchants(self) -> None:
        self._merchant_risk_cache.clear()
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
            self._merchant_risk_cache.pop(merchant, None)

    def _merchant_count_frame(self, merchants: Iterable[str]) -> pd.DataFrame:
        rows = [(m, d, c) for m in merchants for d, c in self._merchant_days.get(m, {}).items()]
        return pd.DataFrame(rows, columns=["merchant_id", "day", "tx_count"]).astype(
            {"merchant_id": "string", "day": "int64", "tx_count": "int64"})

    def _fraud_frame(self, merchants: Iterable[str]) -> pd.DataFrame:
        rows = [(m, *e) for m in merchants for e in self._merchant_frauds.get(m, ())]
        return pd.DataFrame(rows, columns=["merchant_id", "tx_day", "reported_day", "transaction_id"]).astype(
            {"merchant_id": "string", "tx_day": "int64", "reported_day": "int64", "transaction_id": "string"})


def _is_null(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _fast_columns(frame: pd.DataFrame) -> dict[str, np.ndarray] | None:
    """The batch as arrays when every record is well-formed (else None: take the general path).

    Well-formed means what ``prepare_transactions`` would accept unchanged: string ids, a
    finite float amount, a datetime64 ``event_time`` (no NaT), a string or missing device.
    """
    if any(c not in frame.columns for c in ("transaction_id", "customer_id", "merchant_id", "amount", "event_time")):
        return None
    out: dict[str, np.ndarray] = {}
    for name in ("transaction_id", "customer_id", "merchant_id"):
        values = frame[name].to_numpy(dtype=object)
        if not all(type(v) is str for v in values.tolist()):
            return None
        out[name] = values
    amount = frame["amount"]
    if not pd.api.types.is_float_dtype(amount.dtype) and not pd.api.types.is_integer_dtype(amount.dtype):
        return None
    if isinstance(amount.dtype, pd.api.extensions.ExtensionDtype) and amount.isna().any():
        return None
    amount = amount.to_numpy(dtype="float64")
    if not np.isfinite(amount).all():
        return None
    times = frame["event_time"]
    if not pd.api.types.is_datetime64_any_dtype(times.dtype):
        return None
    event_us = to_epoch_us(times)
    if (event_us == np.iinfo(np.int64).min).any():
        return None
    if "device_id" in frame.columns:
        devices = frame["device_id"].to_numpy(dtype=object).tolist()
        if not all(type(d) is str or _is_null(d) for d in devices):
            return None
        devices = np.array([d if type(d) is str else "" for d in devices], dtype=object)
    else:
        devices = np.full(len(frame), "", dtype=object)
    out["device_id"] = devices
    out["amount"] = amount
    out["amount_cents"] = np.round(amount * 100).astype("int64")
    out["event_us"] = event_us
    out["currency"] = frame["currency"].to_numpy(dtype=object) if "currency" in frame.columns \
        else np.full(len(frame), "USD", dtype=object)
    if "partition_date" in frame.columns:
        out["partition_date"] = frame["partition_date"].to_numpy(dtype=object)
    return out
