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
    """P(a good applicant scores above a defaulter), ties half (``sklearn.metrics.roc_auc_score``)."""
    from sklearn.metrics import roc_auc_score

    score = np.asarray(score, dtype="float64")
    bad = np.asarray(defaulted, dtype=bool)
    if bad.all() or not bad.any():
        return None
    return float(roc_auc_score(~bad, score))


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


# ------------------------------------------------------------------ calibration, parity, vintages, oracle
# (the ``credit validate`` command and the credit/validation asset's checks)

Z_95 = 1.959964
MIN_BAND_OUTCOMES = 30          # bands with fewer outcomes are reported, not judged


def outcome_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every matured outcome (latest per application) with applied_time, the applicant's score, band,
    components and whether the applicant is thin-file (no card transactions and no partner loans)."""
    has_applied = table_exists(con, "core.loan_outcomes") and "applied_time" in {
        r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                  "WHERE table_schema = 'core' AND table_name = 'loan_outcomes'").fetchall()}
    source = (
        f"SELECT application_id, customer_id, defaulted, observed_time, "
        f"{'applied_time' if has_applied else 'NULL::TIMESTAMP AS applied_time'} FROM core.loan_outcomes"
        if table_exists(con, "core.loan_outcomes") else
        "SELECT NULL::VARCHAR AS application_id, NULL::VARCHAR AS customer_id, NULL::BOOLEAN AS defaulted, "
        "NULL::TIMESTAMP AS observed_time, NULL::TIMESTAMP AS applied_time WHERE false"
    )
    thin = ("coalesce(f.tx_count, 0) = 0 AND coalesce(f.loan_reports, 0) = 0"
            if table_exists(con, "credit.features") else "NULL::BOOLEAN")
    features = "LEFT JOIN credit.features f USING (customer_id)" if table_exists(con, "credit.features") else ""
    components = ", ".join(f"s.{c}" for c in COMPONENTS)
    return con.execute(f"""
        SELECT o.application_id, o.customer_id, o.defaulted, o.applied_time, o.observed_time,
               s.score, s.band, s.model_version, {components}, {thin} AS thin_file
        FROM ({source}) o LEFT JOIN credit.scores s USING (customer_id) {features}
        WHERE o.application_id IS NOT NULL AND o.defaulted IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY o.application_id ORDER BY o.observed_time DESC NULLS LAST) = 1
        ORDER BY o.application_id
    """).df()


def wilson(defaults: int, n: int, z: float = Z_95) -> tuple[float | None, float | None]:
    """95 % Wilson interval of a default rate (well-behaved at 0 and at small n)."""
    if n <= 0:
        return None, None
    p = defaults / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(float(centre - half), 4), round(float(centre + half), 4)


def _difference_interval(d1: int, n1: int, d2: int, n2: int) -> tuple[float, float]:
    """Newcombe's 95 % interval of p1 − p2 from the two Wilson intervals."""
    p1, p2 = d1 / n1, d2 / n2
    l1, u1 = wilson(d1, n1)
    l2, u2 = wilson(d2, n2)
    diff = p1 - p2
    return (round(diff - float(np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)), 4),
            round(diff + float(np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)), 4))


def band_calibration(frame: pd.DataFrame, config: ScoringConfig | None = None, pd_of_score=None) -> list[dict]:
    """Per band (worst first): outcomes, defaults, observed default rate with its 95 % interval, predicted PD."""
    config = config or ScoringConfig()
    rows = []
    for _, band in config.bands:
        part = frame[frame["band"] == band]
        n, d = int(len(part)), int(part["defaulted"].astype(bool).sum())
        low, high = wilson(d, n)
        predicted = None
        if pd_of_score is not None and n:
            predicted = round(float(np.mean(pd_of_score(part["score"].astype("float64").to_numpy()))), 4)
        rows.append({"band": band, "outcomes": n, "defaults": d,
                     "default_rate": round(d / n, 4) if n else None, "ci_low": low, "ci_high": high,
                     "predicted_pd": predicted})
    return rows


def monotone_default_rates(calibration: list[dict], min_outcomes: int = MIN_BAND_OUTCOMES) -> tuple[bool, list[str]]:
    """Observed default rate must not rise from a worse band to a better one (bands with enough outcomes)."""
    judged = [r for r in calibration if r["outcomes"] >= min_outcomes]
    problems = [
        f"{better['band']} defaults at {better['default_rate']:.1%} (n={better['outcomes']}) above "
        f"{worse['band']} at {worse['default_rate']:.1%} (n={worse['outcomes']})"
        for worse, better in zip(judged, judged[1:]) if better["default_rate"] > worse["default_rate"]
    ]
    return not problems, problems


