from datetime import datetime, timedelta, timezone

import pytest

from fintech_dataops.lib.realtime.records import MalformedRequest, classify, parse_body, raw_lines, record_error
from fintech_dataops_tests.lib.realtime.helpers import tx


def test_a_complete_transaction_is_accepted_with_its_event_time_in_utc():
    record = tx("T1")
    record["event_time"] = "2026-01-31T13:00:00+01:00"
    accepted, rejected = classify([record], now=datetime(2026, 2, 1, tzinfo=timezone.utc))
    assert rejected == []
    assert accepted[0].event_time == datetime(2026, 1, 31, 12, 0, tzinfo=timezone.utc)
    assert accepted[0].line.startswith('{"transaction_id":"T1"')


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"transaction_id": ""}, "transaction_id is required"),
        ({"customer_id": None}, "customer_id is required"),
        ({"amount": "12.50"}, "amount is required and must be a number"),
        ({"amount": True}, "amount is required and must be a number"),
        ({"amount": -5}, "amount must be greater than 0"),
        ({"amount": 0}, "amount must be greater than 0"),
        ({"channel": "telepathy"}, "channel is required"),
        ({"country": "usa"}, "country is required"),
        ({"device_id": 7}, "device_id must be a string or null"),
        ({"transaction_id": "x" * 65}, "longer than 64"),
        ({"currency": "XXX"}, "currency is required"),
        ({"event_time": "yesterday"}, "event_time is required"),
        ({"event_time": (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()}, "in the future"),
    ],
)
def test_malformed_records_get_a_message_naming_the_field(change, message):
    record = {**tx("T1"), **change}
    assert message in record_error(record)


def test_a_batch_keeps_every_rejected_record_with_its_index():
    accepted, rejected = classify([tx("T1"), 42, {**tx("T3"), "amount": None}])
    assert [a.record["transaction_id"] for a in accepted] == ["T1"]
    assert [(r.index, r.line) for r in rejected] == [(1, "42"), (2, rejected[1].line)]
    assert '"amount":null' in rejected[1].line


@pytest.mark.parametrize(
    ("body", "batch", "message"),
    [
        (b"", False, "empty request body"),
        (b"{not json", False, "not valid JSON"),
        (b"[1, 2]", False, "one JSON object"),
        (b'{"a": 1}', True, "JSON list of transactions"),
        (b"[]", True, "batch is empty"),
    ],
)
def test_unreadable_bodies_raise_a_clear_message(body, batch, message):
    with pytest.raises(MalformedRequest, match=message):
        parse_body(body, batch=batch)


def test_batch_body_accepts_a_list_or_a_wrapper_object():
    assert parse_body(b'[{"a": 1}]', batch=True) == [{"a": 1}]
    assert parse_body(b'{"transactions": [{"a": 1}]}', batch=True) == [{"a": 1}]


def test_raw_lines_keep_an_unreadable_body_line_by_line():
    assert raw_lines(b"not json\nsecond\n") == ["not json", "second"]
    assert raw_lines(b"\xff\xfe") == ["\\xff\\xfe"]
    assert raw_lines(b"") == [""]
