"""Fraud metrics without scikit-learn: confusion counts, ROC AUC, average precision, curves, an SVG plot.

``average_precision`` follows scikit-learn's definition (sum over distinct
thresholds of (R_n - R_{n-1}) P_n) and ``auc_roc`` is the Mann-Whitney
statistic with ties counted half, so the numbers match ``sklearn.metrics``
while the engine stays free of the 1 s scikit-learn import.
"""

from __future__ import annotations

import base64

import numpy as np
import pandas as pd

ALERT_DECISIONS = ("review", "block")
LABELS_TO_DATE = "labels to date"
GROUND_TRUTH = "simulator ground truth"
TRUTH_FILE = "simulation/fraud_truth.parquet"


def write_truth(data_dir, truth: pd.DataFrame) -> None:
    """Store the simulator's fraud truth (``transaction_id, is_fraud, scenario``) under ``<data dir>/simulation/``.

    Never landed as a feed and never read by training or scoring: chargebacks arrive 1–20 days late
    (and not for every fraud), so on the newest days an alert on a fraud whose chargeback has not come
    yet counts as a false positive against the labels; the demo also reports against this truth.
    """
    from pathlib import Path

    path = Path(data_dir) / TRUTH_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    truth[["transaction_id", "is_fraud", "scenario"]].to_parquet(tmp, index=False)
    tmp.replace(path)


def read_truth(data_dir) -> pd.DataFrame | None:
    """The simulator's fraud truth written by :func:`write_truth` (None outside a simulation)."""
    from pathlib import Path

    path = Path(data_dir) / TRUTH_FILE
    return pd.read_parquet(path) if path.exists() else None


def _clean(y_true, scores=None):
    y = np.asarray(y_true, dtype=bool)
    if scores is None:
        return y, None
    s = np.asarray(scores, dtype="float64")
    s = np.where(np.isfinite(s), s, -np.inf)
    return y, s


