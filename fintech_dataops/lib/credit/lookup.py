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


def explain_features(features: pd.DataFrame, config: ScoringConfig | None = None) -> dict:
    """How each component and factor of the first row of ``features`` was computed."""
    import numpy as np

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


def stored_features(con: duckdb.DuckDBPyConnection, customer_id: str) -> pd.DataFrame | None:
    if not table_exists(con, "credit.features"):
        return None
    return con.execute("SELECT * FROM credit.features WHERE customer_id = ?", [customer_id]).df()


def live_score(con: duckdb.DuckDBPyConnection, customer_id: str, config: ScoringConfig | None = None,
               as_of: dt.datetime | None = None) -> tuple[dict | None, pd.DataFrame]:
    """Score one customer from the core tables now (the portfolio code on a one-customer spine)."""
    from fintech_dataops.lib.credit.features import build_features
    from fintech_dataops.lib.credit.scoring import score_portfolio

    features = build_features(con, customer_id=customer_id, as_of=as_of)
    if features.empty:
        return None, features
    scored = score_portfolio(features, config).iloc[0]
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
