"""Loan decisions against the cutoff, and the validation metrics."""

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from fintech_dataops.lib.credit.config import ScoringConfig
from fintech_dataops.lib.credit.decisions import decisions_sql
from fintech_dataops.lib.credit.scoring import score_portfolio, scores_select
from fintech_dataops.lib.credit.validation import auc, ks, markdown_report, roc_svg, validate
from fintech_dataops_tests.lib.credit.factories import best_row, frame, thin_file_row, worst_row

NOW = dt.datetime(2026, 11, 1)


def _warehouse(rows, applications) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    scored = score_portfolio(frame(*rows))
    con.register("scored", scored)
    sql, params = scores_select("scored", NOW)
    con.execute("CREATE SCHEMA credit; CREATE SCHEMA core")
    con.execute(f"CREATE TABLE credit.scores AS {sql}", params)
    con.register("apps", pd.DataFrame(applications, columns=[
        "application_id", "customer_id", "requested_amount", "declared_monthly_income"]).assign(event_time=NOW))
    # the core contract: DECIMAL amounts, the currency, the reporting-currency twin (here all USD)
    con.execute("CREATE TABLE core.loan_applications AS SELECT application_id, customer_id, "
                "CASE WHEN isfinite(requested_amount) THEN requested_amount::DECIMAL(18,3) END AS requested_amount, "
                "'USD' AS currency, declared_monthly_income::DECIMAL(18,3) AS declared_monthly_income, "
                "CASE WHEN isfinite(requested_amount) THEN requested_amount::DECIMAL(18,3) END "
                "AS requested_amount_reporting, event_time FROM apps")
    return con


def test_decisions_follow_the_documented_rules():
    middling = {**best_row("MID"), "academic_score": 40.0, "tx_spend": 2500.0, "declared_monthly_income": 3000.0,
                "utility_late": 2, "telco_late": 2, "tenure_days": 200, "loan_late_reports": 2}
    thin_sparse = {**thin_file_row("SPARSE"), "has_public_record": False, "academic_score": None,
                   "education_level": None, "bankruptcies": None, "telco_bills": 0}
    con = _warehouse(
        [best_row("GOOD"), worst_row("BAD"), middling, thin_sparse],
        [("A1", "GOOD", 2000.0, 5000.0), ("A2", "BAD", 2000.0, 5000.0), ("A3", "NOBODY", 1000.0, 2000.0),
         ("A4", "GOOD", float("nan"), 5000.0), ("A5", "SPARSE", 1000.0, 3000.0),
         ("A6", "GOOD", 90_000.0, 5000.0), ("A7", "MID", 1000.0, 3000.0)],
    )
    score_mid = con.execute("SELECT score FROM credit.scores WHERE customer_id = 'MID'").fetchall()[0][0]
    config = ScoringConfig(approve_cutoff=score_mid + 10, manual_review_margin=20)
    sql, params = decisions_sql(config, applications_exist=True, decided_at=NOW)
    decisions = con.execute(sql, params).df().set_index("application_id")
    expected = {"A1": "approve", "A2": "decline", "A3": "manual_review", "A4": "manual_review",
                "A5": "manual_review", "A6": "manual_review", "A7": "manual_review"}
    assert decisions["decision"].to_dict() == expected
    first_code = {a: (r[0]["code"] if len(r) else None) for a, r in decisions["reasons"].items()}
    assert first_code["A3"] == "NO_CREDIT_FILE" and first_code["A4"] == "INVALID_REQUEST"
    assert first_code["A5"] == "INSUFFICIENT_EVIDENCE" and first_code["A6"] == "AMOUNT_ABOVE_AFFORDABILITY"
    assert first_code["A7"] == "SCORE_NEAR_CUTOFF"
    assert 1 <= len(decisions.loc["A2", "reasons"]) <= 4   # a decline carries its adverse-action reasons
    assert decisions.loc["A3", "band"] == "no_score" and pd.isna(decisions.loc["A3", "score"])
    assert decisions.loc["A1", "scorable_traditional"] and not decisions.loc["A5", "scorable_enhanced"]


def test_decisions_with_no_applications_table_is_an_empty_result():
    con = _warehouse([best_row()], [])
    sql, params = decisions_sql(ScoringConfig(), applications_exist=False, decided_at=NOW)
    assert con.execute(sql, params).df().empty


def test_auc_gini_ks_on_known_separations():
    score = np.array([300, 400, 500, 600, 700, 800])
    assert auc(score, [1, 1, 1, 0, 0, 0]) == 1.0 and ks(score, [1, 1, 1, 0, 0, 0]) == 1.0
    assert auc(score, [0, 0, 0, 1, 1, 1]) == 0.0
    assert auc(np.full(6, 500.0), [1, 0, 1, 0, 1, 0]) == 0.5 and ks(np.full(6, 500.0), [1, 0, 1, 0, 1, 0]) == 0.0
    assert auc(score, [0] * 6) is None and ks(score, [1] * 6) is None
    assert auc(score, [1, 0, 1, 0, 0, 0]) == pytest.approx(7 / 8)


def test_validation_report_by_band_and_components():
    outcomes = pd.DataFrame({
        "defaulted": [True, True, False, False, False, False, None],
        "score": [400, 600, 650, 700, 800, None, 700],
        "band": ["poor", "fair", "fair", "good", "exceptional", None, "good"],
        "transaction_history": [0.1, 0.5, np.nan, 0.9, 0.9, np.nan, 0.5],
        "spending_power": np.nan, "academic": [0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 0.1],
        "loan_history": np.nan, "utilities": 1.0, "telco": 1.0,
    })
    report = validate(outcomes)
    assert report.score["n"] == 5 and report.score["auc"] == 1.0 and report.score["gini"] == 1.0
    assert report.unscored_outcomes == 1
    assert report.components["academic"]["auc"] == 1.0 and report.components["academic"]["coverage"] == 1.0
    assert report.components["spending_power"]["auc"] is None
    assert report.components["utilities"]["auc"] == 0.5
    bands = report.by_band.set_index("band")
    assert bands.loc["fair", "default_rate"] == 0.5 and bands.loc["poor", "applications"] == 1
    assert list(report.by_band["band"])[:2] == ["poor", "fair"]
    assert "| **score** | 5 | 2 | 1.000 |" in markdown_report(report)
    assert roc_svg(report).startswith("<svg") and "AUC 1.000" in roc_svg(report)


def test_credit_summary_lines_report_uplift_bands_and_decisions():
    from fintech_dataops.lib.credit.summary import credit_summary_lines

    con = _warehouse([best_row("GOOD"), thin_file_row("THIN"), worst_row("BAD")],
                     [("A1", "GOOD", 2000.0, 5000.0), ("A2", "BAD", 2000.0, 5000.0)])
    sql, params = decisions_sql(ScoringConfig(), applications_exist=True, decided_at=NOW)
    con.execute(f"CREATE TABLE credit.loan_decisions AS {sql}", params)
    lines = credit_summary_lines(con)
    assert lines[0] == "Credit scores:"
    assert "scorable traditionally 1, with alternative data 3 (uplift +200.0 %)" in lines[1]  # BAD: no history
    assert "poor 1" in lines[2] and "exceptional 1" in lines[2]
    assert lines[3] == "  loan decisions: approve 1, decline 1"
    assert credit_summary_lines(duckdb.connect()) == []
