"""One customer's score, read from the warehouse (the ``credit score`` command).

The stored score (``credit.scores``) is what decisions used; ``explain``
recomputes the same formulas from the stored features (``credit.features``)
to show how each component and factor was obtained, and ``live_score``
scores the customer from the core tables right now (same code as the
portfolio run, restricted to one customer).

The stored lookup imports only duckdb (numpy and pandas are imported by
``explain_features`` / ``live_score`` when asked for): it is the path that
has to answer in milliseconds after a cold start.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import duckdb

from fintech_dataops.lib.credit.config import COMPONENTS, SCORE_MAX, SCORE_MIN, ScoringConfig
from fintech_dataops.lib.warehouse import table_exists

if TYPE_CHECKING:
    import pandas as pd


def _plain(value):
    """JSON-friendly value: NaN/NA → None, numpy scalars → Python, times → ISO text."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy scalar or array
        return _plain(value.tolist())
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, (dt.datetime, dt.date)):
        return None if str(value) == "NaT" else value.isoformat()
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    return value


def stored_score(con: duckdb.DuckDBPyConnection, customer_id: str) -> dict | None:
    if not table_exists(con, "credit.scores"):
        raise LookupError("no credit.scores table yet: materialize credit/scores first")
    cursor = con.execute("SELECT * FROM credit.scores WHERE customer_id = ?", [customer_id])
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    if not rows:
        return None
    record = dict(zip(names, rows[0]))
    return {
        "customer_id": record["customer_id"], "score": record["score"], "band": record["band"],
        "confidence": record["confidence"], "evidence": _plain(record["evidence"]),
        "scorable_traditional": record["scorable_traditional"], "scorable_enhanced": record["scorable_enhanced"],
        "components": {c: _plain(record[c]) for c in COMPONENTS},
        "reasons": _plain(record["reasons"]), "model_version": record["model_version"],
        "as_of": _plain(record["as_of"]), "scored_at": _plain(record["scored_at"]),
        "source": "credit.scores",
    }


def explain_features(features: pd.DataFrame, config: ScoringConfig | None = None, scorecard=None) -> dict:
    """How each component and factor of the first row of ``features`` was computed.

    With a fitted ``scorecard`` (the champion): each factor's value, bin, WoE, points and points lost
    against its best bin; without, the hand-set v2.0 formulas.
    """
    import numpy as np

    if scorecard is not None:
        return _explain_scorecard(features, scorecard)

    from fintech_dataops.lib.credit.components import FACTORS, component_confidence, component_matrix, factor_matrix
    from fintech_dataops.lib.credit.scoring import weighted_score

    config = (config or ScoringConfig()).validated()
    row = features.iloc[[0]].reset_index(drop=True)
    factors = factor_matrix(row)
    components, factor_share = component_matrix(factors)
    raw, component_share = weighted_score(components, config.normalised_weights())
    confidence = component_confidence(row, components)
    weights = config.normalised_weights()
    out = {}
    for c, name in enumerate(COMPONENTS):
        present = not np.isnan(components[0, c])
        detail = {
            "present": present, "value": _plain(components[0, c]), "weight": round(weights[c], 4),
            "effective_weight": round(float(component_share[0, c]), 4),
            "confidence": round(float(confidence[0, c]), 4),
            "points_lost": round(float((SCORE_MAX - SCORE_MIN) * component_share[0, c]
                                       * (1 - np.nan_to_num(components[0, c], nan=1.0))), 2),
            "factors": [],
        }
        if not present:
            detail["note"] = "no data from this source: its weight is shared by the present components"
        for j, factor in enumerate(FACTORS):
            if factor.component != name:
                continue
            value = factors[0, j]
            detail["factors"].append({
                "code": factor.code, "formula": factor.formula,
                "inputs": {k: _plain(row.at[0, k]) for k in factor.inputs if k in row},
                "value": _plain(value), "weight_in_component": factor.weight,
                "points_lost": round(float((SCORE_MAX - SCORE_MIN) * component_share[0, c] * factor_share[0, j]
                                           * (1 - np.nan_to_num(value, nan=1.0))), 2),
            })
        out[name] = detail
    return {
        "formula": "score = round(300 + 550 × Σ effective_weight × component); effective weights are the "
                   "configured weights re-normalised over the present components",
        "unrounded_score": _plain(raw[0]),
        "as_of": _plain(row.at[0, "as_of"]) if "as_of" in row else None,
        "components": out,
    }


