"""raw → core on simulated days: reconciliation, exactly the malformed lines quarantined, idempotent reruns."""

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.ingestion.feeds import FEEDS
from fintech_dataops.lib.quality.core_gate import load_core_partitions, write_dq_scores
from fintech_dataops.lib.quality.core_checks import quarantine_rate, reconcile, referential_orphans, revalidate_core
from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions
from fintech_dataops.lib.simulator.world import SimulationConfig, land_simulation, simulate

START = dt.date(2026, 9, 1)


def load_everything(con, landing_dir: Path) -> dict:
    results = {}
    for feed in FEEDS:
        days = [d.isoformat() for d in landing.landed_days(landing_dir, feed)]
        if days:
            load_raw_partitions(con, landing_dir, feed, days)
            results[feed] = load_core_partitions(con, feed, days)
    return results


def per_day_counts(con, layer: str, feed: str) -> dict[str, int]:
    return dict(con.execute(
        f"SELECT CAST(partition_date AS VARCHAR), count(*) FROM {layer}.{feed} GROUP BY 1"
    ).fetchall())


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    sim = simulate(SimulationConfig(start=START, days=3, customers=800, seed=11))
    report = land_simulation(sim, root / "landing")
    con = duckdb.connect(str(root / "w.duckdb"))
    results = load_everything(con, root / "landing")
    yield con, report, results, root
    con.close()


def test_default_malformed_rate_day_reconciles_and_quarantines_exactly_the_malformed_lines(simulated):
    con, report, results, _ = simulated
    assert sum(report.malformed_per_feed.values()) > 0, "the simulated days should contain malformed lines"
    for feed, result in results.items():
        raw, core, quarantine = (per_day_counts(con, layer, feed) for layer in ("raw", "core", "quarantine"))
        for day, n in raw.items():
            assert n == core.get(day, 0) + quarantine.get(day, 0), f"{feed} {day} does not reconcile"
        assert result.quarantined_rows == report.malformed_per_feed.get(feed, 0), feed
        assert all(r.balanced for r in reconcile(con, feed, result.partition_dates))


def test_dq_scores_table_matches_the_result(simulated):
    con, _, results, _ = simulated
    result = results["transactions"]
    assert write_dq_scores(con, list(results), result.partition_dates) == len(results) * len(result.partition_dates)
    rows = con.execute(
        "SELECT CAST(partition_date AS VARCHAR), raw_rows, valid_rows, quarantined_rows, dq_score "
        "FROM quality.dq_scores WHERE feed = 'transactions' ORDER BY 1"
    ).fetchall()
    assert rows == [
        (day, q.raw_rows, q.valid_rows, q.quarantined_rows, q.dq_score) for day, q in sorted(result.per_day.items())
    ]
    assert all(0 <= row[4] <= 100 for row in rows)


def test_stored_core_tables_pass_the_full_contract(simulated):
    con, _, results, _ = simulated
    for feed, result in results.items():
        outcome = revalidate_core(con, feed, result.partition_dates)
        assert outcome.passed, (feed, outcome.failure_summary)
        assert outcome.rows == result.valid_rows


def test_rerun_replaces_partitions_without_duplicating_quarantine_rows(simulated):
    con, _, results, root = simulated
    before = {feed: (per_day_counts(con, "core", feed), per_day_counts(con, "quarantine", feed)) for feed in results}
    days = results["transactions"].partition_dates
    write_dq_scores(con, list(results), days)
    dq_before = con.execute("SELECT * EXCLUDE (computed_at) FROM quality.dq_scores ORDER BY ALL").fetchall()
    for feed, result in results.items():
        load_core_partitions(con, feed, result.partition_dates)
    write_dq_scores(con, list(results), days)
    after = {feed: (per_day_counts(con, "core", feed), per_day_counts(con, "quarantine", feed)) for feed in results}
    assert after == before
    assert con.execute("SELECT * EXCLUDE (computed_at) FROM quality.dq_scores ORDER BY ALL").fetchall() == dq_before
    # and a rerun of one day does not turn that day's ids into cross-partition duplicates
    day = START.isoformat()
    rerun = load_core_partitions(con, "transactions", [day])
    assert "duplicate_id_across_partitions" not in rerun.failed_checks


def test_every_malformed_kind_is_quarantined(tmp_path: Path):
    sim = simulate(SimulationConfig(start=START, days=1, customers=300, seed=5, malformed_rate=0.08))
    report = land_simulation(sim, tmp_path / "landing")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    results = load_everything(con, tmp_path / "landing")
    kinds = {kind for per_feed in report.malformed_kinds.values() for kind, n in per_feed.items() if n}
    assert {"missing_field", "wrong_type", "duplicate", "truncated", "bad_timestamp"} <= kinds
    for feed, result in results.items():
        assert result.quarantined_rows == report.malformed_per_feed.get(feed, 0), (feed, result.failed_checks)
        assert result.raw_rows == result.valid_rows + result.quarantined_rows


def test_quarantine_rate_and_referential_orphans(tmp_path: Path):
    landing_dir = tmp_path / "landing"
    good = {
        "transaction_id": "T1", "customer_id": "C-KNOWN", "merchant_id": "M1", "amount": 10.0, "currency": "EUR",
        "event_time": "2026-09-01T08:00:00Z", "channel": "contactless", "merchant_category": "fuel",
        "country": "DE", "device_id": "D1",
    }
    lines = [json.dumps(good), json.dumps({**good, "transaction_id": "T2", "customer_id": "C-UNKNOWN"}), "oops"]
    landing.land_lines(landing_dir, "transactions", START, "b1", lines)
    customer = {
        "customer_id": "C-KNOWN", "full_name": "Ada Lovelace", "email": "ada@example.com", "country": "GB",
        "birth_year": 1990, "signup_time": "2026-08-01T00:00:00Z", "declared_monthly_income": 4000.0,
        "segment": "mass",
    }
    landing.land_lines(landing_dir, "customers", START, "b1", [json.dumps(customer)])
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_everything(con, landing_dir)
    assert quarantine_rate(con, "transactions", [START.isoformat()]) == (3, 1, pytest.approx(1 / 3))
    (orphans,) = referential_orphans(con, "transactions", [START.isoformat()])
    assert (orphans.column, orphans.rows, orphans.orphans, orphans.examples) == ("customer_id", 2, 1, ["C-UNKNOWN"])


def test_revalidation_catches_a_tampered_core_table(tmp_path: Path):
    sim = simulate(SimulationConfig(start=START, days=1, customers=100, seed=2))
    land_simulation(sim, tmp_path / "landing")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_everything(con, tmp_path / "landing")
    day = START.isoformat()
    con.execute("UPDATE core.transactions SET amount = -1 WHERE rowid IN (SELECT rowid FROM core.transactions LIMIT 2)")
    con.execute("INSERT INTO core.transactions SELECT * REPLACE (DATE '2026-09-02' AS partition_date) "
                "FROM core.transactions LIMIT 1")
    outcome = revalidate_core(con, "transactions", [day])
    assert not outcome.passed
    checks = {(c["check"], c["column"]): c["failures"] for c in outcome.failure_summary}
    assert checks[("greater_than(0)", "amount")] == 2
    assert checks[("unique_across_partitions", "transaction_id")] == 1


def test_summary_shows_valid_quarantined_dq_and_reasons(simulated):
    from fintech_dataops.lib.analytics.run_summary import platform_summary

    con, report, results, _ = simulated
    text = platform_summary(con)
    tx = results["transactions"]
    assert f"valid {tx.valid_rows:>10,}   quarantined {tx.quarantined_rows:>7,}" in text
    assert "Quarantine reasons" in text
