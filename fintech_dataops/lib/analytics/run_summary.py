"""The short human summary printed after a pipeline run (``make run``)."""

from __future__ import annotations

import duckdb

from fintech_dataops.lib.advisor.evaluation import advisor_summary_lines
from fintech_dataops.lib.credit.summary import credit_summary_lines
from fintech_dataops.lib.warehouse import row_counts, table_exists


def _fmt(n: int | float) -> str:
    return f"{n:,}" if isinstance(n, int) else f"{n:,.2f}"


def _section_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    counts = row_counts(con)
    if not counts:
        return ["(the warehouse is empty)"]
    width = max(len(t) for t, _ in counts)
    lines = ["Tables (rows):"]
    lines += [f"  {table:<{width}}  {rows:>12,}" for table, rows in counts]
    return lines


def _section_quality(con: duckdb.DuckDBPyConnection) -> list[str]:
    feeds = [
        r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' ORDER BY 1"
        ).fetchall()
    ]
    rows = []
    for feed in feeds:
        raw = con.execute(f'SELECT count(*) FROM raw."{feed}"').fetchone()[0]
        core = con.execute(f'SELECT count(*) FROM core."{feed}"').fetchone()[0] if table_exists(con, f"core.{feed}") else None
        quarantined = (
            con.execute(f'SELECT count(*) FROM quarantine."{feed}"').fetchone()[0]
            if table_exists(con, f"quarantine.{feed}") else None
        )
        rows.append((feed, raw, core, quarantined))
    if not rows:
        return []
    lines = ["Feeds: raw → valid (core) + quarantined, data-quality score:"]
    for feed, raw, core, quarantined in rows:
        if core is None:
            lines.append(f"  {feed:<18} raw {raw:>10,}   (no core layer yet)")
            continue
        q = quarantined or 0
        dq = 100.0 * core / raw if raw else 100.0
        lines.append(f"  {feed:<18} raw {raw:>10,}   valid {core:>10,}   quarantined {q:>7,}   DQ {dq:6.2f} %")
    return lines


def _section_quarantine_reasons(con: duckdb.DuckDBPyConnection, top: int = 8) -> list[str]:
    """Why lines were quarantined (failed check per feed), most frequent first."""
    feeds = [
        r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'quarantine' "
            "AND column_name = 'failed_checks' ORDER BY 1"
        ).fetchall()
    ]
    if not feeds:
        return []
    union = " UNION ALL ".join(
        f"SELECT '{feed}' AS feed, unnest(failed_checks) AS failed_check FROM quarantine.\"{feed}\"" for feed in feeds
    )
    rows = con.execute(
        f"SELECT feed, failed_check, count(*) AS n FROM ({union}) GROUP BY 1, 2 ORDER BY n DESC, 1, 2 LIMIT {top}"
    ).fetchall()
    if not rows:
        return []
    return ["Quarantine reasons (feed, failed check, lines):"] + [
        f"  {feed:<18} {check:<32} {n:>7,}" for feed, check, n in rows
    ]


def _section_unroutable(con: duckdb.DuckDBPyConnection, top: int = 5) -> list[str]:
    """Landing-zone entries no loader read (``quality.unroutable_files``): never a silent skip."""
    if not table_exists(con, "quality.unroutable_files"):
        return []
    rows = con.execute(
        "SELECT path, reason, records FROM quality.unroutable_files ORDER BY records DESC, path"
    ).fetchall()
    if not rows:
        return []
    lines = [f"Unroutable landing entries: {len(rows):,} ({sum(r[2] for r in rows):,} records never loaded; "
             "see quality.unroutable_files):"]
    lines += [f"  {reason:<24} {records:>7,}  {path}" for path, reason, records in rows[:top]]
    return lines


