"""Score = 300 + 550 × (weighted mean of the *present* components), as an integer.

- **Missing is not zero**: a component without data drops out and its weight
  is shared by the present ones (the weights are re-normalised per customer).
  ``evidence`` (0–1) records how much of the full weight is backed by data:
  Σ weight × confidence over present components (see
  :func:`components.component_confidence`); ``confidence`` is its label.
- **Scorability** (documented rules, config in :class:`ScoringConfig`):
  *traditional* = ≥ 182 days with the platform and ≥ 10 transactions, or a
  partner loan opened ≥ 182 days ago; *enhanced* = traditional, or ≥ 2
  present components with evidence ≥ 0.15 — which academic, utility and
  telco records can provide for a thin-file customer.
- **Reason codes**: each factor's points lost against its best value (1.0)
  = 550 × component weight share × factor weight share × (1 − value); the
  top ``max_reasons`` (≥ ``min_reason_points``) ranked by points lost, ties in
  the fixed factor order, so the same data always gives the same codes.

Everything is array arithmetic over the whole portfolio: one customer's odd
data can only change that customer's row.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from fintech_dataops.lib.credit.components import (
    FACTOR_COMPONENT_INDEX, FACTORS, as_float, component_confidence, component_matrix, factor_matrix,
    feature_columns, fill_nan,
)
from fintech_dataops.lib.credit.config import COMPONENTS, NO_SCORE_BAND, SCORE_MAX, SCORE_MIN, ScoringConfig

SCORE_RANGE = SCORE_MAX - SCORE_MIN
REASON_CODES = [f.code for f in FACTORS]
REASON_TEXTS = [f.reason for f in FACTORS]
# A fitted scorecard can cost points for a *missing* source (its missing bin): the reason then says so.
REASON_TEXTS_NO_DATA = [f"{f.reason}: no data from this source" for f in FACTORS]
CONFIDENCE_LABELS = ["none", "low", "medium", "high"]


def weighted_score(components: np.ndarray, weights: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(score as float in [300, 850] or NaN when nothing is present, per-component weight share)."""
    present = ~np.isnan(components)
    w = np.where(present, np.asarray(weights), 0.0)
    total = w.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, w / total, 0.0)
    mean = (fill_nan(components, 0.0) * share).sum(axis=1)
    score = np.where(total[:, 0] > 0, SCORE_MIN + SCORE_RANGE * np.clip(mean, 0.0, 1.0), np.nan)
    return score, share


def to_points(score: np.ndarray) -> pd.array:
    """Round half up to an integer in [300, 850]; NaN stays missing."""
    rounded = np.floor(score + 0.5)
    return pd.array(np.clip(rounded, SCORE_MIN, SCORE_MAX), dtype="Int64")


def bands_of(points: pd.array, config: ScoringConfig) -> pd.Categorical:
    """Band per score (a categorical: cheap for a million rows); missing score → ``no_score``."""
    lows = np.array([low for low, _ in config.bands])
    names = [name for _, name in config.bands] + [NO_SCORE_BAND]
    values = as_float(points)
    index = np.clip(np.searchsorted(lows, np.nan_to_num(values, nan=SCORE_MIN), side="right") - 1, 0, len(lows) - 1)
    return pd.Categorical.from_codes(np.where(np.isnan(values), len(names) - 1, index), categories=names)


def confidence_label(evidence: np.ndarray) -> pd.Categorical:
    codes = np.select([evidence >= 0.6, evidence >= 0.3, evidence > 0], [3, 2, 1], 0)
    return pd.Categorical.from_codes(codes, categories=CONFIDENCE_LABELS)


def scorability(features: pd.DataFrame, sources: np.ndarray, evidence: np.ndarray,
                config: ScoringConfig) -> tuple[np.ndarray, np.ndarray]:
    tenure = fill_nan(as_float(features["tenure_days"]), 0.0)
    tx = fill_nan(as_float(features["tx_count"]), 0.0)
    loan_days = fill_nan(as_float(features["loan_history_days"]), 0.0)
    loan_reports = fill_nan(as_float(features["loan_reports"]), 0.0)
    traditional = (
        (tenure >= config.traditional_min_history_days) & (tx >= config.traditional_min_transactions)
    ) | ((loan_reports > 0) & (loan_days >= config.traditional_min_history_days))
    enhanced = traditional | (
        (sources >= config.enhanced_min_sources) & (evidence >= config.enhanced_min_evidence - 1e-12)
    )
    return traditional, enhanced & (sources > 0)