def auc_roc(y_true, scores) -> float | None:
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``: ties count half); None with one class only."""
    from sklearn.metrics import roc_auc_score

    y, s = _clean(y_true, scores)
    if y.all() or not y.any():
        return None
    finite = s[np.isfinite(s)]
    # A missing score ranks below every real one (as in _curve); sklearn refuses infinities.
    s = np.where(np.isfinite(s), s, (finite.min() - 1.0) if len(finite) else 0.0)
    return float(roc_auc_score(y, s))


def _curve(y_true, scores):
    """Cumulative TP/FP at each distinct threshold, highest score first."""
    y, s = _clean(y_true, scores)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    distinct = np.flatnonzero(np.diff(s_sorted)) if len(s_sorted) else np.array([], dtype=int)
    last = np.concatenate((distinct, [len(s_sorted) - 1])) if len(s_sorted) else np.array([], dtype=int)
    tps = np.cumsum(y_sorted)[last]
    fps = (last + 1) - tps
    return tps, fps, s_sorted[last]


def average_precision(y_true, scores) -> float | None:
    y, _ = _clean(y_true)
    n_pos = int(y.sum())
    if n_pos == 0:
        return None
    tps, fps, _ = _curve(y_true, scores)
    precision = tps / np.maximum(tps + fps, 1)
    recall = tps / n_pos
    previous = np.concatenate(([0.0], recall[:-1]))
    return float(np.sum((recall - previous) * precision))


def roc_points(y_true, scores, max_points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    y, _ = _clean(y_true)
    tps, fps, _ = _curve(y_true, scores)
    fpr = np.concatenate(([0.0], fps / max(int((~y).sum()), 1)))
    tpr = np.concatenate(([0.0], tps / max(int(y.sum()), 1)))
    return _thin(fpr, tpr, max_points)


def pr_points(y_true, scores, max_points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    y, _ = _clean(y_true)
    tps, fps, _ = _curve(y_true, scores)
    recall = tps / max(int(y.sum()), 1)
    precision = tps / np.maximum(tps + fps, 1)
    return _thin(recall, precision, max_points)


def _thin(x: np.ndarray, y: np.ndarray, max_points: int):
    if len(x) <= max_points:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, max_points).astype(int))
    return x[keep], y[keep]


def alert_metrics(
    y_true, alerted, *, scores=None, amounts=None, days=None,
) -> dict:
    """Precision / recall / false-positive rate of an alert mask, plus ranking metrics of ``scores``.

    FPR = legitimate transactions alerted / all legitimate transactions.
    """
    y, _ = _clean(y_true)
    a = np.asarray(alerted, dtype=bool)
    tp, fp = int((a & y).sum()), int((a & ~y).sum())
    fn, tn = int((~a & y).sum()), int((~a & ~y).sum())
    out = {
        "transactions": int(len(y)),
        "frauds": int(y.sum()),
        "alerts": int(a.sum()),
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "false_positive_rate": fp / (fp + tn) if fp + tn else None,
    }
    if scores is not None:
        out["auc_roc"] = auc_roc(y, scores)
        out["average_precision"] = average_precision(y, scores)
    if amounts is not None:
        value = np.nan_to_num(np.asarray(amounts, dtype="float64"))
        out["fraud_value_total"] = round(float(value[y].sum()), 2)
        out["fraud_value_caught"] = round(float(value[y & a].sum()), 2)
    if days is not None:
        n_days = max(len(pd.unique(np.asarray(days))), 1)
        out["alerts_per_day"] = round(out["alerts"] / n_days, 2)
    return out


def card_precision_at_k(customers, days, y_true, scores, k: int = 100) -> float | None:
    """Mean daily card precision@k: of the ``k`` cards (customers) an analyst reviews each day —
    those with the highest score on any of their transactions that day — the share with a fraud.

    As in the Fraud Detection Handbook (Le Borgne et al.), a card found compromised on an
    earlier day is blocked and leaves the later days' ranking; the denominator is ``k`` even
    on a day with fewer cards.
    """
    frame = pd.DataFrame({"customer": np.asarray(customers, dtype=object), "day": np.asarray(days),
                          "y": np.asarray(y_true, dtype=bool),
                          "score": np.nan_to_num(np.asarray(scores, dtype="float64"), nan=-np.inf)})
    if frame.empty:
        return None
    per_card = frame.groupby(["day", "customer"], sort=True).agg(score=("score", "max"), y=("y", "max"))
    detected: set = set()
    precisions = []
    for _, cards in per_card.groupby(level="day", sort=True):
        cards = cards.droplevel("day")
        cards = cards[~cards.index.isin(detected)]
        top = cards.sort_values("score", ascending=False, kind="mergesort").head(k)
        precisions.append(float(top["y"].sum()) / k)
        detected.update(top.index[top["y"].to_numpy()])
    return float(np.mean(precisions))


def recall_by_group(y_true, alerted, groups, *, amounts=None) -> dict[str, dict]:
    """Per group (e.g. fraud scenario): frauds, frauds alerted, recall and (with amounts) value caught."""
    y = np.asarray(y_true, dtype=bool)
    a = np.asarray(alerted, dtype=bool)
    g = np.asarray(groups, dtype=object)
    value = None if amounts is None else np.nan_to_num(np.asarray(amounts, dtype="float64"))
    out = {}
    for group in sorted(pd.unique(g[y]).tolist(), key=str):
        rows = y & (g == group)
        caught = rows & a
        out[str(group)] = {"frauds": int(rows.sum()), "caught": int(caught.sum()),
                           "recall": float(caught.sum() / rows.sum())}
        if value is not None:
            out[str(group)]["value_caught"] = round(float(value[caught].sum()), 2)
            out[str(group)]["value_total"] = round(float(value[rows].sum()), 2)
    return out


def compare_strategies(scored: pd.DataFrame, y_true, *, review_threshold: float | None,
                       mandatory_rules: tuple[str, ...] = ("HIGH_VALUE",)) -> dict[str, dict]:
    """Rules alone, model alone and combined on one scored frame (``FraudEngine.score_frame`` output).

    - rules_only: alert = any rule fired; score = number of rules fired.
    - model_only: alert = model_score >= review threshold; score = model_score.
    - combined: alert = decision in (review, block); score = risk_score.

    ``false_positive_rate`` counts every alert; ``false_positive_rate_discretionary``
    leaves out the mandatory policy reviews (``mandatory_rules``, HIGH_VALUE), i.e.
    a legitimate transaction counts only if a discretionary rule or the model alerted.
    """
    amounts = scored["amount"].to_numpy()
    days = pd.to_datetime(scored["event_time"]).dt.date.to_numpy()
    rule_ids = scored["rule_ids"]
    rule_count = rule_ids.map(len).to_numpy()
    mandatory = set(mandatory_rules)
    rule_discretionary = rule_ids.map(lambda ids: any(r not in mandatory for r in ids)).to_numpy(dtype=bool)
    result = {"rules_only": alert_metrics(y_true, rule_count > 0, scores=rule_count, amounts=amounts, days=days)}
    result["rules_only"]["false_positive_rate_discretionary"] = alert_metrics(
        y_true, rule_discretionary)["false_positive_rate"]
    model_score = scored["model_score"].to_numpy(dtype="float64")
    if np.isfinite(model_score).any() and review_threshold is not None:
        result["model_only"] = alert_metrics(
            y_true, model_score >= review_threshold, scores=model_score, amounts=amounts, days=days)
        result["model_only"]["false_positive_rate_discretionary"] = result["model_only"]["false_positive_rate"]
    result["combined"] = alert_metrics(
        y_true, scored["decision"].isin(ALERT_DECISIONS).to_numpy(), scores=scored["risk_score"].to_numpy(),
        amounts=amounts, days=days)
    result["combined"]["false_positive_rate_discretionary"] = alert_metrics(
        y_true, scored["discretionary_alert"].to_numpy(dtype=bool))["false_positive_rate"]
    return result


def metrics_markdown(comparison: dict[str, dict]) -> str:
    """A markdown table of the comparison (for asset metadata and the README)."""
    columns = ("false_positive_rate_discretionary", "false_positive_rate", "recall", "precision", "auc_roc", "average_precision", "alerts",
               "alerts_per_day", "fraud_value_caught")
    lines = ["| strategy | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, metrics in comparison.items():
        cells = []
        for column in columns:
            value = metrics.get(column)
            if value is None:
                cells.append("–")
            elif column.startswith("false_positive_rate"):
                cells.append(f"{100 * value:.3f} %")
            elif column in ("recall", "precision"):
                cells.append(f"{100 * value:.1f} %")
            elif isinstance(value, float):
                cells.append(f"{value:,.3f}" if column != "fraud_value_caught" else f"{value:,.0f}")
            else:
                cells.append(f"{value:,}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curves_svg(curves: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], *,
               operating_points: dict[str, tuple[float, float]] | None = None) -> str:
    """ROC (left) and precision-recall (right) curves as a self-contained SVG.

    ``curves[name] = (fpr, tpr, recall, precision)``; ``operating_points[name] = (fpr, recall)``.
    """
    width, height, pad = 300, 260, 40
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * width}" height="{height}" '
             'font-family="sans-serif" font-size="11">']

    def panel(x0: int, title: str, xlabel: str, ylabel: str) -> None:
        parts.append(f'<rect x="{x0 + pad}" y="20" width="{width - pad - 10}" height="{height - pad - 20}" '
                     'fill="white" stroke="#444"/>')
        parts.append(f'<text x="{x0 + width / 2}" y="14" text-anchor="middle">{title}</text>')
        parts.append(f'<text x="{x0 + width / 2}" y="{height - 8}" text-anchor="middle">{xlabel}</text>')
        parts.append(f'<text x="{x0 + 10}" y="{height / 2}" transform="rotate(-90 {x0 + 10} {height / 2})" '
                     f'text-anchor="middle">{ylabel}</text>')

    def to_px(x0: int, xs, ys):
        px = x0 + pad + np.clip(xs, 0, 1) * (width - pad - 10)
        py = 20 + (1 - np.clip(ys, 0, 1)) * (height - pad - 20)
        return " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py))

    panel(0, "ROC", "false-positive rate", "recall")
    panel(width, "Precision-recall", "recall", "precision")
    for i, (name, (fpr, tpr, recall, precision)) in enumerate(curves.items()):
        colour = colours[i % len(colours)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{to_px(0, fpr, tpr)}"/>')
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" '
                     f'points="{to_px(width, recall, precision)}"/>')
        parts.append(f'<text x="{width - 120}" y="{height - pad - 10 - 14 * i}" fill="{colour}">{name}</text>')
    for i, (name, (fpr, recall)) in enumerate((operating_points or {}).items()):
        x, y = to_px(0, np.array([fpr]), np.array([recall])).split(",")
        parts.append(f'<circle cx="{x}" cy="{y}" r="3.5" fill="{colours[i % len(colours)]}"/>')
    parts.append("</svg>")
    return "".join(parts)


def svg_markdown(svg: str, alt: str = "ROC and precision-recall curves") -> str:
    """Markdown image with the SVG inlined as a data URI (renders in the Dagster UI)."""
    return f"![{alt}](data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()})"
