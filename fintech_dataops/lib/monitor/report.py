"""The fraud / DataOps monitor report: one self-contained HTML file (plotly.js inlined, no CDN).

Sections (each has a stable element id the browser test asserts on):
``kpi-tiles``, ``plot-alerts-by-rule``, ``plot-score-distribution``, ``plot-fpr-recall``,
``plot-dq-by-feed``, ``plot-credit-by-band``, ``credit-stability``, ``credit-vintages``,
``latest-alerts``. A section whose source
table does not exist yet renders a "no data yet" note instead of failing the report.
Aggregation happens in DuckDB (histogram bins, daily counts), so the file stays small
whatever the warehouse size.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from fintech_dataops.lib.analytics.kpis import KPI_FUNCTIONS
from fintech_dataops.lib.warehouse import table_exists

LATEST_ALERTS = 50


@dataclass
class ReportResult:
    path: Path
    bytes: int
    seconds: float
    sections: dict[str, str] = field(default_factory=dict)
    """section id → "rendered" or the reason it is empty."""


def _missing(con, *tables: str) -> str | None:
    absent = [t for t in tables if not table_exists(con, t)]
    return f"no data yet: {', '.join(absent)} does not exist" if absent else None


def _figure_html(fig, div_id: str, daily: bool = False) -> str:
    if daily:
        fig.update_xaxes(tickformat="%b %d", dtick=86_400_000)
    fig.update_layout(margin=dict(l=40, r=20, t=40, b=40), height=360, template="plotly_white")
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def alerts_by_rule(con) -> pd.DataFrame:
    return con.execute(
        """
        SELECT partition_date AS day, rule, count(*) AS alerts FROM (
            SELECT partition_date,
                   unnest(CASE WHEN len(coalesce(rule_ids, [])) = 0 THEN ['model'] ELSE rule_ids END) AS rule
            FROM fraud.alerts)
        GROUP BY ALL ORDER BY day, rule
        """
    ).df()


def score_histogram(con, bins: int = 40) -> pd.DataFrame:
    return con.execute(
        f"""
        WITH bounds AS (SELECT min(risk_score) AS lo, greatest(max(risk_score) - min(risk_score), 1e-9) AS span
                        FROM fraud.scored_transactions)
        SELECT decision,
               lo + span * least(floor((risk_score - lo) / span * {bins}), {bins - 1}) / {bins} AS bin_start,
               span / {bins} AS bin_width, count(*) AS transactions
        FROM fraud.scored_transactions, bounds WHERE risk_score IS NOT NULL
        GROUP BY ALL ORDER BY decision, bin_start
        """
    ).df()


def fpr_recall_by_day(con) -> pd.DataFrame:
    """Daily recall and false-positive rate of the decisions (flagged = review or block) against labels."""
    return con.execute(
        """
        WITH labels AS (SELECT transaction_id, bool_or(is_fraud) AS is_fraud FROM core.fraud_labels GROUP BY 1),
        joined AS (
            SELECT s.partition_date AS day, s.decision <> 'approve' AS flagged, coalesce(l.is_fraud, FALSE) AS fraud
            FROM fraud.scored_transactions s LEFT JOIN labels l USING (transaction_id))
        SELECT day,
               100.0 * count(*) FILTER (WHERE flagged AND fraud) / nullif(count(*) FILTER (WHERE fraud), 0) AS recall_pct,
               100.0 * count(*) FILTER (WHERE flagged AND NOT fraud) / nullif(count(*) FILTER (WHERE NOT fraud), 0)
                   AS false_positive_rate_pct
        FROM joined GROUP BY day ORDER BY day
        """
    ).df()


def dq_by_feed(con) -> pd.DataFrame:
    return con.execute(
        "SELECT partition_date AS day, feed, 100.0 * sum(valid_rows) / nullif(sum(raw_rows), 0) AS dq_score "
        "FROM quality.dq_scores GROUP BY ALL ORDER BY day, feed"
    ).df()


def credit_histogram(con) -> pd.DataFrame:
    return con.execute(
        "SELECT band, floor(score / 10) * 10 AS bin_start, count(*) AS customers, min(score) AS band_min "
        "FROM credit.scores WHERE score IS NOT NULL GROUP BY ALL ORDER BY bin_start, band"
    ).df()


def credit_stability(con) -> pd.DataFrame:
    """PSI of the score and of each component per scoring run (latest runs first)."""
    return con.execute(
        "PIVOT (SELECT scored_at, model_version, variable, round(psi, 3) AS psi FROM credit.stability) "
        "ON variable USING first(psi) ORDER BY scored_at DESC LIMIT 20"
    ).df()


def credit_vintages(con) -> pd.DataFrame:
    return con.execute(
        "SELECT name AS vintage, n AS outcomes, defaults, round(auc, 3) AS auc, round(ks, 3) AS ks "
        "FROM credit.validation WHERE kind = 'vintage' ORDER BY name"
    ).df()


def latest_alerts(con, limit: int = LATEST_ALERTS) -> pd.DataFrame:
    return con.execute(
        f"""
        SELECT event_time, alerted_at,
               -- how late the alert came (alert time − event time): the batch path alerts hours after the event
               round(date_diff('millisecond', event_time, alerted_at) / 3600000.0, 2) AS alert_age_h,
               transaction_id, customer_id, merchant_id, amount, decision, risk_score,
               array_to_string(coalesce(reasons, []), '; ') AS reasons
        FROM fraud.alerts ORDER BY alerted_at DESC, event_time DESC, transaction_id LIMIT {int(limit)}
        """
    ).df()


def kpi_rows(con) -> list[dict]:
    rows = []
    for name in KPI_FUNCTIONS:
        if table_exists(con, f"kpis.{name}"):
            cur = con.execute(f'SELECT kpi, value, unit, target, met, note FROM kpis."{name}" LIMIT 1')
            record = cur.fetchone()
            if record:
                rows.append(dict(zip([d[0] for d in cur.description], record)))
                continue
        rows.append({"kpi": name, "value": None, "unit": "", "target": None, "met": None,
                     "note": f"no data yet: kpis.{name} not materialized"})
    return rows


def _format_value(value, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "USD":
        return f"${value:,.0f}"
    if unit in {"pct", "pct_points"}:
        return f"{value:,.2f}{' %' if unit == 'pct' else ' pp'}"
    if unit == "events_per_second":
        return f"{value:,.0f} ev/s"
    if unit == "seconds":
        if value >= 86_400:
            return f"{value / 86_400:,.1f} days"
        return f"{value / 3600:,.1f} h" if value >= 3600 else f"{value:,.1f} s"
    if unit == "ms":
        return f"{value:,.1f} ms"
    return f"{value:,.2f}"


def _tiles_html(rows: list[dict]) -> str:
    labels = {
        "value_at_risk_protected": "Value-at-risk protected (North Star)", "scorable_uplift": "Scorable uplift",
        "dq_score": "Data-quality score", "freshness": "Freshness", "ingest_rate": "Ingest rate",
        "latency": "Event → alert latency (p99)",
    }
    tiles = []
    for row in rows:
        state = {True: "met", False: "missed", None: "neutral"}[row["met"]]
        target = "" if row["target"] is None else f"target {_format_value(row['target'], row['unit'])}"
        note = html.escape(row["note"] or "")
        tiles.append(
            f'<div class="tile {state}" data-kpi="{html.escape(row["kpi"])}">'
            f'<div class="label">{html.escape(labels.get(row["kpi"], row["kpi"]))}</div>'
            f'<div class="value">{html.escape(_format_value(row["value"], row["unit"] or ""))}</div>'
            f'<div class="target">{html.escape(target)}</div><div class="note">{note}</div></div>'
        )
    return "".join(tiles)


def _table_html(frame: pd.DataFrame, table_id: str) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row):
            if isinstance(value, float):
                text = f"{value:,.2f}" if column == "amount" else f"{value:.4f}"
            else:
                text = "" if value is None or value is pd.NaT else str(value)
            cls = f' class="decision-{html.escape(text)}"' if column == "decision" else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _sections(con) -> list[tuple[str, str, str | None, str]]:
    """(id, title, missing-reason or None, html) for each plot / table section."""
    import plotly.graph_objects as go

    out = []

    def section(section_id, title, tables, render):
        reason = _missing(con, *tables)
        if reason:
            out.append((section_id, title, reason, ""))
            return
        frame, body = render()
        if frame is not None and frame.empty:
            out.append((section_id, title, f"no data yet: {', '.join(tables)} is empty", ""))
        else:
            out.append((section_id, title, None, body))

    def alerts_plot():
        frame = alerts_by_rule(con)
        fig = go.Figure([go.Bar(x=g["day"], y=g["alerts"], name=str(rule)) for rule, g in frame.groupby("rule")])
        fig.update_layout(barmode="stack", title="Alerts per day by rule", yaxis_title="alerts")
        return frame, _figure_html(fig, "fig-alerts-by-rule", daily=True)

    def score_plot():
        frame = score_histogram(con)
        fig = go.Figure([go.Bar(x=g["bin_start"] + g["bin_width"] / 2, y=g["transactions"], width=g["bin_width"],
                                name=str(d)) for d, g in frame.groupby("decision")])
        fig.update_layout(barmode="stack", title="Risk-score distribution by decision", xaxis_title="risk score",
                          yaxis_title="transactions", yaxis_type="log")
        return frame, _figure_html(fig, "fig-score-distribution")

    def fpr_plot():
        frame = fpr_recall_by_day(con)
        fig = go.Figure([
            go.Scatter(x=frame["day"], y=frame["recall_pct"], name="recall %", mode="lines+markers"),
            go.Scatter(x=frame["day"], y=frame["false_positive_rate_pct"], name="false-positive rate %",
                       mode="lines+markers", yaxis="y2"),
        ])
        fig.update_layout(title="Recall and FPR by day",
                          yaxis=dict(title="recall %"), yaxis2=dict(title="FPR %", overlaying="y", side="right"))
        return frame, _figure_html(fig, "fig-fpr-recall", daily=True)

    def dq_plot():
        frame = dq_by_feed(con)
        fig = go.Figure([go.Scatter(x=g["day"], y=g["dq_score"], name=str(feed), mode="lines+markers")
                         for feed, g in frame.groupby("feed")])
        fig.add_hline(y=99.9, line_dash="dash", annotation_text="target 99.9 %")
        fig.update_layout(title="Data-quality score by feed", yaxis_title="DQ score %")
        return frame, _figure_html(fig, "fig-dq-by-feed", daily=True)

    def credit_plot():
        frame = credit_histogram(con)
        order = frame.groupby("band")["band_min"].min().sort_values().index.tolist()
        fig = go.Figure([go.Bar(x=frame.loc[frame["band"] == b, "bin_start"] + 5,
                                y=frame.loc[frame["band"] == b, "customers"], width=10, name=str(b)) for b in order])
        fig.update_layout(barmode="stack", title="Credit score distribution by band", xaxis_title="score",
                          yaxis_title="customers")
        return frame, _figure_html(fig, "fig-credit-by-band")

    def alerts_table():
        frame = latest_alerts(con)
        return frame, _table_html(frame, "latest-alerts-table")

    section("plot-alerts-by-rule", "Alerts over time by rule", ["fraud.alerts"], alerts_plot)
    section("plot-score-distribution", "Score distribution", ["fraud.scored_transactions"], score_plot)
    section("plot-fpr-recall", "False-positive rate and recall", ["fraud.scored_transactions", "core.fraud_labels"],
            fpr_plot)
    section("plot-dq-by-feed", "Data quality by feed", ["quality.dq_scores"], dq_plot)
    section("plot-credit-by-band", "Credit scores by band", ["credit.scores"], credit_plot)
    def stability_table():
        frame = credit_stability(con)
        return frame, _table_html(frame, "credit-stability-table")

    def vintages_table():
        frame = credit_vintages(con)
        return frame, _table_html(frame, "credit-vintages-table")

    section("credit-stability", "Credit score stability: PSI per scoring run (WARN ≥ 0.10, ERROR ≥ 0.25)",
            ["credit.stability"], stability_table)
    section("credit-vintages", "Credit score discrimination by vintage (AUC / KS as outcomes mature)",
            ["credit.validation"], vintages_table)
    section("latest-alerts", f"Latest {LATEST_ALERTS} alerts with reasons", ["fraud.alerts"], alerts_table)
    return out


_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#14213d;color:#fff;padding:16px 24px}header h1{margin:0;font-size:22px}
header .sub{opacity:.8;font-size:13px;margin-top:4px}main{padding:16px 24px}
#kpi-tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:12px;margin-bottom:16px}
.tile{background:#fff;border-radius:8px;padding:12px 14px;border-left:6px solid #9aa3b2;box-shadow:0 1px 2px #0001}
.tile.met{border-left-color:#2a9d8f}.tile.missed{border-left-color:#e76f51}
.tile .label{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#5b6475}
.tile .value{font-size:24px;font-weight:600;margin:4px 0}.tile .target,.tile .note{font-size:12px;color:#5b6475}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}
section{background:#fff;border-radius:8px;padding:8px 12px;box-shadow:0 1px 2px #0001}
section h2{font-size:15px;margin:6px 0}.empty{color:#8a93a3;font-style:italic;padding:24px 0}
table{border-collapse:collapse;width:100%;font-size:12px}th,td{padding:4px 6px;border-bottom:1px solid #e3e6eb;text-align:left}
td.decision-block{color:#b00020;font-weight:600}td.decision-review{color:#b26a00;font-weight:600}
"""


