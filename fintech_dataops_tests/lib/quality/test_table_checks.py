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
    _as_transactions(con, "core.transactions")
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


def _as_transactions(con, table: str) -> None:
    """Give ``table`` every column of a transaction source (lib/ingestion/sources), NULL where not set."""
    from fintech_dataops.lib.ingestion.sources import PLATFORM_TRANSACTION_COLUMNS

    present = {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
    for column in PLATFORM_TRANSACTION_COLUMNS:
        if column not in present:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR")


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


def test_the_evaluation_population_settlement_and_history_rules():
    con = duckdb.connect()
    for schema in ("fraud", "credit", "marts", "kpis"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute("CREATE TABLE fraud.evaluation AS SELECT * FROM (VALUES ('rules_only', 'to date', 0.001::DOUBLE, 0.5::DOUBLE, "
                "0.3::DOUBLE), ('combined', 'to date', 0.002, NULL, 0.4), ('combined', 'ground truth', 0.002, 0.5, 0.4)) "
                "t(strategy, labels, false_positive_rate, recall, precision)")
    con.execute("CREATE TABLE credit.scorable_population AS SELECT * FROM (VALUES ('r1', 40.0::DOUBLE, 55.5::DOUBLE)) "
                "t(run_id, scorable_traditional_pct, scorable_enhanced_pct)")
    con.execute("CREATE TABLE marts.scorable_population AS SELECT 40.0::DOUBLE AS scorable_traditional_pct, "
                "55.5::DOUBLE AS scorable_enhanced_pct")
    con.execute("CREATE TABLE marts.ledger_settlement AS SELECT * FROM (VALUES (DATE '2026-11-01', 'USD', 5, 5, "
                "37.020::DECIMAL(18,3), 37.020::DECIMAL(18,3)), (DATE '2026-11-01', 'EUR', 2, 0, 10.000, NULL)) t(business_date, currency, entries, "
                "entries_settled, card_volume, card_volume_settled)")
    con.execute("CREATE TABLE kpis.history AS SELECT * FROM (VALUES ('r1', 'latency'), ('r1', 'dq_score'), "
                "('r2', 'latency')) t(run_id, kpi)")
    tables = ("fraud.evaluation", "credit.scorable_population", "marts.scorable_population",
              "marts.ledger_settlement", "kpis.history")
    for table in tables:
        assert all(o.passed for o in outcomes(con, table).values()), table
    con.execute("INSERT INTO fraud.evaluation VALUES ('combined', 'to date', 1.5, 0.2, 0.1)")
    con.execute("INSERT INTO credit.scorable_population VALUES ('r1', 101.0, 50.0)")
    con.execute("INSERT INTO marts.scorable_population VALUES (10.0, -1.0)")
    con.execute("INSERT INTO marts.ledger_settlement VALUES (DATE '2026-11-01', 'USD', 1, 2, 1.000, 0.500)")
    con.execute("INSERT INTO kpis.history VALUES ('r2', 'latency')")
    failed = {table: {n for n, o in outcomes(con, table).items() if not o.passed} for table in tables}
    assert failed == {
        "fraud.evaluation": {"unique_strategy_labels", "rate_ranges"},
        "credit.scorable_population": {"unique_run_id", "percent_ranges"},
        "marts.scorable_population": {"one_row", "percent_ranges"},
        "marts.ledger_settlement": {"unique_day_currency", "settled_within_booked"},
        "kpis.history": {"unique_run_kpi"},
    }


def test_open_banking_payments_count_as_scorable_and_their_inflows_do_not(con):
    con.execute("CREATE SCHEMA open_banking")
    con.execute("CREATE TABLE open_banking.platform_transactions AS SELECT * FROM (VALUES "
                "('P1', DATE '2026-10-01', 'groceries'), ('P2', DATE '2026-10-01', 'income')) "
                "t(transaction_id, partition_date, merchant_category)")
    _as_transactions(con, "open_banking.platform_transactions")
    check = "every_core_transaction_scored"
    assert not outcomes(con, "fraud.scored_transactions")[check].passed  # P1 is scorable, not scored
    con.execute("INSERT INTO fraud.scored_transactions VALUES ('P1', TIMESTAMP '2026-10-01', 0.1, 0.1, 'approve')")
    assert outcomes(con, "fraud.scored_transactions")[check].passed    # P2 (income) is not scored, rightly


def test_features_are_one_row_per_transaction_and_per_customer():
    con = duckdb.connect()
    for schema in ("fraud", "credit"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute("CREATE TABLE fraud.features AS SELECT * FROM (VALUES ('T1'), ('T2')) t(transaction_id)")
    con.execute("CREATE TABLE credit.features AS SELECT * FROM (VALUES ('C1'), ('C2')) t(customer_id)")
    assert outcomes(con, "fraud.features")["unique_transaction_id"].passed
    assert outcomes(con, "credit.features")["unique_customer_id"].passed
    con.execute("INSERT INTO fraud.features VALUES ('T1')")
    con.execute("INSERT INTO credit.features VALUES ('C2')")
    assert outcomes(con, "fraud.features")["unique_transaction_id"].violations == 1
    assert outcomes(con, "credit.features")["unique_customer_id"].violations == 1


def test_dispositions_stability_and_analyst_precision_rules():
    con = duckdb.connect()
    for schema in ("fraud", "credit", "kpis"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute("CREATE TABLE fraud.dispositions AS SELECT * FROM (VALUES "
                "('D1', 'T1', 'confirmed_fraud', 120.0::DOUBLE, false), ('D2', 'T1', 'legitimate', 300.0, true), "
                "('D3', 'T2', 'unsure', 5.0, true)) t(disposition_id, transaction_id, disposition, "
                "time_to_disposition_s, is_current)")
    con.execute("CREATE TABLE credit.stability AS SELECT * FROM (VALUES "
                "(TIMESTAMP '2026-12-01 05:00', 'score', 0.02::DOUBLE, 'ok'), "
                "(TIMESTAMP '2026-12-01 05:00', 'telco', 0.31, 'error')) t(scored_at, variable, psi, severity)")
    con.execute("CREATE TABLE kpis.analyst_precision AS SELECT 87.5::DOUBLE AS value, NULL::VARCHAR AS note")
    tables = ("fraud.dispositions", "credit.stability", "kpis.analyst_precision")
    for table in tables:
        assert all(o.passed for o in outcomes(con, table).values()), table
    con.execute("INSERT INTO fraud.dispositions VALUES ('D3', 'T3', 'maybe', -4.0, true), ('D5', 'T2', 'legitimate', 9.0, true)")
    con.execute("INSERT INTO credit.stability VALUES (TIMESTAMP '2026-12-01 05:00', 'score', -0.1, 'fine')")
    con.execute("UPDATE kpis.analyst_precision SET value = 140.0")
    failed = {table: {n for n, o in outcomes(con, table).items() if not o.passed} for table in tables}
    assert failed == {
        "fraud.dispositions": {"unique_disposition_id", "disposition_values", "one_current_per_transaction",
                               "closed_after_alerted"},
        "credit.stability": {"psi_readable", "one_row_per_variable_and_run"},
        "kpis.analyst_precision": {"percent_ranges"},
    }
    assert outcomes(con, "fraud.dispositions")["closed_after_alerted"].check.severity == "WARN"
