"""The fitted scorecard: monotone WoE bins inside the v2.0 component weights, scaled by points to double odds.

How fitted parts and fixed weights combine (exactly):

1. **Factor values** are the documented v2.0 factors (``components.FACTORS``): each a monotone
   function of its inputs, 1 = lowest risk, NaN when the source has no data.
2. **Bins** (fitted): each factor is cut by monotone optimal binning (``optbinning``, event rate
   non-increasing in the factor value, bins of ≥ 5 % of applications, neighbours merged unless their
   default rates differ at p < 0.05). Missing data is its own bin. Each bin gets its
   weight of evidence ``WoE = ln(good share / bad share)`` (counts + 0.5, so an empty bin is finite).
   The missing bin's WoE says what outcomes show about customers without that source — a
   thin file is neither rewarded nor punished beyond what its observed default rate supports.
3. **Component log-odds** (fitted): ``L_k = Σ_f β_f · WoE_f`` over the component's factors,
   ``β_f ≥ 0`` from a logistic regression within the component (non-negative coefficients keep every
   factor's monotonicity promise: a better factor value never costs points).
4. **Fixed weights**: ``x = Σ_k w_k · L_k`` with the product's v2.0 weights ``w_k`` (normalised, 0.30 /
   0.20 / 0.10 / 0.10 / 0.15 / 0.15). The weights are not fitted.
5. **Calibration** (fitted, segmented): ``ln(odds good) = a_s + b_s · x`` (one logistic regression,
   ``b_s > 0``) with one intercept and slope per segment ``s``: *thin file* (no transaction and no loan
   history: only the alternative-data components) and everyone else, as lenders segment thin- and
   thick-file scorecards. Why: each factor's bins are fitted *marginally*, but the components overlap
   (they all measure one customer), so twelve months of bills are worth more for a customer who has
   nothing else than for one whose income and loans already told part of the story, and a present
   component adds its average points while an absent one adds about none. With one calibration for
   both, a thin file of a given risk scored lower (and less spread) than a thick file of the same risk.
6. **Scaling**: ``score = offset + factor · ln(odds good)``, ``factor = PDO / ln 2`` (default PDO 40:
   40 points double the odds), ``offset`` puts ``BASE_SCORE`` (700) at odds ``BASE_ODDS`` (20:1, PD
   4.8 %); clipped to 300–850 and rounded half up.

So each factor bin is worth ``factor · b_s · w_k · β_f · WoE`` points (plus the segment's constant), and a
factor's **points lost** are that amount at its best bin minus at the customer's bin: reason codes
rank them. The fitted window is the *training* vintages; the latest vintages (by ``applied_time``) are
held out as the out-of-time sample that validates the fit and decides champion vs challenger.

Plain numpy/scipy at scoring time; ``optbinning`` is imported only when fitting.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fintech_dataops.lib.credit.components import FACTOR_COMPONENT_INDEX, FACTORS, component_matrix, factor_matrix
from fintech_dataops.lib.credit.config import COMPONENTS, SCORE_MAX, SCORE_MIN, ScoringConfig

PDO = 40.0
BASE_SCORE = 700.0
BASE_ODDS = 20.0
OOT_FRACTION = 0.25            # latest share of outcome vintages held out (out of time)
MIN_BIN_SHARE = 0.05
MAX_PVALUE = 0.05
WOE_SMOOTHING = 0.5
MIN_SEGMENT_DEFAULTS = 20      # the thin-file segment gets its own calibration with this many defaults on each side
MIN_AUC_GAIN = 0.005           # a challenger replaces the champion only with at least this much more OOT AUC
PSI_WARN, PSI_ERROR = 0.10, 0.25
BASELINE_VERSION = "credit-v2.0"


@dataclass
class FactorBins:
    code: str
    component: str
    splits: list[float]          # ascending cut points: bin i = [splits[i-1], splits[i])
    woe: list[float]             # one per bin (len(splits) + 1), ascending (monotone)
    woe_missing: float
    counts: list[int]            # applications per bin (training), missing last
    defaults: list[int]
    coefficient: float = 0.0     # β_f ≥ 0 within the component


@dataclass
class Scorecard:
    version: str
    trained_at: str
    weights: dict[str, float]
    factors: list[FactorBins]
    calibration: dict[str, float]            # a, b: ln(odds good) = a + b x
    scaling: dict[str, float]                # pdo, base_score, base_odds, factor, offset
    training_window: dict                    # applied_time from / to, outcomes, defaults
    validation: dict = field(default_factory=dict)      # out-of-time metrics
    reference: dict = field(default_factory=dict)       # development distributions for PSI
    component_range: dict[str, list[float]] = field(default_factory=dict)  # min/max L_k (for the 0-1 view)
    segments: dict[str, dict[str, float]] = field(default_factory=dict)  # {"thin_file": {"a", "b"}}; else calibration

    def as_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=False, default=str)

    @classmethod
    def from_dict(cls, data: dict) -> "Scorecard":
        data = dict(data)
        data["factors"] = [FactorBins(**f) for f in data["factors"]]
        return cls(**data)


# ----------------------------------------------------------------------------------------- scoring


THIN_FILE = "thin_file"


def thin_file_rows(factors: np.ndarray) -> np.ndarray:
    """True where neither transaction history nor loan history is present (only alternative data)."""
    tx = FACTOR_COMPONENT_INDEX == COMPONENTS.index("transaction_history")
    loans = FACTOR_COMPONENT_INDEX == COMPONENTS.index("loan_history")
    return np.isnan(factors[:, tx]).all(axis=1) & np.isnan(factors[:, loans]).all(axis=1)


def row_calibration(card: Scorecard, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of every row: its segment's calibration (thin file, or the card's main one)."""
    n = factors.shape[0]
    a = np.full(n, float(card.calibration["a"]))
    b = np.full(n, float(card.calibration["b"]))
    thin = card.segments.get(THIN_FILE)
    if thin:
        rows = thin_file_rows(factors)
        a[rows], b[rows] = float(thin["a"]), float(thin["b"])
    return a, b