def render_report(con: duckdb.DuckDBPyConnection, path: Path, *, title: str = "Fraud & DataOps monitor") -> ReportResult:
    """Write the report to ``path`` atomically and return what was rendered."""
    from plotly.offline import get_plotlyjs

    started = time.perf_counter()
    generated_at = datetime.now(UTC)
    tiles = _tiles_html(kpi_rows(con))
    sections = _sections(con)
    plots = [s for s in sections if s[0] != "latest-alerts"]
    table = [s for s in sections if s[0] == "latest-alerts"]

    def block(section_id, heading, reason, body):
        inner = f'<div class="empty">{html.escape(reason)}</div>' if reason else body
        return f'<section id="{section_id}" data-state="{"empty" if reason else "rendered"}"><h2>{html.escape(heading)}</h2>{inner}</section>'

    document = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        f"<header><h1 id='report-title'>{html.escape(title)}</h1>"
        f"<div class='sub'>generated {generated_at:%Y-%m-%d %H:%M:%S} UTC · self-contained, works offline</div></header>"
        f"<main><div id='kpi-tiles'>{tiles}</div>"
        f"<div class='grid'>{''.join(block(*s) for s in plots)}</div>"
        f"{''.join(block(*s) for s in table)}"
        f"<script type='application/json' id='report-meta'>{json.dumps({'generated_at': generated_at.isoformat()})}</script>"
        "</main></body></html>"
    )
    from fintech_dataops.lib.ingestion.landing import write_atomic

    path = write_atomic(Path(path), document.encode("utf-8"))
    return ReportResult(
        path=path, bytes=path.stat().st_size, seconds=time.perf_counter() - started,
        sections={s[0]: (s[2] or "rendered") for s in sections},
    )
