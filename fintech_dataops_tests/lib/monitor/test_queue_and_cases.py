"""The alert queue's context and views, case events landed and folded, staff keys."""

from datetime import timedelta

import duckdb
import orjson
import pytest

from fintech_dataops.lib.monitor.cases import (
    FEED_NAME,
    CaseActionError,
    CaseBook,
    read_landed_events,
    record_action,
)
from fintech_dataops.lib.monitor.queue import (
    customer_transactions,
    merge_alerts,
    select,
    warehouse_alerts,
    with_context,
)
from fintech_dataops.lib.monitor.staff import StaffKeyConfigError, StaffKeys, hash_key
from fintech_dataops_tests.lib.monitor.helpers import NOW, alert_rows, build_alert_warehouse


def _rows(cases=None):
    return with_context(merge_alerts(alert_rows(), names=("warehouse",)), cases or CaseBook(), NOW)


def test_alert_age_is_alert_time_minus_event_time_and_waiting_is_now_minus_alert_time():
    rows = {r["transaction_id"]: r for r in _rows()}
    assert rows["T-fast"]["alert_age_s"] == 2.0
    assert rows["T-late"]["alert_age_s"] == 26 * 3600.0
    assert rows["T-fast"]["waiting_s"] == 300.0 and rows["T-late"]["waiting_s"] == 3600.0


def test_a_transaction_alerted_by_two_paths_is_one_row_at_its_first_alert_time():
    live = [{**alert_rows()[0], "alerted_at": None, "decided_at": (NOW - timedelta(minutes=5, seconds=1)).isoformat(),
             "channel": None}]
    batch = [{**alert_rows()[0], "alerted_at": NOW}]
    (row,) = with_context(merge_alerts(live, batch, names=("live", "warehouse")), CaseBook(), NOW)
    assert row["source"] == "live" and row["alert_age_s"] == 1.0
    assert row["channel"] == "ecommerce"  # context the first source lacked comes from the other


def test_views_search_filter_and_sort():
    rows = _rows()
    assert [r["transaction_id"] for r in select(rows, view="all", now=NOW)["alerts"]] == ["T-fast", "T-late", "T-old"]
    today = select(rows, view="today", now=NOW)
    assert {r["transaction_id"] for r in today["alerts"]} == {"T-fast", "T-late"}
    assert today["counts"] == {"open": 3, "mine": 0, "today": 2, "all": 3}
    assert [r["transaction_id"] for r in select(rows, view="all", sort="late", now=NOW)["alerts"]][0] == "T-late"
    assert [r["transaction_id"] for r in select(rows, view="all", sort="amount", now=NOW)["alerts"]] == \
        ["T-fast", "T-late", "T-old"]
    assert [r["transaction_id"] for r in select(rows, view="all", decision="block", now=NOW)["alerts"]] == ["T-fast"]
    assert [r["transaction_id"] for r in select(rows, view="all", q="VELOCITY", now=NOW)["alerts"]] == ["T-old"]
    assert [r["transaction_id"] for r in select(rows, view="all", q="fr", now=NOW)["alerts"]] == ["T-late"]
    with pytest.raises(ValueError):
        select(rows, view="everything", now=NOW)


def test_case_actions_are_landed_first_then_folded_and_rebuilt_from_the_landing_zone(tmp_path):
    landing = tmp_path / "landing"
    book = CaseBook()
    alert = {**alert_rows()[0], "event_time": "2026-11-30T11:54:58", "alerted_at": "2026-11-30T11:55:00"}
    record_action(book, landing, alert, action="assign", analyst="alice")
    record_action(book, landing, alert, action="note", analyst="alice", note="customer called: card stolen")
    event, case = record_action(book, landing, alert, action="close", analyst="alice", disposition="confirmed_fraud")
    assert case.status == "closed" and case.disposition == "confirmed_fraud" and case.closed_by == "alice"
    files = sorted((landing / FEED_NAME).rglob("*.jsonl"))
    assert len(files) == 3  # one immutable file per action
    events = read_landed_events(landing)
    assert [e["action"] for e in events] == ["assign", "note", "close"]
    assert events[-1]["amount"] == 950.0 and events[-1]["reported_time"] == event.reported_time
    assert all(len(f.read_bytes().splitlines()) == 1 for f in files)
    assert orjson.loads(files[0].read_bytes())["analyst"] in {"alice"}
    rebuilt = CaseBook.from_landing(landing).get("T-fast")
    assert (rebuilt.status, rebuilt.disposition, rebuilt.assignee, len(rebuilt.notes)) == \
        ("closed", "confirmed_fraud", "alice", 1)
    rows = with_context(merge_alerts(alert_rows()), CaseBook.from_landing(landing), NOW)
    assert "T-fast" not in {r["transaction_id"] for r in select(rows, view="open", now=NOW)["alerts"]}


