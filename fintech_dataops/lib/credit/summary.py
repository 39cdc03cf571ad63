"""Credit lines of the platform summary (``fintech-dataops summary``)."""

from __future__ import annotations

import duckdb

from fintech_dataops.lib.warehouse import table_exists


def credit_summary_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    if not table_exists(con, "credit.scores"):
        return []
    customers, scored, mean, trad, enh, model = con.execute(
        "SELECT count(*), count(score), round(avg(score)), count(*) FILTER (WHERE scorable_traditional), "
        "count(*) FILTER (WHERE scorable_enhanced), any_value(model_version) FROM credit.scores"
    ).fetchall()[0]
    bands = con.execute(
        "SELECT band, count(*) FROM credit.scores GROUP BY 1 ORDER BY min(coalesce(score, 0))"
    ).fetchall()
    uplift = f"{100 * (enh - trad) / trad:+.1f} %" if trad else "n/a"
    lines = [
        "Credit scores:",
        f"  {customers:,} customers, {scored:,} scored (mean {mean or 0:.0f}); scorable traditionally {trad:,}, "
        f"with alternative data {enh:,} (uplift {uplift})",
        "  by band: " + ", ".join(f"{band} {n:,}" for band, n in bands),
    ]
    if table_exists(con, "credit.loan_decisions"):
        decisions = con.execute(
            "SELECT decision, count(*) FROM credit.loan_decisions GROUP BY 1 ORDER BY 1"
        ).fetchall()
        if decisions:
            lines.append("  loan decisions: " + ", ".join(f"{d} {n:,}" for d, n in decisions))
    if table_exists(con, "credit.validation"):
        row = con.execute(
            "SELECT n, auc, gini, ks FROM credit.validation WHERE kind = 'model' AND name = 'score'"
        ).fetchall()
        if row and row[0][1] is not None:
            n, auc, gini, ks = row[0]
            lines.append(f"  validation on {n:,} loan outcomes: AUC {auc:.3f}, Gini {gini:.3f}, KS {ks:.3f}"
                         + (" (every vintage, the training ones included)" if model != "credit-v2.0" else ""))
        oot = con.execute("SELECT n, auc, gini, ks FROM credit.validation "
                          "WHERE kind = 'model' AND name = 'score_out_of_time'").fetchall()
        if oot and oot[0][1] is not None:
            n, auc, gini, ks = oot[0]
            lines.append(f"  out of time (vintages after the training window, {n:,} outcomes): AUC {auc:.3f}, "
                         f"Gini {gini:.3f}, KS {ks:.3f}")
    lines.append(f"  model: {model}" + ("" if model == "credit-v2.0" else
                                        " (fitted scorecard; details: `fintech-dataops credit validate`)"))
    return lines