def reason_slots(factors: np.ndarray, factor_share: np.ndarray, component_share: np.ndarray,
                 config: ScoringConfig, lost: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top reasons per customer: (factor index or -1, points lost or NaN), each customers × max_reasons.

    ``lost`` (customers × factors) overrides the v2.0 points lost (a fitted scorecard's, vs its best bins).
    """
    if lost is None:
        # Points lost per factor, computed factor-major (long contiguous rows), then one
        # customers × factors copy for the per-customer ranking.
        shortfall = 1.0 - fill_nan(factors.T, 1.0)
        lost_by_factor = SCORE_RANGE * component_share.T[FACTOR_COMPONENT_INDEX] * factor_share.T * shortfall
        lost = np.ascontiguousarray(np.round(lost_by_factor, 2).T)
    else:
        lost = np.ascontiguousarray(np.round(lost, 2))
    k = min(config.max_reasons, len(FACTORS))
    rows = np.arange(lost.shape[0])
    order = np.empty((lost.shape[0], k), dtype=np.int64)
    top = np.empty((lost.shape[0], k))
    for i in range(k):  # k argmax passes beat a full sort; argmax takes the first (lowest) factor on ties
        best = np.argmax(lost, axis=1) if lost.shape[0] else np.zeros(0, dtype=np.int64)
        order[:, i], top[:, i] = best, lost[rows, best]
        lost[rows, best] = -np.inf
    keep = top >= config.min_reason_points
    return np.where(keep, order, -1), np.where(keep, top, np.nan)


# Rows scored at a time: keeps the customers × factors temporaries small (cache-friendly,
# no page-fault storm on a million rows) without changing any result.
CHUNK_ROWS = 65_536


def _score_chunk(columns: dict[str, np.ndarray], config: ScoringConfig, card=None) -> dict[str, np.ndarray]:
    weights = config.normalised_weights()
    factors = factor_matrix(columns=columns)
    components, factor_share = component_matrix(factors)
    raw_score, component_share = weighted_score(components, weights)
    confidence = component_confidence(None, components, columns=columns)
    lost = None
    if card is not None:  # the fitted scorecard (lib/credit/scorecard.py): same factors, fitted bins
        from fintech_dataops.lib.credit.scorecard import component_view, raw_score as card_score

        fitted, lost, logodds = card_score(card, factors)
        present = ~np.isnan(components)
        raw_score = np.where(present.any(axis=1), fitted, np.nan)
        components = component_view(card, logodds, present)
    codes, points = reason_slots(factors, factor_share, component_share, config, lost)
    return {
        "raw_score": raw_score, "components": components,
        "evidence": np.round(confidence @ np.asarray(weights), 4),
        "sources": (~np.isnan(components)).sum(axis=1).astype("int64"),
        "reason_codes": codes, "reason_points": points,
        "reason_no_data": np.isnan(factors[np.arange(len(codes))[:, None], np.maximum(codes, 0)]) & (codes >= 0),
    }


def score_portfolio(features: pd.DataFrame, config: ScoringConfig | None = None, scorecard=None) -> pd.DataFrame:
    """One row per customer of ``features``: score, band, components, evidence, scorability, reasons.

    ``scorecard``: a fitted :class:`~fintech_dataops.lib.credit.scorecard.Scorecard` (the champion);
    None scores with the hand-set v2.0 formulas (the baseline). Either way a customer with no data
    in any source gets no score.
    """
    config = (config or ScoringConfig()).validated()
    if scorecard is not None:
        from dataclasses import replace

        config = replace(config, model_version=scorecard.version)
    columns = feature_columns(features)
    n = len(features)
    parts = [
        _score_chunk({name: values[start:start + CHUNK_ROWS] for name, values in columns.items()}, config, scorecard)
        for start in range(0, max(n, 1), CHUNK_ROWS)
    ]
    merged = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    points = to_points(merged["raw_score"])
    evidence, sources = merged["evidence"], merged["sources"]
    traditional, enhanced = scorability(features, sources, evidence, config)
    data = {"customer_id": features["customer_id"].to_numpy(), "score": points, "band": bands_of(points, config)}
    for c, name in enumerate(COMPONENTS):
        data[name] = np.round(merged["components"][:, c], 4)
    data.update({
        "sources": sources, "evidence": evidence, "confidence": confidence_label(evidence),
        "scorable_traditional": traditional, "scorable_enhanced": enhanced,
    })
    for i in range(merged["reason_codes"].shape[1]):
        codes = merged["reason_codes"][:, i]
        data[f"reason_{i + 1}"] = pd.Categorical.from_codes(codes, categories=REASON_CODES)
        text_codes = np.where(merged["reason_no_data"][:, i], codes + len(REASON_TEXTS), codes)
        data[f"reason_text_{i + 1}"] = pd.Categorical.from_codes(text_codes,
                                                                 categories=REASON_TEXTS + REASON_TEXTS_NO_DATA)
        data[f"reason_points_{i + 1}"] = merged["reason_points"][:, i]
    data["model_version"] = pd.Categorical.from_codes(np.zeros(n, dtype="int8"), categories=[config.model_version])
    data["as_of"] = features["as_of"].to_numpy() if "as_of" in features else pd.NaT
    return pd.DataFrame(data, index=pd.RangeIndex(n))


def scores_select(frame: str, scored_at: dt.datetime, max_reasons: int = 4) -> tuple[str, list]:
    """SQL turning a registered :func:`score_portfolio` frame into the ``credit.scores`` table."""
    reasons = ", ".join(
        f"struct_pack(code := reason_{i}::VARCHAR, text := reason_text_{i}::VARCHAR, "
        f"points_lost := reason_points_{i}::DOUBLE)"
        for i in range(1, max_reasons + 1)
    )
    reasons_sql = (f"list_filter([{reasons}], lambda r: r.code IS NOT NULL)" if max_reasons
                   else "[]::STRUCT(code VARCHAR, text VARCHAR, points_lost DOUBLE)[]")
    components = ", ".join(f"{c}::DOUBLE AS {c}" for c in COMPONENTS)
    sql = f"""
        SELECT customer_id::VARCHAR AS customer_id, score::INTEGER AS score, band::VARCHAR AS band,
               {components}, sources::INTEGER AS sources, evidence::DOUBLE AS evidence,
               confidence::VARCHAR AS confidence, {reasons_sql} AS reasons,
               scorable_traditional::BOOLEAN AS scorable_traditional,
               scorable_enhanced::BOOLEAN AS scorable_enhanced,
               model_version::VARCHAR AS model_version, as_of::TIMESTAMP AS as_of,
               ?::TIMESTAMP AS scored_at
        FROM {frame}
    """
    return sql, [scored_at]