def test_invalid_actions_are_refused_and_nothing_is_landed(tmp_path):
    book = CaseBook()
    for action in ({"action": "close", "disposition": "probably"}, {"action": "delete"},
                   {"action": "note", "note": "  "}, {"action": "note", "note": "x" * 2001}):
        with pytest.raises(CaseActionError):
            record_action(book, tmp_path, alert_rows()[0], analyst="alice", **action)
    assert not list(tmp_path.rglob("*.jsonl")) and book.get("T-fast") is None


def test_mine_is_what_the_signed_in_analyst_was_assigned(tmp_path):
    book = CaseBook()
    record_action(book, tmp_path, alert_rows()[1], action="assign", analyst="alice")
    rows = with_context(merge_alerts(alert_rows()), book, NOW)
    assert [r["transaction_id"] for r in select(rows, view="mine", analyst="alice", now=NOW)["alerts"]] == ["T-late"]
    assert select(rows, view="mine", analyst="bob", now=NOW)["alerts"] == []


def test_alerts_and_recent_transactions_carry_channel_and_country_from_core_transactions(tmp_path):
    # fraud.alerts and fraud.scored_transactions have no channel/country: they come from the landed transaction.
    con = duckdb.connect(str(build_alert_warehouse(tmp_path / "w.duckdb")))
    rows = {r["transaction_id"]: r for r in warehouse_alerts(con)}
    recent = customer_transactions(con, "C-1")
    con.close()
    assert [(t["transaction_id"], t["channel"], t["country"], t["decision"]) for t in recent] == [
        ("T-fast", "ecommerce", "GB", "block"), ("T-calm", "pos", "GB", "approve"), ("T-old", "ecommerce", "GB", "review")]
    assert rows["T-late"]["channel"] == "pos" and rows["T-late"]["country"] == "FR"
    assert str(rows["T-late"]["amount_reporting"]) == "130.500"


def test_staff_keys_are_hashes_compared_per_analyst_and_never_the_api_key(tmp_path):
    keys = StaffKeys.from_env({"FINTECH_STAFF_KEYS": f"alice:{hash_key('k1')}, bob:{hash_key('k2')}"})
    assert keys.analyst_for("k1") == "alice" and keys.analyst_for("k2") == "bob"
    assert keys.analyst_for("k3") is None and keys.analyst_for("") is None
    with pytest.raises(StaffKeyConfigError):
        keys.refuse_shared_with("k2")
    file = tmp_path / "staff"
    file.write_text(f"# staff\ncarol:{hash_key('k4')}\n")
    assert StaffKeys.from_env({"FINTECH_STAFF_KEYS_FILE": str(file)}).analyst_for("k4") == "carol"
    with pytest.raises(StaffKeyConfigError) as bad:
        StaffKeys.from_env({"FINTECH_STAFF_KEYS": "alice:plain-secret"})
    assert "plain-secret" not in str(bad.value)


def test_the_static_report_lists_each_alert_with_its_age_alert_time_minus_event_time(tmp_path):
    from fintech_dataops.lib.monitor.report import latest_alerts

    con = duckdb.connect(str(build_alert_warehouse(tmp_path / "w.duckdb")))
    frame = latest_alerts(con)
    con.close()
    ages = dict(zip(frame["transaction_id"], frame["alert_age_h"]))
    assert ages == {"T-fast": round(2 / 3600, 2), "T-late": 26.0, "T-old": round(60 / 3600, 2)}
    assert list(frame.columns[:3]) == ["event_time", "alerted_at", "alert_age_h"]


def test_actions_taken_in_one_clock_tick_are_folded_in_the_order_they_were_taken(tmp_path, monkeypatch):
    """Seen in CI on a fast machine: assign, note and close within one millisecond sorted by their
    random ids, so the rebuilt case history read assign, close, note."""
    import datetime as dt

    from fintech_dataops.lib.monitor import cases

    frozen = dt.datetime(2026, 11, 30, 12, 0, 0, 123_000, tzinfo=dt.UTC)

    class StoppedClock(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return frozen

    monkeypatch.setattr(cases, "datetime", StoppedClock)
    landing, book = tmp_path / "landing", CaseBook()
    alert = {**alert_rows()[0], "event_time": "2026-11-30T11:54:58", "alerted_at": "2026-11-30T11:55:00"}
    for _ in range(5):
        record_action(book, landing, alert, action="note", analyst="alice", note=f"note {_}")
    record_action(book, landing, alert, action="close", analyst="alice", disposition="confirmed_fraud")
    events = read_landed_events(landing)
    assert [e.get("note") for e in events] == [f"note {i}" for i in range(5)] + [None]
    assert len({e["reported_time"] for e in events}) == 6  # one tick, six distinct, ordered times
    rebuilt = CaseBook.from_landing(landing).get(alert["transaction_id"])
    assert [h["action"] for h in rebuilt.history] == ["note"] * 5 + ["close"]