def _factor_points(card: Scorecard, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points per factor: customers × factors, best attainable points: customers × factors, component log-odds)."""
    scale = card.scaling["factor"] * row_calibration(card, factors)[1]
    w = np.array([card.weights[c] for c in COMPONENTS])
    n = factors.shape[0]
    points = np.empty((n, len(FACTORS)))
    best = np.empty((n, len(FACTORS)))
    logodds = np.zeros((n, len(COMPONENTS)))
    by_code = {f.code: f for f in card.factors}
    for j, factor in enumerate(FACTORS):
        fb = by_code[factor.code]
        values = factors[:, j]
        woe_bins = np.asarray(fb.woe, dtype="float64")
        index = np.searchsorted(np.asarray(fb.splits, dtype="float64"), np.nan_to_num(values, nan=0.0), side="right")
        woe = np.where(np.isnan(values), fb.woe_missing, woe_bins[index])
        contribution = fb.coefficient * woe
        k = FACTOR_COMPONENT_INDEX[j]
        logodds[:, k] += contribution
        points[:, j] = scale * w[k] * contribution
        best[:, j] = scale * w[k] * fb.coefficient * max(float(woe_bins.max()), fb.woe_missing)
    return points, best, logodds


def raw_score(card: Scorecard, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unclipped score, points lost per factor vs its best bin, component log-odds)."""
    points, best, logodds = _factor_points(card, factors)
    s = card.scaling
    constant = s["offset"] + s["factor"] * row_calibration(card, factors)[0]
    score = constant + points.sum(axis=1)
    return score, best - points, logodds


def probability_of_default(card: Scorecard, score) -> np.ndarray:
    """PD implied by a score (the calibration, inverted through the scaling)."""
    s = card.scaling
    log_odds_good = (np.asarray(score, dtype="float64") - s["offset"]) / s["factor"]
    return 1.0 / (1.0 + np.exp(log_odds_good))


