"""How well the score separates defaulters: AUC, Gini, KS, default rate by band.

The outcome is ``loan_outcomes.defaulted`` joined to the applicant's score.
A *higher* score means *lower* risk, so AUC is P(score of a random
non-defaulter > score of a random defaulter) (ties count one half); Gini =
2·AUC − 1; KS = the largest gap between the score distributions of
defaulters and non-defaulters. Components are assessed on the customers
where they are present (their coverage is reported). Plain numpy: no
scikit-learn import on this path.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from fintech_dataops.lib.credit.config import COMPONENTS, ScoringConfig
from fintech_dataops.lib.warehouse import table_exists


def outcomes_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Each application's latest outcome with the applicant's score and components."""
    source = (
        "SELECT application_id, customer_id, defaulted, observed_time FROM core.loan_outcomes"
        if table_exists(con, "core.loan_outcomes") else
        "SELECT NULL::VARCHAR AS application_id, NULL::VARCHAR AS customer_id, NULL::BOOLEAN AS defaulted, "
        "NULL::TIMESTAMP AS observed_time WHERE false"
    )
    components = ", ".join(f"s.{c}" for c in COMPONENTS)
    return f"""
        SELECT o.application_id, o.customer_id, o.defaulted, s.score, s.band, {components}
        FROM ({source}) o LEFT JOIN credit.scores s USING (customer_id)
        WHERE o.application_id IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY o.application_id ORDER BY o.observed_time DESC NULLS LAST) = 1
    """


def auc(score: np.ndarray, defaulted: np.ndarray) -> float | None:
    score = np.asarray(score, dtype="float64")
    bad = np.asarray(defaulted, dtype=bool)
    n_bad, n_good = int(bad.sum()), int((~bad).sum())
    if n_bad == 0 or n_good == 0:
        return None
    ranks = pd.Series(score).rank(method="average").to_numpy()
    # Mann-Whitney: rank sum of the good (high-score) class.
    u_good = ranks[~bad].sum() - n_good * (n_good + 1) / 2
    return float(u_good / (n_bad * n_good))


def ks(score: np.ndarray, defaulted: np.ndarray) -> float | None:
    score = np.asarray(score, dtype="float64")
    bad = np.asarray(defaulted, dtype=bool)
    if bad.all() or not bad.any():
        return None
    thresholds = np.unique(score)
    cdf_bad = np.searchsorted(np.sort(score[bad]), thresholds, side="right") / bad.sum()
    cdf_good = np.searchsorted(np.sort(score[~bad]), thresholds, side="right") / (~bad).sum()
    return float(np.max(np.abs(cdf_bad - cdf_good)))