def _explain_scorecard(features: pd.DataFrame, card) -> dict:
    import numpy as np

    from fintech_dataops.lib.credit.components import FACTORS, factor_matrix
    from fintech_dataops.lib.credit.scorecard import THIN_FILE, _factor_points, raw_score, row_calibration, thin_file_rows

    row = features.iloc[[0]].reset_index(drop=True)
    factors = factor_matrix(row)
    score, lost, logodds = raw_score(card, factors)
    points, _, _ = _factor_points(card, factors)
    bins = {fb.code: fb for fb in card.factors}
    out = {}
    for c, name in enumerate(COMPONENTS):
        detail = {"weight": round(card.weights[name], 4), "log_odds": round(float(logodds[0, c]), 4), "factors": []}
        for j, factor in enumerate(FACTORS):
            if factor.component != name:
                continue
            fb, value = bins[factor.code], factors[0, j]
            if np.isnan(value):
                label, woe = "missing", fb.woe_missing
            else:
                i = int(np.searchsorted(np.asarray(fb.splits), value, side="right"))
                edges = [-math.inf, *fb.splits, math.inf]
                label, woe = f"[{edges[i]:.4g}, {edges[i + 1]:.4g})", fb.woe[i]
            detail["factors"].append({
                "code": factor.code, "formula": factor.formula,
                "inputs": {k: _plain(row.at[0, k]) for k in factor.inputs if k in row},
                "value": _plain(value), "bin": label, "woe": round(float(woe), 4), "coefficient": fb.coefficient,
                "points": round(float(points[0, j]), 2), "points_lost": round(float(lost[0, j]), 2),
            })
        out[name] = detail
    s = card.scaling
    (a,), (b,) = row_calibration(card, factors)
    segment = THIN_FILE if card.segments.get(THIN_FILE) and thin_file_rows(factors)[0] else "main"
    return {
        "formula": "score = round(offset + factor × (a + b × Σ_k weight_k × Σ_f β_f × WoE_f)), clipped to 300-850; "
                   f"factor = PDO / ln 2 = {s['factor']:.3f} (PDO {s['pdo']:g}), offset = {s['offset']:.3f}, "
                   f"a = {a:g}, b = {b:g} (calibration segment: {segment})",
        "segment": segment,
        "model_version": card.version, "unrounded_score": _plain(score[0]),
        "as_of": _plain(row.at[0, "as_of"]) if "as_of" in row else None,
        "components": out,
    }


def stored_features(con: duckdb.DuckDBPyConnection, customer_id: str) -> pd.DataFrame | None:
    if not table_exists(con, "credit.features"):
        return None
    return con.execute("SELECT * FROM credit.features WHERE customer_id = ?", [customer_id]).df()


def live_score(con: duckdb.DuckDBPyConnection, customer_id: str, config: ScoringConfig | None = None,
               as_of: dt.datetime | None = None, scorecard=None) -> tuple[dict | None, pd.DataFrame]:
    """Score one customer from the core tables now (the portfolio code on a one-customer spine,
    with the champion ``scorecard`` when one is promoted)."""
    from fintech_dataops.lib.credit.features import build_features
    from fintech_dataops.lib.credit.scoring import score_portfolio

    features = build_features(con, customer_id=customer_id, as_of=as_of)
    if features.empty:
        return None, features
    scored = score_portfolio(features, config, scorecard=scorecard).iloc[0]
    reasons = []
    for i in range(1, (config or ScoringConfig()).max_reasons + 1):
        code = scored.get(f"reason_{i}")
        if code is not None and not (isinstance(code, float) and math.isnan(code)):
            reasons.append({"code": code, "text": scored[f"reason_text_{i}"],
                            "points_lost": _plain(scored[f"reason_points_{i}"])})
    return {
        "customer_id": customer_id, "score": _plain(scored["score"]), "band": scored["band"],
        "confidence": scored["confidence"], "evidence": _plain(scored["evidence"]),
        "scorable_traditional": bool(scored["scorable_traditional"]),
        "scorable_enhanced": bool(scored["scorable_enhanced"]),
        "components": {c: _plain(scored[c]) for c in COMPONENTS}, "reasons": reasons,
        "model_version": scored["model_version"], "as_of": _plain(scored["as_of"]), "source": "live (core tables)",
    }, features
