"""KPI values on the tiny deterministic warehouse equal the hand-computed numbers (analytics_data.py)."""

from decimal import Decimal

import duckdb
import pytest

from fintech_dataops.lib.analytics import kpis
from fintech_dataops.lib.analytics.kpis import LoadMeasurement
from fintech_dataops_tests import analytics_data as data


@pytest.fixture()
def con(tmp_path):
    connection = duckdb.connect(str(data.build_tiny_warehouse(tmp_path / "w.duckdb", with_latency=True)))
    yield connection
    connection.close()


def test_north_star_counts_confirmed_blocked_fraud_and_loans_to_previously_unscorable(con):
    kpi = kpis.value_at_risk_protected(con)
    assert kpi.value == pytest.approx(data.NORTH_STAR)  # 900 + 300.25 + 5000 + 750
    assert Decimal(kpi.details["fraud_blocked_confirmed_amount"]) == Decimal("1200.25")  # exact, as text
    assert kpi.details["fraud_blocked_confirmed_count"] == 2  # t1 (two labels, counted once) and t5
    assert Decimal(kpi.details["loans_approved_previously_unscorable_amount"]) == Decimal("5750")
    assert kpi.details["loans_approved_previously_unscorable_count"] == 2
    assert kpi.amount == Decimal("6950.25") and kpi.unit == "USD" and kpi.details["currency"] == "USD"


def test_north_star_adds_reporting_currency_amounts_exactly_and_never_an_unconverted_one(con):
    # Blocked amounts as landed in three currencies; their reporting-currency value is what counts.
    con.execute("UPDATE fraud.alerts SET amount_reporting = CASE transaction_id WHEN 't1' THEN 1123.45 "
                "WHEN 't5' THEN NULL ELSE amount END")  # t5: no reference rate that day
    kpi = kpis.value_at_risk_protected(con)
    assert Decimal(kpi.details["fraud_blocked_confirmed_amount"]) == Decimal("1123.45")
    assert kpi.details["without_reference_rate_count"] == 1 and "without a reference rate" in kpi.note
    assert kpi.amount == Decimal("1123.45") + Decimal("5750")
    con.execute("CREATE SCHEMA IF NOT EXISTS core")
    kpis.write_kpi(con, kpi)
    stored = con.execute("SELECT amount, unit FROM kpis.value_at_risk_protected").fetchone()
    assert stored == (Decimal("6873.450"), "USD")


def test_scorable_uplift(con):
    kpi = kpis.scorable_uplift(con)
    assert kpi.value == pytest.approx(data.SCORABLE_UPLIFT_PP)
    assert kpi.details["relative_uplift_pct"] == pytest.approx(50.0)
    assert kpi.details["newly_scorable"] == 3


def test_dq_score_of_the_latest_day(con):
    kpi = kpis.dq_score(con)
    assert kpi.value == pytest.approx(data.DQ_LATEST)
    assert kpi.met is False  # target 99.9
    assert kpi.details["worst_feed"] == "customers" and kpi.details["worst_feed_dq_score"] == pytest.approx(98.0)
    assert kpi.details["all_days_dq_score"] == pytest.approx(100 * 2095 / 2100, abs=1e-4)


def test_freshness_latency_and_ingest_rate(con):
    assert kpis.freshness(con, now=data.NOW).value == pytest.approx(data.FRESHNESS_S)
    latency = kpis.latency(con)
    assert latency.value == pytest.approx(data.LATENCY_P99_MS) and latency.details["p50_ms"] == pytest.approx(150)
    assert latency.details["max_ms"] == pytest.approx(600) and latency.details["batches"] == 5
    assert latency.met is True
    rate = kpis.ingest_rate(con, [LoadMeasurement("transactions", 1000, 0.5), LoadMeasurement("customers", 300, 0.1)])
    assert rate.value == pytest.approx(1300 / 0.6, rel=1e-4)
    assert rate.details["online_events_per_second"] == pytest.approx(500 / 4)  # 5 batches of 100 over 4 s


def test_missing_tables_mean_not_measured_yet_not_an_error(tmp_path):
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    for name, compute in kpis.KPI_FUNCTIONS.items():
        kpi = compute(con, []) if name == "ingest_rate" else compute(con)
        assert kpi.value is None and kpi.note.startswith(kpis.NOT_MEASURED), name
    con.close()


def test_kpi_tables_and_history_are_idempotent_per_run(con):
    for name in ("dq_score", "latency"):
        kpis.write_kpi(con, kpis.KPI_FUNCTIONS[name](con))
    assert kpis.append_history(con, ["dq_score", "latency", "freshness"], "run-1") == 2  # freshness not written
    assert kpis.append_history(con, ["dq_score", "latency"], "run-1") == 2
    assert kpis.append_history(con, ["dq_score", "latency"], "run-2") == 2
    assert con.execute("SELECT count(*), count(DISTINCT run_id) FROM kpis.history").fetchone() == (4, 2)
    assert con.execute("SELECT value FROM kpis.dq_score").fetchone()[0] == pytest.approx(data.DQ_LATEST)