def roc_points(score: np.ndarray, defaulted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rate, true-positive rate) with defaulters as positives, low score first."""
    score = np.asarray(score, dtype="float64")
    bad = np.asarray(defaulted, dtype=bool)
    order = np.argsort(score, kind="stable")
    tpr = np.concatenate([[0.0], np.cumsum(bad[order]) / max(bad.sum(), 1)])
    fpr = np.concatenate([[0.0], np.cumsum(~bad[order]) / max((~bad).sum(), 1)])
    return fpr, tpr


def _metrics(score: np.ndarray, defaulted: np.ndarray) -> dict:
    a = auc(score, defaulted)
    return {
        "n": int(len(score)), "defaults": int(np.sum(defaulted)),
        "auc": None if a is None else round(a, 4),
        "gini": None if a is None else round(2 * a - 1, 4),
        "ks": None if (k := ks(score, defaulted)) is None else round(k, 4),
    }


@dataclass
class ValidationReport:
    score: dict
    components: dict[str, dict]
    by_band: pd.DataFrame
    unscored_outcomes: int
    roc: tuple[np.ndarray, np.ndarray] = field(repr=False)

    def as_dict(self) -> dict:
        return {
            "score": self.score, "components": self.components, "unscored_outcomes": self.unscored_outcomes,
            "by_band": self.by_band.to_dict(orient="records"),
        }


def validate(outcomes: pd.DataFrame, config: ScoringConfig | None = None) -> ValidationReport:
    """``outcomes``: one row per outcome with ``defaulted``, ``score``, ``band`` and the component columns."""
    config = config or ScoringConfig()
    known = outcomes[outcomes["defaulted"].notna()]
    defaulted = known["defaulted"].astype(bool).to_numpy()
    score = pd.to_numeric(known["score"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    scored = ~np.isnan(score)
    components = {}
    for name in COMPONENTS:
        values = pd.to_numeric(known[name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        present = ~np.isnan(values)
        components[name] = {**_metrics(values[present], defaulted[present]),
                            "coverage": round(float(present.mean()), 4) if len(present) else 0.0}
    band_order = [name for _, name in config.bands]
    by_band = (
        pd.DataFrame({"band": known["band"].fillna("no_score").to_numpy(), "defaulted": defaulted})
        .groupby("band", sort=False)["defaulted"].agg(applications="size", defaults="sum").reset_index()
    )
    by_band["default_rate"] = (by_band["defaults"] / by_band["applications"]).round(4)
    rank = {name: i for i, name in enumerate(band_order)}
    by_band = by_band.sort_values("band", key=lambda s: s.map(rank).fillna(len(rank))).reset_index(drop=True)
    return ValidationReport(
        score=_metrics(score[scored], defaulted[scored]), components=components, by_band=by_band,
        unscored_outcomes=int((~scored).sum()), roc=roc_points(score[scored], defaulted[scored]),
    )


def validation_rows(report: ValidationReport, validated_at: dt.datetime) -> pd.DataFrame:
    """The ``credit.validation`` table: one row per model (score, components) and per band."""
    rows = [{"kind": "model", "name": "score", **report.score, "coverage": 1.0, "default_rate": None}]
    rows += [{"kind": "model", "name": name, **m, "default_rate": None} for name, m in report.components.items()]
    rows += [{"kind": "band", "name": r.band, "n": int(r.applications), "defaults": int(r.defaults), "auc": None,
              "gini": None, "ks": None, "coverage": None, "default_rate": float(r.default_rate)}
             for r in report.by_band.itertuples()]
    frame = pd.DataFrame(rows, columns=["kind", "name", "n", "defaults", "auc", "gini", "ks", "coverage",
                                        "default_rate"])
    for column in ("auc", "gini", "ks", "coverage", "default_rate"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    frame["validated_at"] = validated_at
    return frame


def markdown_report(report: ValidationReport) -> str:
    def fmt(v):
        return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| model | n | defaults | AUC | Gini | KS | coverage |", "|---|---|---|---|---|---|---|"]
    s = report.score
    lines.append(f"| **score** | {s['n']} | {s['defaults']} | {fmt(s['auc'])} | {fmt(s['gini'])} | {fmt(s['ks'])} | – |")
    for name, m in report.components.items():
        lines.append(f"| {name} | {m['n']} | {m['defaults']} | {fmt(m['auc'])} | {fmt(m['gini'])} | "
                     f"{fmt(m['ks'])} | {fmt(m['coverage'])} |")
    lines += ["", "| band | applications | defaults | default rate |", "|---|---|---|---|"]
    for row in report.by_band.itertuples():
        lines.append(f"| {row.band} | {row.applications} | {row.defaults} | {row.default_rate:.1%} |")
    return "\n".join(lines)


def roc_svg(report: ValidationReport, size: int = 240) -> str:
    """A small self-contained SVG of the ROC curve (defaulters caught vs good customers flagged)."""
    fpr, tpr = report.roc
    if len(fpr) > 400:  # keep the markup small: sample the curve
        idx = np.unique(np.linspace(0, len(fpr) - 1, 400).astype(int))
        fpr, tpr = fpr[idx], tpr[idx]
    pad = 24
    inner = size - 2 * pad
    points = " ".join(f"{pad + x * inner:.1f},{pad + (1 - y) * inner:.1f}" for x, y in zip(fpr, tpr))
    a = report.score.get("auc")
    title = f"ROC of the score, AUC {a:.3f}" if a is not None else "ROC of the score"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" font-family="sans-serif" font-size="10">'
        f'<rect x="{pad}" y="{pad}" width="{inner}" height="{inner}" fill="white" stroke="#999"/>'
        f'<line x1="{pad}" y1="{pad + inner}" x2="{pad + inner}" y2="{pad}" stroke="#ccc" stroke-dasharray="4"/>'
        f'<polyline points="{points}" fill="none" stroke="#1f77b4" stroke-width="2"/>'
        f'<text x="{pad}" y="14">{title}</text>'
        f'<text x="{pad}" y="{size - 6}">false-positive rate (good customers flagged)</text></svg>'
    )


def svg_markdown_image(svg: str, alt: str = "ROC curve") -> str:
    return f"![{alt}](data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()})"


def plotly_html(report: ValidationReport) -> str:
    """An interactive HTML report (ROC + default rate by band); plotly is imported only here."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fpr, tpr = report.roc
    figure = make_subplots(rows=1, cols=2, subplot_titles=("ROC of the credit score", "Default rate by band"))
    figure.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=f"score (AUC {report.score.get('auc')})"), 1, 1)
    figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash"}, name="random"), 1, 1)
    figure.add_trace(go.Bar(x=report.by_band["band"], y=report.by_band["default_rate"], name="default rate"), 1, 2)
    figure.update_layout(height=420, width=900, title="Credit score validation against loan outcomes")
    return figure.to_html(include_plotlyjs=True, full_html=True)