def component_view(card: Scorecard, logodds: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Each component's log-odds mapped to [0, 1] over its attainable range (NaN when the source is absent)."""
    out = np.full_like(logodds, np.nan)
    for k, name in enumerate(COMPONENTS):
        low, high = card.component_range.get(name, [0.0, 0.0])
        span = high - low
        out[:, k] = np.clip((logodds[:, k] - low) / span, 0.0, 1.0) if span > 0 else 1.0
    return np.where(present, out, np.nan)


# ----------------------------------------------------------------------------------------- fitting


def _woe(goods: np.ndarray, bads: np.ndarray) -> np.ndarray:
    g, b = goods + WOE_SMOOTHING, bads + WOE_SMOOTHING
    return np.log(g / g.sum()) - np.log(b / b.sum())


def _bin_factor(code: str, component: str, values: np.ndarray, bad: np.ndarray) -> FactorBins:
    from optbinning import OptimalBinning

    observed = ~np.isnan(values)
    splits: list[float] = []
    if observed.sum() >= 50 and bad[observed].any() and (~bad[observed]).any():
        binning = OptimalBinning(
            name=code, dtype="numerical", monotonic_trend="descending", min_bin_size=MIN_BIN_SHARE,
            max_pvalue=MAX_PVALUE, max_pvalue_policy="consecutive",
        )
        binning.fit(values[observed], bad[observed].astype(int))
        splits = [float(s) for s in binning.splits]
    index = np.searchsorted(np.asarray(splits), np.nan_to_num(values, nan=0.0), side="right")
    n_bins = len(splits) + 1
    counts = np.bincount(index[observed], minlength=n_bins)
    defaults = np.bincount(index[observed], weights=bad[observed].astype(float), minlength=n_bins)
    all_counts = np.append(counts, (~observed).sum())
    all_defaults = np.append(defaults, bad[~observed].sum())
    woe = _woe(all_counts - all_defaults, all_defaults)
    woe_bins = np.maximum.accumulate(woe[:-1])  # monotone by construction; guards the smoothing edge case
    missing = woe[-1] if (~observed).sum() > 0 else 0.0
    return FactorBins(code=code, component=component, splits=splits, woe=[round(float(v), 6) for v in woe_bins],
                      woe_missing=round(float(missing), 6), counts=[int(c) for c in all_counts],
                      defaults=[int(d) for d in all_defaults])


def _logistic(x: np.ndarray, y: np.ndarray, nonnegative, l2=1e-3) -> tuple[float, np.ndarray]:
    """Intercept and coefficients maximising the penalised likelihood.

    ``nonnegative``: one bool for every coefficient or one per column (coefficient ≥ 0 where True);
    ``l2``: one penalty or one per column.
    """
    from scipy.optimize import minimize

    n, p = x.shape
    nonnegative = np.broadcast_to(np.asarray(nonnegative, dtype=bool), (p,))
    l2 = np.broadcast_to(np.asarray(l2, dtype="float64"), (p,))

    def loss(theta):
        z = theta[0] + x @ theta[1:]
        # y = 1 is good: log-likelihood of ln(odds good) = z
        ll = y * z - np.logaddexp(0.0, z)
        grad_z = y - 1.0 / (1.0 + np.exp(-z))
        value = -ll.mean() + (l2 * theta[1:] ** 2).sum()
        grad = np.concatenate([[-grad_z.mean()], -(x.T @ grad_z) / n + 2 * l2 * theta[1:]])
        return value, grad

    bounds = [(None, None)] + [(0.0, None) if positive else (None, None) for positive in nonnegative]
    start = np.concatenate([[math.log(max(y.mean(), 1e-6) / max(1 - y.mean(), 1e-6))],
                            np.where(nonnegative, 0.5, 0.0)])
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return float(result.x[0]), result.x[1:]


def split_out_of_time(applied: pd.Series, fraction: float = OOT_FRACTION) -> np.ndarray:
    """True for the out-of-time rows: the latest vintages (months of ``applied_time``) holding ≈ fraction."""
    month = pd.to_datetime(applied).dt.to_period("M")
    months = np.sort(month.unique())
    counts = month.value_counts().reindex(months).to_numpy()
    tail = np.cumsum(counts[::-1])[::-1] / counts.sum()
    held = months[(tail <= fraction + 1e-12)] if len(months) > 1 else months[:0]
    if len(held) == 0 and len(months) > 1:
        held = months[-1:]
    return month.isin(held).to_numpy()


def fit_scorecard(outcomes: pd.DataFrame, config: ScoringConfig | None = None, *,
                  trained_at: dt.datetime | None = None, oot_fraction: float = OOT_FRACTION,
                  population: pd.DataFrame | None = None) -> Scorecard:
    """Fit on ``outcomes`` (credit.features columns + ``defaulted`` + ``applied_time``), earliest vintages.

    The latest vintages (``oot_fraction``) are held out: the returned card's ``validation`` holds their
    metrics, so it can be compared with the champion on the same out-of-time outcomes.
    ``population`` (credit.features of the whole portfolio at fit time) is the reference distribution
    the scoring runs' PSI compares with; the training sample when not given.
    """
    from fintech_dataops.lib.credit.validation import auc, ks

    config = (config or ScoringConfig()).validated()
    trained_at = trained_at or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    outcomes = outcomes[outcomes["defaulted"].notna()].reset_index(drop=True)
    oot = split_out_of_time(outcomes["applied_time"], oot_fraction)
    train = outcomes[~oot].reset_index(drop=True)
    bad = train["defaulted"].astype(bool).to_numpy()
    if bad.sum() < 20 or (~bad).sum() < 20:
        raise ValueError(f"too few outcomes to fit a scorecard: {int(bad.sum())} defaults, "
                         f"{int((~bad).sum())} non-defaults in the training vintages (need 20 of each)")
    factors = factor_matrix(train)
    bins = [_bin_factor(f.code, f.component, factors[:, j], bad) for j, f in enumerate(FACTORS)]
    good = (~bad).astype(float)
    # Component coefficients (β ≥ 0) on the WoE of the component's factors.
    woe = np.empty_like(factors)
    for j, fb in enumerate(bins):
        idx = np.searchsorted(np.asarray(fb.splits), np.nan_to_num(factors[:, j], nan=0.0), side="right")
        woe[:, j] = np.where(np.isnan(factors[:, j]), fb.woe_missing, np.asarray(fb.woe)[idx])
    for k, _ in enumerate(COMPONENTS):
        cols = np.flatnonzero(FACTOR_COMPONENT_INDEX == k)
        _, beta = _logistic(woe[:, cols], good, nonnegative=True)
        for j, b in zip(cols, beta):
            bins[j].coefficient = round(float(b), 6)
    weights = dict(zip(COMPONENTS, config.normalised_weights()))
    factor = PDO / math.log(2)
    scaling = {"pdo": PDO, "base_score": BASE_SCORE, "base_odds": BASE_ODDS, "factor": factor,
               "offset": BASE_SCORE - factor * math.log(BASE_ODDS)}
    card = Scorecard(
        version="", trained_at=trained_at.isoformat(), weights=weights, factors=bins,
        calibration={"a": 0.0, "b": 1.0}, scaling=scaling,
        training_window={
            "applied_from": str(pd.to_datetime(train["applied_time"]).min()),
            "applied_to": str(pd.to_datetime(train["applied_time"]).max()),
            "outcomes": int(len(train)), "defaults": int(bad.sum()),
        },
    )
    _, _, logodds = _factor_points(card, factors)
    x = logodds @ np.array([weights[c] for c in COMPONENTS])
    # Calibration: one intercept and slope per segment (thin file / the rest) when both have enough defaults.
    thin = thin_file_rows(factors).astype("float64")
    segmented = MIN_SEGMENT_DEFAULTS <= bad[thin == 1].sum() and MIN_SEGMENT_DEFAULTS <= bad[thin == 0].sum()
    design = np.column_stack([x * (1 - thin), x * thin, thin] if segmented else [x])
    a, coef = _logistic(design, good, nonnegative=[True, True, False][: design.shape[1]], l2=0.0)
    card.calibration = {"a": round(a, 6), "b": round(float(max(coef[0], 1e-6)), 6)}
    if segmented:
        card.segments = {THIN_FILE: {"a": round(a + float(coef[2]), 6), "b": round(float(max(coef[1], 1e-6)), 6)}}
    card.component_range = _component_ranges(card)
    reference_factors = factors if population is None else factor_matrix(population)
    ref_score, _, ref_logodds = raw_score(card, reference_factors)
    present = ~np.isnan(component_matrix(reference_factors)[0])
    ref_score = np.where(present.any(axis=1), np.clip(np.floor(ref_score + 0.5), SCORE_MIN, SCORE_MAX), np.nan)
    card.reference = reference_distribution(ref_score, component_view(card, ref_logodds, present))
    train_score, _, _ = raw_score(card, factors)
    test = outcomes[oot].reset_index(drop=True)
    test_bad = test["defaulted"].astype(bool).to_numpy()
    test_score = score_values(card, test)
    card.validation = {
        "out_of_time": {
            "applied_from": str(pd.to_datetime(test["applied_time"]).min()) if len(test) else None,
            "applied_to": str(pd.to_datetime(test["applied_time"]).max()) if len(test) else None,
            "outcomes": int(len(test)), "defaults": int(test_bad.sum()),
            "auc": _round(auc(test_score, test_bad)), "ks": _round(ks(test_score, test_bad)),
        },
        "in_sample": {"auc": _round(auc(np.clip(train_score, SCORE_MIN, SCORE_MAX), bad))},
    }
    if card.validation["out_of_time"]["auc"] is not None:
        card.validation["out_of_time"]["gini"] = round(2 * card.validation["out_of_time"]["auc"] - 1, 4)
    digest = hashlib.sha256(json.dumps(asdict(card), sort_keys=True, default=str).encode()).hexdigest()[:8]
    card.version = f"credit-scorecard-{trained_at:%Y%m%dT%H%M%S}-{digest}"
    return card


def _round(value, digits: int = 4):
    return None if value is None else round(float(value), digits)


def _component_ranges(card: Scorecard) -> dict[str, list[float]]:
    ranges: dict[str, list[float]] = {}
    for k, name in enumerate(COMPONENTS):
        low = high = 0.0
        for fb in card.factors:
            if fb.component != name:
                continue
            values = [*fb.woe, fb.woe_missing]
            low += fb.coefficient * min(values)
            high += fb.coefficient * max(values)
        ranges[name] = [round(low, 6), round(high, 6)]
    return ranges


def score_values(card: Scorecard | None, features: pd.DataFrame, config: ScoringConfig | None = None) -> np.ndarray:
    """Scores (float, 300–850) of feature rows under ``card`` (None = the hand-set v2.0 baseline)."""
    from fintech_dataops.lib.credit.scoring import score_portfolio

    if card is None:
        frame = features if "customer_id" in features else features.assign(customer_id="")
        return pd.to_numeric(score_portfolio(frame, config)["score"], errors="coerce").to_numpy(
            dtype="float64", na_value=SCORE_MIN)
    score, _, _ = raw_score(card, factor_matrix(features))
    return np.clip(np.floor(score + 0.5), SCORE_MIN, SCORE_MAX)


# ----------------------------------------------------------------------------------------- champion


def challenger_wins(challenger_auc: float | None, champion_auc: float | None,
                    min_gain: float = MIN_AUC_GAIN) -> bool:
    """Promotion rule: the challenger must be *better* on the same out-of-time outcomes (by ≥ min_gain)."""
    if challenger_auc is None:
        return False
    if champion_auc is None:
        return True
    return challenger_auc >= champion_auc + min_gain


def _card_path(models_dir: Path, version: str) -> Path:
    return Path(models_dir) / "credit" / f"{version}.json"


def save_scorecard(card: Scorecard, models_dir: Path) -> Path:
    from fintech_dataops.lib.ingestion.landing import write_atomic

    return write_atomic(_card_path(models_dir, card.version), card.as_json().encode("utf-8"))


def champion_pointer(models_dir: Path) -> dict:
    path = Path(models_dir) / "credit" / "champion.json"
    if not path.exists():
        return {"version": BASELINE_VERSION, "history": []}
    return json.loads(path.read_text(encoding="utf-8"))


def load_champion(models_dir: Path) -> Scorecard | None:
    """The promoted scorecard, or None while the hand-set v2.0 baseline is the champion."""
    version = champion_pointer(models_dir).get("version")
    if not version or version == BASELINE_VERSION:
        return None
    return Scorecard.from_dict(json.loads(_card_path(models_dir, version).read_text(encoding="utf-8")))


def promote(models_dir: Path, card: Scorecard, decision: dict) -> None:
    pointer = champion_pointer(models_dir)
    history = [*pointer.get("history", []), {**decision, "version": card.version}][-50:]
    from fintech_dataops.lib.ingestion.landing import write_atomic

    write_atomic(Path(models_dir) / "credit" / "champion.json",
                 json.dumps({"version": card.version, "promoted_at": decision.get("decided_at"),
                             "history": history}, indent=1, default=str).encode("utf-8"))


# ----------------------------------------------------------------------------------------- stability


SCORE_EDGES = np.arange(SCORE_MIN, SCORE_MAX + 1, 50, dtype="float64")[1:-1]   # 350, 400, … 800
COMPONENT_EDGES = np.linspace(0.1, 0.9, 9)


def _shares(values: np.ndarray, edges: np.ndarray) -> list[float]:
    values = np.asarray(values, dtype="float64")
    observed = ~np.isnan(values)
    counts = np.bincount(np.searchsorted(edges, values[observed], side="right"), minlength=len(edges) + 1)
    counts = np.append(counts, (~observed).sum())  # last: missing
    return [round(float(c) / max(len(values), 1), 6) for c in counts]


def reference_distribution(score: np.ndarray, components: np.ndarray) -> dict:
    """Shares of the development sample per score bin and per component bin (missing last)."""
    return {
        "score": _shares(score, SCORE_EDGES),
        **{name: _shares(components[:, k], COMPONENT_EDGES) for k, name in enumerate(COMPONENTS)},
    }


def psi(expected: list[float] | np.ndarray, actual: list[float] | np.ndarray, floor: float = 1e-4) -> float:
    """Population stability index Σ (a − e) · ln(a / e), shares floored so an empty bin is finite."""
    e = np.maximum(np.asarray(expected, dtype="float64"), floor)
    a = np.maximum(np.asarray(actual, dtype="float64"), floor)
    return float(((a - e) * np.log(a / e)).sum())


def psi_severity(value: float) -> str:
    """``ok`` below 0.10, ``warn`` from 0.10, ``error`` from 0.25 (the usual PSI reading)."""
    if value >= PSI_ERROR:
        return "error"
    if value >= PSI_WARN:
        return "warn"
    return "ok"


def stability(card: Scorecard, scores: pd.DataFrame) -> dict[str, float]:
    """PSI of the score and of each component of a scoring run against the card's development sample."""
    score = pd.to_numeric(scores["score"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    current = reference_distribution(score, np.column_stack([
        pd.to_numeric(scores[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan) for c in COMPONENTS
    ]))
    return {name: round(psi(card.reference[name], current[name]), 4) for name in current if name in card.reference}


def training_frame(con) -> pd.DataFrame:
    """Matured outcomes (latest per application, with ``applied_time``) joined to the applicant's features."""
    from fintech_dataops.lib.warehouse import table_exists

    if not (table_exists(con, "core.loan_outcomes") and table_exists(con, "credit.features")):
        return pd.DataFrame(columns=["application_id", "defaulted", "applied_time"])
    columns = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' "
        "AND table_name = 'loan_outcomes'").fetchall()}
    if "applied_time" not in columns:
        return pd.DataFrame(columns=["application_id", "defaulted", "applied_time"])
    return con.execute("""
        WITH o AS (
            SELECT application_id, customer_id, defaulted, applied_time FROM core.loan_outcomes
            WHERE application_id IS NOT NULL AND defaulted IS NOT NULL AND applied_time IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY application_id ORDER BY observed_time DESC NULLS LAST) = 1
        )
        SELECT o.application_id, o.defaulted, o.applied_time, f.*
        FROM o JOIN credit.features f USING (customer_id)
        ORDER BY o.applied_time, o.application_id
    """).df()


def champion_vs_challenger(challenger: Scorecard, champion: Scorecard | None, outcomes: pd.DataFrame,
                           config: ScoringConfig | None = None, decided_at: dt.datetime | None = None) -> dict:
    """Both scored on the challenger's out-of-time outcomes; the decision and its figures."""
    from fintech_dataops.lib.credit.validation import auc

    outcomes = outcomes[outcomes["defaulted"].notna()].reset_index(drop=True)
    oot = outcomes[split_out_of_time(outcomes["applied_time"])].reset_index(drop=True)
    y = oot["defaulted"].astype(bool).to_numpy()
    challenger_auc = auc(score_values(challenger, oot, config), y) if len(oot) else None
    champion_auc = auc(score_values(champion, oot, config), y) if len(oot) else None
    promoted = challenger_wins(challenger_auc, champion_auc)
    return {
        "decided_at": str(decided_at or dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)),
        "challenger": challenger.version,
        "champion": champion.version if champion is not None else BASELINE_VERSION,
        "out_of_time_outcomes": int(len(oot)), "out_of_time_defaults": int(y.sum()),
        "challenger_auc": _round(challenger_auc), "champion_auc": _round(champion_auc),
        "min_gain": MIN_AUC_GAIN, "promoted": promoted,
    }


def bins_markdown(card: Scorecard) -> str:
    """The bins, WoE, coefficients and points of every factor (for the asset's metadata)."""
    scale = card.scaling["factor"] * card.calibration["b"]
    lines = ["| factor | bin | applications | defaults | WoE | β | points |", "|---|---|---|---|---|---|---|"]
    for fb in card.factors:
        edges = [-math.inf, *fb.splits, math.inf]
        w = card.weights[fb.component]
        for i, woe in enumerate(fb.woe):
            label = f"[{edges[i]:.3g}, {edges[i + 1]:.3g})"
            lines.append(f"| {fb.code} | {label} | {fb.counts[i]} | {fb.defaults[i]} | {woe:.3f} | "
                         f"{fb.coefficient:.3f} | {scale * w * fb.coefficient * woe:.1f} |")
        lines.append(f"| {fb.code} | missing | {fb.counts[-1]} | {fb.defaults[-1]} | {fb.woe_missing:.3f} | "
                     f"{fb.coefficient:.3f} | {scale * w * fb.coefficient * fb.woe_missing:.1f} |")
    return "\n".join(lines)


STABILITY_TABLE = "credit.stability"


def record_stability(con, card: Scorecard | None, scores: pd.DataFrame, scored_at: dt.datetime) -> dict[str, float]:
    """Append this scoring run's PSI per variable to ``credit.stability`` (a rerun at the same time replaces it).

    ``card`` None (the hand-set baseline: no development sample) only makes sure the table exists.
    """
    from fintech_dataops.lib.warehouse import transaction

    values = stability(card, scores) if card is not None else {}
    frame = pd.DataFrame({"scored_at": pd.Series([scored_at] * len(values), dtype="datetime64[us]"),
                          "model_version": [card.version if card else ""] * len(values), "variable": list(values),
                          "psi": pd.Series(list(values.values()), dtype="float64"),
                          "severity": [psi_severity(v) for v in values.values()]})
    con.execute("CREATE SCHEMA IF NOT EXISTS credit")
    con.execute(f"CREATE TABLE IF NOT EXISTS {STABILITY_TABLE} (scored_at TIMESTAMP, model_version VARCHAR, "
                "variable VARCHAR, psi DOUBLE, severity VARCHAR)")
    con.register("credit_stability_frame", frame)
    try:
        with transaction(con):
            con.execute(f"DELETE FROM {STABILITY_TABLE} WHERE scored_at = ?", [scored_at])
            con.execute(f"INSERT INTO {STABILITY_TABLE} SELECT * FROM credit_stability_frame")
    finally:
        con.unregister("credit_stability_frame")
    return values
