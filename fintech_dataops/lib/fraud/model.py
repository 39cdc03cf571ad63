"""The fraud model: an Isolation Forest (no labels needed) plus, when labels exist, a gradient-boosted
classifier on past labels; thresholds calibrated on a validation window; versioned on disk.

This is the only fraud module that imports scikit-learn (about 1 s), and only
inside the functions that train or unpickle a model, so a rules-only
:class:`~fintech_dataops.lib.fraud.engine.FraudEngine` starts fast.

Training splits the window by time: the earlier days fit the models, the last
``validation_days`` — held out after a gap of ``validation_gap_days`` (the label
delay: a model trained today scores transactions at least that far after its
newest training row) — choose the candidate that wins (average precision) and the
review/block thresholds — the lowest thresholds whose false-positive rate on the
validation window, *together with the mandatory rule reviews*, stays within
``target_fpr * calibration_margin`` (optionally as a Clopper–Pearson upper bound at
``calibration_confidence``: :func:`allowed_false_positives`). The models are not refitted
afterwards, so the thresholds stay valid for the scores they were calibrated on. When the
model will be served features computed differently from the training rows' (a backtest's
test file after a gap the files do not hold), the validation rows are passed **as they will
be served** (``validation_features``), so the operating point is chosen on what it will see.
OpenMP/BLAS threads are capped at ``threads`` (``lib.cpu_budget``) while fitting.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fintech_dataops.lib.fraud.evaluation import alert_metrics
from fintech_dataops.lib.fraud.features import (
    FEATURE_COLUMNS,
    US_PER_DAY,
    FeatureConfig,
    feature_matrix,
    reporting_amount,
)
from fintech_dataops.lib.fraud.forest_scoring import gradient_boosting_proba, isolation_score_samples
from fintech_dataops.lib.fraud.rules import RuleConfig, evaluate_rules

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
CURRENT_FILE = "CURRENT"
KINDS = ("isolation_forest", "supervised", "stacked")


@dataclass(frozen=True)
class ModelConfig:
    """How the model is trained and calibrated (Dagster ``Config`` and the CLI fill this in)."""

    validation_days: int = 7
    # Days left unused between the fit and validation rows (the label delay a deployed model lives
    # with). Off by default: in a one-month window the merchant-risk features only become
    # informative after the first label delay, and a 7-day gap left the fit rows without them
    # (independent generator: compromised-terminal recall 2 % instead of 44 %, README).
    validation_gap_days: int = 0
    target_fpr: float = 0.001
    calibration_margin: float = 0.5  # the validation FPR budget is target_fpr × margin (out-of-sample shift)
    # Clopper–Pearson confidence that the FPR stays under that budget on new data (0: plain budget).
    # On: false positives cluster (a handful of stale-risk terminals make most of them), so the
    # validation count varies more than its size suggests (issue 16, README fraud section).
    calibration_confidence: float = 0.9
    block_fpr: float = 0.0001
    min_fraud_labels: int = 20
    kind: str = "auto"  # auto = the candidate with the best validation average precision
    isolation_trees: int = 100
    isolation_max_samples: int = 1024
    boosting_iterations: int = 150
    boosting_learning_rate: float = 0.1
    boosting_max_leaf_nodes: int = 15
    # Amounts above this quantile of the fit rows get a column of their own for gradient boosting
    # (0: off). Its bins are quantiles of the non-missing values, so the largest 1 % of amounts get
    # all 255 bins instead of the one or two they share with everything else: a threshold such as
    # "over 220" inside the top 0.4 % becomes learnable (see FraudModel.supervised_matrix).
    amount_tail_quantile: float = 0.99
    random_state: int = 42
    # OpenMP/BLAS threads for fitting and scoring (0: the CPUs this process may use, cgroup quota
    # included — lib/cpu_budget; a Dagster step passes its share of the executor's concurrency).
    threads: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("auto", *KINDS):
            raise ValueError(f"kind must be auto or one of {KINDS}, got {self.kind!r}")
        if not 0 < self.target_fpr < 1 or not 0 < self.block_fpr < 1:
            raise ValueError("target_fpr and block_fpr must be in (0, 1)")
        if not 0 <= self.amount_tail_quantile < 1:
            raise ValueError("amount_tail_quantile must be in [0, 1)")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None) -> ModelConfig:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in (values or {}).items() if k in known})


@dataclass
class FraudModel:
    """A trained, calibrated fraud model. ``score`` maps feature rows to a model score in [0, 1]."""

    kind: str
    feature_names: tuple[str, ...]
    isolation_forest: object
    anomaly_reference: np.ndarray  # sorted IF anomaly scores of the training rows (score → percentile)
    supervised: object | None
    review_threshold: float
    block_threshold: float
    feature_config: FeatureConfig
    rule_config: RuleConfig
    training_window: dict
    evaluation: dict = field(default_factory=dict)
    feature_typical: dict = field(default_factory=dict)  # per feature: (median, p99) of legitimate rows
    version: str = ""
    amount_tail_from: float | None = None  # ModelConfig.amount_tail_quantile of the fit rows' amounts

    def supervised_matrix(self, X: np.ndarray, anomaly: np.ndarray | None = None) -> np.ndarray:
        """The gradient-boosting input: the features, the amount tail, and (stacked) the anomaly percentile.

        Histogram gradient boosting bins each column at quantiles of its values (255 bins), so the
        largest amounts share a bin or two with ordinary ones. The tail column holds the amount where
        it is at or above ``amount_tail_from`` and is missing elsewhere; its bins are quantiles of the
        tail alone. Models saved before this column existed have no ``amount_tail_from``: unchanged.
        """
        columns = [X]
        tail_from = self.amount_tail_from  # a model pickled before the field reads the class default, None
        if tail_from is not None:
            amount = X[:, self.feature_names.index("amount")]
            columns.append(np.where(amount >= tail_from, amount, np.nan))
        if anomaly is not None:
            columns.append(anomaly)
        return np.column_stack(columns) if len(columns) > 1 else X

    def anomaly_percentile(self, X: np.ndarray) -> np.ndarray:
        raw = -isolation_score_samples(self.isolation_forest, X)  # scikit-learn's result, less overhead
        return np.searchsorted(self.anomaly_reference, raw, side="right") / max(len(self.anomaly_reference), 1)

    def candidate_scores(self, X: np.ndarray) -> dict[str, np.ndarray]:
        anomaly = self.anomaly_percentile(X)
        scores = {"isolation_forest": anomaly}
        if self.supervised is not None:
            estimator = self.supervised
            if self.kind == "stacked":
                scores["stacked"] = gradient_boosting_proba(estimator, self.supervised_matrix(X, anomaly))[:, 1]
            else:
                scores["supervised"] = gradient_boosting_proba(estimator, self.supervised_matrix(X))[:, 1]
        return scores

    def score(self, features: pd.DataFrame) -> np.ndarray:
        if len(features) == 0:
            return np.zeros(0)
        return self.score_matrix(feature_matrix(features, self.feature_names))

    def score_matrix(self, X: np.ndarray) -> np.ndarray:
        """``score`` on a 2-D float64 array whose columns are ``feature_names`` in order (no DataFrame)."""
        if len(X) == 0:
            return np.zeros(0)
        if self.kind == "supervised":  # the Isolation Forest is not needed (it is the slower half)
            return gradient_boosting_proba(self.supervised, self.supervised_matrix(X))[:, 1]
        return self.candidate_scores(X)[self.kind]

    def manifest(self) -> dict:
        return {
            "version": self.version,
            "kind": self.kind,
            "training_window": self.training_window,
            "features": list(self.feature_names),
            "thresholds": {"review": self.review_threshold, "block": self.block_threshold},
            "amount_tail_from": self.amount_tail_from,
            "feature_config": self.feature_config.as_dict(),
            "rule_config": self.rule_config.as_dict(),
            "evaluation": self.evaluation,
        }


def _threshold_for_budget(legit_scores: np.ndarray, allowed: int) -> float:
    """Lowest threshold with at most ``allowed`` legitimate scores >= it (never below 0)."""
    if allowed < 0:
        return float("inf")
    ordered = np.sort(legit_scores)[::-1]
    if allowed >= len(ordered):
        return 0.0
    return float(np.nextafter(ordered[allowed], np.inf))


def allowed_false_positives(n_legit: int, rate: float, confidence: float) -> int:
    """Most false positives among ``n_legit`` validation rows that still bound the true FPR below ``rate``.

    The largest k whose one-sided Clopper–Pearson upper bound (``confidence``) on k / n_legit is
    ≤ ``rate``: an operating point chosen this way keeps its FPR under ``rate`` on new data from
    the same distribution with that confidence, whatever the validation size (a fixed fraction
    of the budget is too tight on a large set and too loose on a small one). ``confidence`` 0:
    the plain budget ⌊rate × n⌋. Never below 0 (a set too small to bound anything allows none
    but the single best-ranked threshold).
    """
    plain = int(np.floor(rate * n_legit))
    if confidence <= 0 or n_legit <= 0:
        return plain
    from scipy.stats import beta

    k = np.arange(0, plain + 1)
    upper = beta.ppf(confidence, k + 1, np.maximum(n_legit - k, 1))
    ok = np.flatnonzero(upper <= rate)
    return int(ok[-1]) if len(ok) else 0


def calibrate_thresholds(
    scores: np.ndarray, y: np.ndarray, rule_alert: np.ndarray, rule_block: np.ndarray, config: ModelConfig,
) -> tuple[float, float]:
    """Review/block thresholds with maximum recall whose false-positive rate on validation stays in budget.

    ``rule_alert``: rows the discretionary rules already alert on (they consume the
    budget first); mandatory policy reviews (HIGH_VALUE) are not in it, so a legitimate
    high-value transaction counts only if the model itself alerts on it. The budget is
    :func:`allowed_false_positives` of ``target_fpr × calibration_margin`` at
    ``calibration_confidence``.
    """
    legit = ~y
    n_legit = int(legit.sum())
    review_budget = allowed_false_positives(n_legit, config.target_fpr * config.calibration_margin,
                                            config.calibration_confidence)
    block_budget = allowed_false_positives(n_legit, config.block_fpr * config.calibration_margin,
                                           config.calibration_confidence)
    review = _threshold_for_budget(scores[legit & ~rule_alert], review_budget - int((legit & rule_alert).sum()))
    block = _threshold_for_budget(scores[legit & ~rule_block], block_budget - int((legit & rule_block).sum()))
    return review, max(block, review)


def train_model(
    features: pd.DataFrame,
    is_fraud: np.ndarray | None,
    *,
    config: ModelConfig | None = None,
    feature_config: FeatureConfig | None = None,
    rule_config: RuleConfig | None = None,
    validation_features: pd.DataFrame | None = None,
) -> FraudModel:
    """Fit, choose and calibrate a model on a feature frame (``compute_features`` output).

    ``is_fraud`` holds the labels known for the window (None: no labels yet → an
    Isolation Forest with thresholds at the target alert rate).

    ``validation_features``: the validation rows' features **as they will be served** when
    that differs from ``features`` (a backtest whose test file starts after a gap the files do
    not hold: customer windows and merchant risk then miss the gap — see ``backtest``). Rows are
    matched on ``transaction_id``; the candidates are chosen and the thresholds calibrated on
    these, so the operating point is set on what the model will see. None: ``features`` as is
    (continuous data, the daily assets).
    """
    from fintech_dataops.lib.cpu_budget import cpu_threads

    config = config or ModelConfig()
    with cpu_threads(config.threads or None):
        return _train_model(features, is_fraud, config=config, feature_config=feature_config,
                            rule_config=rule_config, validation_features=validation_features)


def _train_model(features, is_fraud, *, config: ModelConfig, feature_config, rule_config,
                 validation_features) -> FraudModel:
    from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest

    feature_config = feature_config or FeatureConfig()
    rule_config = rule_config or RuleConfig()
    if len(features) < 100:
        raise ValueError(f"need at least 100 transactions to train, got {len(features)}")
    event_us = _event_us(features)
    day = event_us // US_PER_DAY
    y = np.zeros(len(features), dtype=bool) if is_fraud is None else np.asarray(is_fraud, dtype=bool)
    split_day = int(day.max()) - config.validation_days + 1
    val_rows = day >= split_day
    gap_days = config.validation_gap_days
    fit_rows = day < split_day - gap_days
    if fit_rows.sum() < 0.4 * len(features):  # too short a window to leave the gap unused
        gap_days = 0
        fit_rows = day < split_day
    if fit_rows.sum() < 50 or val_rows.sum() < 50:
        gap_days = 0
        fit_rows = event_us < np.quantile(event_us, 0.7)  # short window: time-ordered 70/30 split
        val_rows = ~fit_rows
    X = feature_matrix(features, FEATURE_COLUMNS)
    rule_features = features
    served_rows = 0
    if validation_features is not None and len(validation_features):
        served = validation_features.drop_duplicates("transaction_id")
        served.index = served["transaction_id"].astype(str).to_numpy()
        ids = features["transaction_id"].astype(str).to_numpy()
        swap = val_rows & np.isin(ids, served.index.to_numpy())
        if swap.any():
            served = served.loc[ids[swap]].set_axis(features.index[swap])
            X = X.copy()
            X[swap] = feature_matrix(served, FEATURE_COLUMNS)
            rule_features = pd.concat([features.loc[~swap], served[features.columns]]).loc[features.index]
            served_rows = int(swap.sum())
    iso = IsolationForest(
        n_estimators=config.isolation_trees, max_samples=min(config.isolation_max_samples, int(fit_rows.sum())),
        random_state=config.random_state, n_jobs=1,
    ).fit(X[fit_rows])
    reference = np.sort(-iso.score_samples(X[fit_rows]))
    model = FraudModel(
        kind="isolation_forest", feature_names=FEATURE_COLUMNS, isolation_forest=iso, anomaly_reference=reference,
        supervised=None, review_threshold=1.0, block_threshold=1.0, feature_config=feature_config,
        rule_config=rule_config, training_window={},
    )
    if config.amount_tail_quantile > 0:
        model.amount_tail_from = float(np.quantile(X[fit_rows, FEATURE_COLUMNS.index("amount")],
                                                   config.amount_tail_quantile))
    anomaly = model.anomaly_percentile(X)
    candidates: dict[str, tuple[object | None, np.ndarray]] = {"isolation_forest": (None, anomaly)}
    has_labels = (y[fit_rows].sum() >= config.min_fraud_labels and y[val_rows].sum() >= 1
                  and (~y[fit_rows]).sum() > 0)
    if has_labels and config.kind != "isolation_forest":
        for kind, matrix in (("supervised", model.supervised_matrix(X)),
                             ("stacked", model.supervised_matrix(X, anomaly))):
            clf = HistGradientBoostingClassifier(
                max_iter=config.boosting_iterations, learning_rate=config.boosting_learning_rate,
                max_leaf_nodes=config.boosting_max_leaf_nodes, l2_regularization=1.0,
                early_stopping=False, random_state=config.random_state,
            ).fit(matrix[fit_rows], y[fit_rows])
            candidates[kind] = (clf, clf.predict_proba(matrix)[:, 1])
    rules = evaluate_rules(rule_features, rule_config)
    rule_alert = rules.discretionary_hit(len(features))
    rule_any = rules.any_hit() if rules.hits else np.zeros(len(features), dtype=bool)
    rule_block = np.zeros(len(features), dtype=bool)
    for rule_id, mask in rules.hits.items():
        if rules.actions[rule_id] == "block":
            rule_block |= mask
    amounts = reporting_amount(rule_features)
    evaluation: dict = {"candidates": {}}
    for kind, (_, scores) in candidates.items():
        review, block = calibrate_thresholds(scores[val_rows], y[val_rows], rule_alert[val_rows],
                                             rule_block[val_rows], config)
        model_alert = scores[val_rows] >= review
        combined = alert_metrics(y[val_rows], model_alert | rule_any[val_rows], amounts=amounts[val_rows])
        combined["false_positive_rate_discretionary"] = alert_metrics(
            y[val_rows], model_alert | rule_alert[val_rows])["false_positive_rate"]
        evaluation["candidates"][kind] = {
            "thresholds": {"review": review, "block": block},
            "model_only": alert_metrics(y[val_rows], model_alert, scores=scores[val_rows], amounts=amounts[val_rows]),
            "combined": combined,
        }
    evaluation["rules_only"] = alert_metrics(y[val_rows], rule_any[val_rows], amounts=amounts[val_rows])
    if config.kind != "auto" and config.kind in candidates:
        chosen = config.kind
    else:
        def rank(kind: str) -> float:
            ap = evaluation["candidates"][kind]["model_only"].get("average_precision")
            return -1.0 if ap is None else ap
        chosen = max(candidates, key=rank) if has_labels else "isolation_forest"
    model.kind = chosen
    model.supervised = candidates[chosen][0]
    model.review_threshold = evaluation["candidates"][chosen]["thresholds"]["review"]
    model.block_threshold = evaluation["candidates"][chosen]["thresholds"]["block"]
    evaluation["chosen"] = chosen
    evaluation["target_fpr"] = config.target_fpr  # what the calibration aimed at (the model check reads it)
    evaluation["validation_transactions"] = int(val_rows.sum())
    evaluation["validation_frauds"] = int(y[val_rows].sum())
    evaluation["training_frauds"] = int(y[fit_rows].sum())
    legit_X = X[fit_rows & ~y]
    model.feature_typical = {
        name: (float(np.median(legit_X[:, i])), float(np.quantile(legit_X[:, i], 0.99)))
        for i, name in enumerate(FEATURE_COLUMNS)
    }
    model.training_window = {
        "start": _iso(event_us.min()), "end": _iso(event_us.max()),
        "fit_end": _iso(event_us[fit_rows].max()), "validation_start": _iso(event_us[val_rows].min()),
        "validation_gap_days": gap_days,
        "validation_rows_as_served": served_rows,
        "transactions": int(len(features)), "frauds_labelled": int(y.sum()),
    }
    model.evaluation = evaluation
    model.version = _version(model)
    return model


def _event_us(features: pd.DataFrame) -> np.ndarray:
    return pd.to_datetime(features["event_time"]).dt.as_unit("us").to_numpy().astype("int64")


def _iso(us: int) -> str:
    return pd.Timestamp(int(us), unit="us").isoformat()


def _version(model: FraudModel) -> str:
    """Deterministic: the same window, data and config give the same version (idempotent retrains)."""
    digest = hashlib.sha256(json.dumps(
        {k: v for k, v in model.manifest().items() if k != "version"}, sort_keys=True, default=str,
    ).encode()).hexdigest()[:10]
    return f"{pd.Timestamp(model.training_window['end']):%Y%m%d}-{digest}"


def save_model(model: FraudModel, models_dir: Path, *, make_current: bool = True) -> Path:
    """Write ``<models_dir>/fraud/<version>/{model.joblib, manifest.json}`` atomically; point CURRENT at it."""
    import joblib

    root = Path(models_dir) / "fraud"
    root.mkdir(parents=True, exist_ok=True)
    target = root / model.version
    staging = Path(tempfile.mkdtemp(prefix=f".{model.version}.", dir=root))
    try:
        joblib.dump(model, staging / MODEL_FILE)
        (staging / MANIFEST_FILE).write_text(json.dumps(model.manifest(), indent=2, default=str) + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    if make_current:
        from fintech_dataops.lib.ingestion.landing import write_atomic

        write_atomic(root / CURRENT_FILE, (model.version + "\n").encode())
    return target


def current_version(models_dir: Path) -> str | None:
    pointer = Path(models_dir) / "fraud" / CURRENT_FILE
    return pointer.read_text().strip() or None if pointer.exists() else None


def list_versions(models_dir: Path) -> list[str]:
    root = Path(models_dir) / "fraud"
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / MANIFEST_FILE).exists())


def read_manifest(models_dir: Path, version: str | None = None) -> dict:
    version = version or current_version(models_dir)
    if not version:
        raise FileNotFoundError(f"no fraud model in {models_dir}: materialize fraud/model first")
    return json.loads((Path(models_dir) / "fraud" / _safe_version(version) / MANIFEST_FILE).read_text())


def load_model(models_dir: Path, version: str | None = None) -> FraudModel:
    """Load a version (default: CURRENT). Raises FileNotFoundError when there is none."""
    import joblib

    version = version or current_version(models_dir)
    if not version:
        raise FileNotFoundError(f"no fraud model in {models_dir}: materialize fraud/model first")
    path = Path(models_dir) / "fraud" / _safe_version(version) / MODEL_FILE
    if not path.exists():
        raise FileNotFoundError(f"fraud model version {version!r} not found under {Path(models_dir) / 'fraud'}")
    model = joblib.load(path)
    if not isinstance(model, FraudModel):
        raise TypeError(f"{path} does not hold a FraudModel")
    return model


def _safe_version(version: str) -> str:
    if not version or "/" in version or "\\" in version or version.startswith("."):
        raise ValueError(f"invalid model version {version!r}")
    return version


def model_problems(manifest: dict) -> list[str]:
    """What makes a saved model unfit to serve, from its manifest (empty: fit).

    The served features must be the ones the code computes (train/serve parity), the thresholds
    ordered and within [0, 1], and the chosen candidate's discretionary FPR on its validation
    days within the target it was calibrated for.
    """
    problems = []
    if list(manifest.get("features") or []) != list(FEATURE_COLUMNS):
        problems.append("its features are not the ones this code computes (retrain it)")
    thresholds = manifest.get("thresholds") or {}
    review, block = thresholds.get("review"), thresholds.get("block")
    if review is None or block is None or not (0 <= review <= block <= 1 or block == float("inf")):
        problems.append(f"thresholds out of order or range (review {review}, block {block})")
    evaluation = manifest.get("evaluation") or {}
    chosen = (evaluation.get("candidates") or {}).get(evaluation.get("chosen") or manifest.get("kind"), {})
    fpr = (chosen.get("combined") or {}).get("false_positive_rate_discretionary")
    target = evaluation.get("target_fpr", ModelConfig().target_fpr)
    if fpr is not None and fpr > target:
        problems.append(f"discretionary FPR {fpr:.4%} on its validation days, over the target {target:.4%}")
    return problems
