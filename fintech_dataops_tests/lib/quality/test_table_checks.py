"""The rules behind the checks on fraud, credit, mart and KPI tables catch what they describe."""

import duckdb
import pytest

from fintech_dataops.lib.quality.table_checks import TABLE_CHECKS, checks_by_table, run_table_checks


@pytest.fixture()
def con():
    con = duckdb.connect()
    for schema in ("core", "fraud", "credit", "kpis"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute("CREATE TABLE core.transactions AS SELECT * FROM (VALUES ('T1', DATE '2026-10-01'), "
                "('T2', DATE '2026-10-01'), ('T3', DATE '2026-10-02')) t(transaction_id, partition_date)")
    con.execute("CREATE TABLE fraud.scored_transactions AS SELECT * FROM (VALUES "
                "('T1', TIMESTAMP '2026-10-01', 0.1, 0.2, 'approve'), ('T2', TIMESTAMP '2026-10-01', 0.9, NULL, 'block'), "
                "('T3', TIMESTAMP '2026-10-02', 0.5, 0.5, 'review')) t(transaction_id, partition_date, risk_score, "
                "model_score, decision)")
    con.execute("CREATE TABLE fraud.alerts AS SELECT * FROM (VALUES ('T2', 'block'), ('T3', 'review')) t(transaction_id, decision)")
    con.execute("CREATE TABLE credit.scores AS SELECT * FROM (VALUES ('C1', 640, 'fair'), ('C2', NULL, 'no_score')) "
                "t(customer_id, score, band)")
    con.execute("CREATE TABLE kpis.latency AS SELECT NULL::DOUBLE AS value, 'not measured yet' AS note")
    yield con
    con.close()


def outcomes(con, table):
    return {o.check.name: o for o in run_table_checks(con, checks_by_table()[table])}


def test_good_tables_pass(con):
    for table in ("fraud.scored_transactions", "fraud.alerts", "credit.scores", "kpis.latency"):
        failed = {name: o.violations for name, o in outcomes(con, table).items() if not o.passed}
        assert failed == {}, table


def test_each_broken_rule_is_caught(con):
    con.execute("INSERT INTO fraud.scored_transactions VALUES ('T3', TIMESTAMP '2026-10-02', 1.5, 0.5, 'maybe')")
    con.execute("INSERT INTO fraud.alerts VALUES ('T1', 'review')")            # scored as approve
    con.execute("INSERT INTO credit.scores VALUES ('C3', 900, 'exceptional'), ('C4', 500, 'no_score')")
    con.execute("INSERT INTO kpis.latency VALUES (NULL, '')")
    scored = outcomes(con, "fraud.scored_transactions")
    assert {n for n, o in scored.items() if not o.passed} == {
        "unique_transaction_id", "decision_values", "score_ranges", "every_core_transaction_scored"}
    assert not outcomes(con, "fraud.alerts")["alert_is_scored"].passed
    credit = outcomes(con, "credit.scores")
    assert credit["score_range"].violations == 2 and credit["band_values"].passed
    kpi = outcomes(con, "kpis.latency")
    assert not kpi["one_row"].passed and kpi["value_or_reason"].violations == 1


def test_a_table_never_written_fails_its_checks(con):
    assert all(o.missing_table and not o.passed for o in outcomes(con, "credit.loan_decisions").values())


def test_check_names_are_unique_per_table():
    names = [(c.table, c.name) for c in TABLE_CHECKS]
    assert len(names) == len(set(names))