def _section_fraud(con: duckdb.DuckDBPyConnection) -> list[str]:
    lines: list[str] = []
    if table_exists(con, "fraud.alerts"):
        scored = con.execute("SELECT count(*) FROM fraud.scored_transactions").fetchone()[0] if table_exists(
            con, "fraud.scored_transactions") else 0
        by_decision = dict(con.execute("SELECT decision, count(*) FROM fraud.alerts GROUP BY 1").fetchall())
        by_rule = con.execute(
            "SELECT r, count(*) FROM (SELECT unnest(rule_ids) AS r FROM fraud.alerts) GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        lines.append("Fraud:")
        lines.append(
            f"  {scored:,} transactions scored; alerts: {by_decision.get('review', 0):,} review, "
            f"{by_decision.get('block', 0):,} block; rule hits: "
            + (", ".join(f"{rule} {n:,}" for rule, n in by_rule) or "none")
        )
    if table_exists(con, "fraud.evaluation"):
        has_labels = "labels" in {c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'fraud' "
            "AND table_name = 'evaluation'").fetchall()}
        rows = con.execute(
            "SELECT " + ("labels" if has_labels else "'labels to date'") + ", strategy, recall, false_positive_rate, "
            "false_positive_rate_discretionary, auc_roc, average_precision "
            "FROM fraud.evaluation ORDER BY 1, strategy"
        ).fetchall()
        def pct(v):
            return "n/a" if v is None else f"{100 * v:.3f} %"

        def num(v):
            return "n/a" if v is None else f"{v:.3f}"

        shown = None
        for labels, strategy, recall, fpr, fpr_disc, auc, ap in rows:
            if labels != shown:
                shown = labels
                what = ("labels to date (a fraud not charged back yet counts as legitimate)"
                        if labels == "labels to date" else labels)
                lines.append(f"  out of sample vs {what}: recall, FPR all alerts, FPR discretionary, AUC, AP")
            lines.append(f"    {strategy:<11} recall {pct(recall):>9}  FPR {pct(fpr):>9}  "
                         f"FPR disc. {pct(fpr_disc):>9}  AUC {num(auc)}  AP {num(ap)}")
    return lines


def _reporting_currency(con: duckdb.DuckDBPyConnection) -> str:
    if table_exists(con, "kpis.value_at_risk_protected"):
        row = con.execute("SELECT unit FROM kpis.value_at_risk_protected").fetchone()
        if row and row[0]:
            return str(row[0])
    return "USD"


def _money(value) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def _section_money(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The North Star and the fraud money in the reporting currency, and where the rates came from."""
    lines: list[str] = []
    currency = _reporting_currency(con)
    if table_exists(con, "core.fx_rates"):
        days, first, last, simulated = con.execute(
            "SELECT count(DISTINCT rate_date), min(rate_date), max(rate_date), "
            "count(DISTINCT rate_date) FILTER (WHERE source = 'simulated') FROM core.fx_rates").fetchone()
        lines.append(f"Money (reporting currency {currency}; FX reference rates: {days} days in core.fx_rates, "
                     f"{first} … {last}" + (f", {simulated} of them simulated after the bundled ECB history)"
                                            if simulated else ", ECB)"))
    if table_exists(con, "core.transactions"):
        rows = con.execute(
            "SELECT currency, count(*), sum(amount), sum(amount_reporting), count(*) FILTER (WHERE amount_reporting IS NULL) "
            "FROM core.transactions GROUP BY 1 ORDER BY 4 DESC NULLS LAST"
        ).fetchall() if _has_column(con, "core", "transactions", "amount_reporting") else []
        if rows:
            lines = lines or [f"Money (reporting currency {currency}):"]
            lines.append(f"  transactions by currency: count, total as charged, total in {currency}")
            for code, n, total, reported, missing in rows:
                lines.append(f"    {code}  {n:>9,}  {_money(total):>16} {code}  {_money(reported):>16} {currency}"
                             + (f"   ({missing:,} without a reference rate)" if missing else ""))
    if table_exists(con, "fraud.alerts") and _has_column(con, "fraud", "alerts", "amount_reporting"):
        review, block, high = con.execute(
            "SELECT sum(amount_reporting) FILTER (WHERE decision = 'review'), "
            "sum(amount_reporting) FILTER (WHERE decision = 'block'), "
            "count(*) FILTER (WHERE list_contains(rule_ids, 'HIGH_VALUE')) FROM fraud.alerts").fetchone()
        lines.append(f"  fraud alerts: {_money(review)} {currency} in review, {_money(block)} {currency} blocked; "
                     f"{high:,} high-value (> 800 {currency}) reviewed")
    if table_exists(con, "kpis.value_at_risk_protected"):
        value, note, details = con.execute(
            "SELECT coalesce(amount, value), note, details FROM kpis.value_at_risk_protected").fetchone() \
            if _has_column(con, "kpis", "value_at_risk_protected", "amount") else \
            (*con.execute("SELECT value, note FROM kpis.value_at_risk_protected").fetchone(), None)
        lines.append(f"  North Star value-at-risk protected: {_money(value)} {currency}" + (f" ({note})" if note else ""))
    return lines


def _has_column(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = ? AND "
                            "table_name = ? AND column_name = ?", [schema, table, column]).fetchone()[0])


def platform_summary(con: duckdb.DuckDBPyConnection) -> str:
    sections = [_section_tables(con), _section_quality(con), _section_quarantine_reasons(con),
                _section_unroutable(con), _section_fraud(con), _section_money(con), credit_summary_lines(con),
                advisor_summary_lines(con)]
    return "\n".join("\n".join(s) for s in sections if s)
