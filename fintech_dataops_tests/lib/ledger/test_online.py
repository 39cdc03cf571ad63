"""The online path: approvals the decision service made durable (its WAL, then its landed decisions)
are booked once, with the daily path's event ids, and batched/settled by the follower."""

from contextlib import contextmanager
from datetime import date, datetime, timezone

import duckdb

from fintech_dataops.lib.ledger.booking import entries_for_day
from fintech_dataops.lib.ledger.chain import LocalChain
from fintech_dataops.lib.ledger.online import DecisionFollower, FollowStats, follow_once, settle_pending
from fintech_dataops.lib.ledger.store import book
from fintech_dataops.lib.realtime.wal import DurableLog, LogEntry
from fintech_dataops_tests.lib.ledger.conftest import make_sources


def _decision(tx, decision="approve", amount=12.34, currency="USD"):
    return {"transaction_id": tx, "customer_id": "C1", "merchant_id": "M1", "amount": amount, "currency": currency,
            "event_time": "2026-11-01T10:00:00.000000Z", "decision": decision, "risk_score": 0.1,
            "decided_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")}


def _entries(log, decisions):
    log.append([LogEntry(line='{"transaction_id": "%s"}' % d["transaction_id"], day="2026-11-01", decision=d)
                for d in decisions])


def _connector(path):
    @contextmanager
    def connect():
        con = duckdb.connect(str(path))
        try:
            yield con
        finally:
            con.close()
    return connect


def test_approvals_are_booked_from_the_open_wal_then_not_again_from_the_landed_files(tmp_path):
    log = DurableLog(tmp_path, rotate_seconds=3600)
    connect = _connector(tmp_path / "warehouse.duckdb")
    follower, stats = DecisionFollower(tmp_path), FollowStats()
    _entries(log, [_decision("T1"), _decision("T2", "block"), _decision("T3", amount=1.5, currency="JPY")])
    assert follow_once(connect, follower, stats, batch_max_age_seconds=3600) == 1  # T2 blocked, T3 unbookable
    _entries(log, [_decision("T4")])
    assert follow_once(connect, follower, stats, batch_max_age_seconds=3600) == 1
    log.rotate()  # lands the segment as landing/fraud_decisions/... and deletes it
    assert follow_once(connect, follower, stats, batch_max_age_seconds=3600) == 0
    log.close()
    assert stats.booked == 2 and stats.already_booked == 2 and len(stats.posted_latency_ms) == 2
    with connect() as con:
        assert con.execute("SELECT event_id FROM ledger.entries ORDER BY seq").fetchall() == [("card:T1",), ("card:T4",)]
        assert con.execute("SELECT event_id FROM ledger.unbookable").fetchall() == [("card:T3",)]


def test_a_new_follower_books_what_landed_while_it_was_down(tmp_path):
    log = DurableLog(tmp_path, rotate_seconds=3600)
    _entries(log, [_decision("T1"), _decision("T2")])
    log.rotate()
    log.close()
    connect = _connector(tmp_path / "warehouse.duckdb")
    stats = FollowStats()
    assert follow_once(connect, DecisionFollower(tmp_path), stats, batch_max_age_seconds=3600) == 2
    assert follow_once(connect, DecisionFollower(tmp_path), stats, batch_max_age_seconds=3600) == 0


def test_online_and_daily_paths_book_an_approval_once_and_the_follower_settles(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        make_sources(con)
    log = DurableLog(tmp_path, rotate_seconds=3600)
    _entries(log, [_decision("T0000"), _decision("T0001", amount=99.99, currency="EUR")])  # also in the day's table
    connect = _connector(tmp_path / "warehouse.duckdb")
    chain = LocalChain(tmp_path / "chain")
    try:
        stats = FollowStats()
        follow_once(connect, DecisionFollower(tmp_path), stats, batch_max_age_seconds=0)
        assert settle_pending(connect, chain, stats) == 1
        assert stats.booked == 2 and stats.batches_settled == 1
        with connect() as con:
            daily = book(con, entries_for_day(con, date(2026, 11, 1)).entries)
        assert daily.already_booked == 2 and daily.booked == 10
    finally:
        chain.close()
        log.close()


def test_an_online_approval_on_a_day_not_scored_yet_is_not_reported_as_a_difference(tmp_path):
    from fintech_dataops.lib.ledger.checks import booked_days
    from fintech_dataops.lib.ledger.reconcile import booking_differences

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        make_sources(con)
    log = DurableLog(tmp_path, rotate_seconds=3600)
    decision = dict(_decision("T-ONLINE"), event_time="2026-11-05T10:00:00.000000Z")
    _entries(log, [decision])
    log.close()
    connect = _connector(tmp_path / "warehouse.duckdb")
    follow_once(connect, DecisionFollower(tmp_path), FollowStats(), batch_max_age_seconds=3600)
    with connect() as con:
        book(con, entries_for_day(con, date(2026, 11, 1)).entries)
        assert booked_days(con) == [date(2026, 11, 1)]
        assert booking_differences(con, booked_days(con)) == []
        con.execute("INSERT INTO fraud.scored_transactions VALUES ('T-OTHER', 'C1', 'M1', 5.00, 'USD', "
                    "TIMESTAMP '2026-11-05 09:00:00', DATE '2026-11-05', 'approve')")
        assert [(d["event_id"], d["problem"]) for d in booking_differences(con, booked_days(con))] == [
            ("card:T-ONLINE", "booked_without_approval"), ("card:T-OTHER", "not_booked")]
