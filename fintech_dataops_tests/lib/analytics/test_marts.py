"""SQL-file marts: discovery, inferred sources, building, and missing sources."""

from decimal import Decimal

import duckdb
import pytest

from fintech_dataops.lib.analytics.marts import InvalidMart, build_mart, discover_marts, load_mart
from fintech_dataops_tests.analytics_data import build_tiny_warehouse

SHIPPED = {
    "daily_fraud_summary": {"fraud.scored_transactions", "core.fraud_labels"},
    "alert_queue": {"fraud.alerts", "core.fraud_labels"},
    "credit_portfolio_by_band": {"credit.scores", "credit.loan_decisions"},
    "scorable_population": {"credit.scores"},
    "data_quality_by_feed_day": {"quality.dq_scores"},
}


def test_shipped_marts_and_their_inferred_sources():
    found = {spec.name: set(spec.sources) for spec in discover_marts()}
    assert found == SHIPPED


def test_every_shipped_mart_builds_on_the_contract_tables(tmp_path):
    con = duckdb.connect(str(build_tiny_warehouse(tmp_path / "w.duckdb")))
    results = {spec.name: build_mart(con, spec) for spec in discover_marts()}
    assert all(r.built and r.rows > 0 for r in results.values()), results
    fraud = con.execute("SELECT partition_date::VARCHAR, blocked, confirmed_fraud_blocked_amount "
                        "FROM marts.daily_fraud_summary ORDER BY 1").fetchall()
    assert fraud == [("2026-01-01", 1, 900.0), ("2026-01-02", 3, 300.25)]
    assert con.execute("SELECT transaction_id, confirmed_fraud FROM marts.alert_queue LIMIT 1").fetchone() == ("t5", True)
    assert con.execute("SELECT newly_scorable, uplift_pct_points FROM marts.scorable_population").fetchone() == (3, 30.0)
    bands = con.execute("SELECT band, approved, approved_amount FROM marts.credit_portfolio_by_band").fetchall()
    assert bands == [("poor", 2, 7000.0), ("fair", 1, 750.0), ("good", 0, 0.0)]
    assert con.execute("SELECT sum(unaccounted_rows), count(*) FILTER (WHERE NOT meets_target) "
                       "FROM marts.data_quality_by_feed_day").fetchone() == (0, 2)
    con.close()


def test_credit_portfolio_never_sums_mixed_currencies(tmp_path):
    """Issue 15: approved amounts add up in the reporting currency; one without a rate is counted apart."""
    con = duckdb.connect(str(build_tiny_warehouse(tmp_path / "w.duckdb")))
    con.execute("""
        CREATE OR REPLACE TABLE credit.loan_decisions AS SELECT application_id, customer_id,
          CAST(requested_amount AS DECIMAL(18,3)) AS requested_amount, currency,
          CAST(reporting AS DECIMAL(18,3)) AS requested_amount_reporting, 'USD' AS reporting_currency,
          band, decision, FALSE AS scorable_traditional, TRUE AS scorable_enhanced FROM (VALUES
          ('a1', 'c1', 1000.0, 'EUR', 1100.0, 'poor', 'approve'),
          ('a2', 'c2', 100000.0, 'JPY', 650.0, 'poor', 'approve'),
          ('a3', 'c3', 2000.0, 'GBP', NULL, 'poor', 'approve')
        ) t(application_id, customer_id, requested_amount, currency, reporting, band, decision)""")
    build_mart(con, next(spec for spec in discover_marts() if spec.name == "credit_portfolio_by_band"))
    row = con.execute("SELECT approved, approved_amount, approved_unconverted, reporting_currency "
                      "FROM marts.credit_portfolio_by_band WHERE band = 'poor'").fetchone()
    assert row == (3, Decimal("1750.000"), 1, "USD")          # not 103000 of three currencies
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'credit_portfolio_by_band'").fetchall())
    assert types["approved_amount"].startswith("DECIMAL")
    con.close()


def test_missing_source_table_is_reported_not_raised(tmp_path):
    (tmp_path / "needs_credit.sql").write_text("SELECT count(*) AS n FROM credit.scores")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    result = build_mart(con, load_mart(tmp_path / "needs_credit.sql"))
    assert not result.built and result.missing_sources == ("credit.scores",)
    con.close()


@pytest.mark.parametrize("name, body, message", [
    ("writes.sql", "DELETE FROM core.customers", "read-only"),
    ("files.sql", "SELECT * FROM read_csv('x.csv')", "read_csv()"),
    ("Bad-Name.sql", "SELECT 1", "lower_snake_case"),
    ("unqualified.sql", "SELECT * FROM customers", "schema.table"),
])
def test_invalid_mart_files_are_rejected_with_the_file_name(tmp_path, name, body, message):
    (tmp_path / name).write_text(body)
    with pytest.raises(InvalidMart) as excinfo:
        load_mart(tmp_path / name)
    assert name in str(excinfo.value) and message in str(excinfo.value)