def thin_thick_parity(frame: pd.DataFrame, config: ScoringConfig | None = None,
                      min_outcomes: int = MIN_BAND_OUTCOMES) -> list[dict]:
    """Per band: thin-file vs thick-file default rates, their 95 % intervals and the interval of the
    difference; ``agree`` is False when that interval excludes 0 (None when a side has too few outcomes)."""
    config = config or ScoringConfig()
    rows = []
    thin_flag = frame["thin_file"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    bad = frame["defaulted"].astype(bool).to_numpy()
    for _, band in config.bands:
        in_band = (frame["band"] == band).to_numpy()
        t, k = in_band & thin_flag, in_band & ~thin_flag
        nt, dt_, nk, dk = int(t.sum()), int(bad[t].sum()), int(k.sum()), int(bad[k].sum())
        row = {"band": band, "thin_outcomes": nt, "thin_defaults": dt_,
               "thin_default_rate": round(dt_ / nt, 4) if nt else None, "thin_ci": list(wilson(dt_, nt)),
               "thick_outcomes": nk, "thick_defaults": dk,
               "thick_default_rate": round(dk / nk, 4) if nk else None, "thick_ci": list(wilson(dk, nk)),
               "difference_ci": None, "agree": None}
        if min(nt, nk) >= min_outcomes:
            low, high = _difference_interval(dt_, nt, dk, nk)
            row["difference_ci"] = [low, high]
            row["agree"] = bool(low <= 0 <= high)
        rows.append(row)
    return rows


def by_vintage(frame: pd.DataFrame) -> list[dict]:
    """AUC / KS of the score per application month (vintage) as its outcomes mature."""
    rows = []
    if frame.empty or frame["applied_time"].isna().all():
        return rows
    scored = frame[frame["score"].notna() & frame["applied_time"].notna()]
    months = pd.to_datetime(scored["applied_time"]).dt.to_period("M")
    for month, part in scored.groupby(months, sort=True):
        s, y = part["score"].astype("float64").to_numpy(), part["defaulted"].astype(bool).to_numpy()
        a, k = auc(s, y), ks(s, y)
        rows.append({"vintage": str(month), "outcomes": int(len(part)), "defaults": int(y.sum()),
                     "auc": None if a is None else round(a, 4), "ks": None if k is None else round(k, 4)})
    return rows


TRUTH_FILE = "simulation/loan_truth.parquet"


def write_truth(data_dir, truth: pd.DataFrame) -> None:
    """Store the simulator's per-application default probability under ``<data dir>/simulation/``."""
    from pathlib import Path

    path = Path(data_dir) / TRUTH_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    truth.to_parquet(tmp, index=False)
    tmp.replace(path)


def read_truth(data_dir) -> pd.DataFrame | None:
    from pathlib import Path

    path = Path(data_dir) / TRUTH_FILE
    return pd.read_parquet(path) if path.exists() else None


def oracle_auc(frame: pd.DataFrame, truth: pd.DataFrame | None) -> float | None:
    """AUC of the simulator's true default probability on the same outcomes (None when not simulated)."""
    if truth is None or truth.empty:
        return None
    joined = frame.merge(truth[["application_id", "default_probability"]], on="application_id", how="inner")
    if len(joined) < len(frame) or joined.empty:  # outcomes the truth does not cover: not the same set
        return None
    return auc(-joined["default_probability"].to_numpy(dtype="float64"), joined["defaulted"].astype(bool).to_numpy())


def validation_summary(frame: pd.DataFrame, *, config: ScoringConfig | None = None, card=None,
                       truth: pd.DataFrame | None = None, out_of_time_from=None) -> dict:
    """Everything ``credit validate`` prints: counts, AUC / Gini / KS (all and out of time), the oracle AUC,
    calibration by band, thin/thick parity, vintages."""
    config = config or ScoringConfig()
    scored = frame[frame["score"].notna()].reset_index(drop=True)

    def block(part: pd.DataFrame) -> dict:
        s, y = part["score"].astype("float64").to_numpy(), part["defaulted"].astype(bool).to_numpy()
        m = _metrics(s, y)
        m = {"outcomes": m["n"], "defaults": m["defaults"], "auc": m["auc"], "gini": m["gini"], "ks": m["ks"]}
        oracle = oracle_auc(part, truth)
        m["oracle_auc"] = None if oracle is None else round(oracle, 4)
        m["auc_to_oracle"] = (round(m["auc"] / oracle, 4) if oracle and m["auc"] is not None else None)
        return m

    pd_of_score = None
    if card is not None:
        from fintech_dataops.lib.credit.scorecard import probability_of_default

        def pd_of_score(s):
            return probability_of_default(card, s)
    summary = {
        "model_version": (str(scored["model_version"].iloc[0]) if len(scored) else None),
        "unscored_outcomes": int(len(frame) - len(scored)),
        **block(scored),
    }
    if out_of_time_from is not None and len(scored):
        applied = pd.to_datetime(scored["applied_time"])
        cutoff = pd.Timestamp(out_of_time_from)
        if applied.dt.tz is not None and cutoff.tz is None:
            cutoff = cutoff.tz_localize(applied.dt.tz)
        summary["out_of_time"] = {"applied_after": str(out_of_time_from), **block(scored[(applied > cutoff).to_numpy()])}
    calibration = band_calibration(scored, config, pd_of_score)
    monotone, problems = monotone_default_rates(calibration)
    parity = thin_thick_parity(scored, config)
    summary.update({
        "calibration_by_band": calibration,
        "default_rate_monotone": monotone, "monotonicity_problems": problems,
        "thin_thick_parity": parity,
        "thin_thick_parity_ok": all(r["agree"] is not False for r in parity),
        "by_vintage": by_vintage(scored),
    })
    return summary
