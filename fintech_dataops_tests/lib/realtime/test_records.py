from datetime import datetime, timedelta, timezone

import orjson
import pytest

from fintech_dataops.lib.realtime.records import MalformedRequest, classify, parse_body, raw_lines, read_body
from fintech_dataops_tests.lib.realtime.helpers import tx


def record_error(record) -> str | None:
    """The service's reason for refusing one record (None when it is acknowledged)."""
    _, rejected = classify([record])
    return rejected[0].error if rejected else None


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
        ({"transaction_id": ""}, "transaction_id: must not be empty"),
        ({"transaction_id": "   "}, "transaction_id: must not be empty"),
        ({"customer_id": None}, "customer_id: null not allowed"),
        ({"amount": "12.50"}, "amount: expected a number"),
        ({"amount": True}, "amount: expected a number"),
        ({"amount": -5}, "amount: must be greater than 0"),
        ({"amount": 0}, "amount: must be greater than 0"),
        ({"channel": "telepathy"}, "channel: not an allowed channel"),
        ({"country": "usa"}, "country: not an assigned ISO 3166-1"),
        ({"country": "ZZ"}, "country: not an assigned ISO 3166-1"),
        ({"device_id": 7}, "device_id: expected a string"),
        ({"transaction_id": "x" * 65}, "longer than 64"),
        ({"currency": "XXX"}, "currency: not an accepted ISO 4217"),
        ({"amount": 12.345}, "amount: more decimals than USD allows (2)"),
        ({"amount": 900.5, "currency": "JPY"}, "amount: more decimals than JPY allows (0)"),
        ({"event_time": "yesterday"}, "event_time: not an ISO-8601 timestamp"),
        ({"event_time": "2026-W01-1"}, "event_time: not an ISO-8601 timestamp"),
        ({"event_time": "2026-01-01T00:00:00+99:00"}, "event_time: not an ISO-8601 timestamp"),
        ({"event_time": "0001-01-01T00:00:00Z"}, "event_time: before the platform's first day"),
        ({"event_time": "1900-06-01T00:00:00Z"}, "event_time: before the platform's first day"),
        ({"event_time": "1970-01-01T00:00:00Z"}, "event_time: before the platform's first day"),
        ({"event_time": (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()}, "ahead of the clock"),
        ({"note": "x" * 1_500_000}, "record longer than 16,384 bytes"),
        ({"refused_by_service": {"status": 400}}, "refused by the online service"),
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
    assert rejected[1].as_json()["field"] == "amount" and rejected[1].as_json()["check"] == "not_nullable"


def test_the_six_contract_fields_are_enough_and_null_channel_country_mean_unknown():
    six = {k: tx("T1")[k] for k in ("transaction_id", "customer_id", "merchant_id", "amount", "currency", "event_time")}
    accepted, rejected = classify([six, {**tx("T2"), "channel": None, "country": None}])
    assert rejected == [] and len(accepted) == 2


def test_an_id_repeated_within_one_request_is_refused():
    _, rejected = classify([tx("T1"), tx("T1", amount=999_999.0)])
    assert [(r.index, r.failures[0].check) for r in rejected] == [(1, "duplicate_id")]


@pytest.mark.parametrize("batch", [False, True])
def test_a_repeated_json_key_is_refused_not_resolved(batch):
    """orjson keeps the last of a repeated key and DuckDB the first: the record is ambiguous, refused."""
    one = b'{"transaction_id": "T1", "customer_id": "C1", "merchant_id": "M1", "amount": 5, "amount": 999999, ' \
          b'"currency": "USD", "event_time": "2026-10-01T10:00:00Z"}'
    records, repeated = read_body(b"[" + one + b"]" if batch else one, batch=batch)
    assert repeated == [["amount"]]
    _, rejected = classify(records, repeated=repeated)
    assert rejected[0].failures[0].check == "duplicate_key"


def test_a_batch_wrapper_with_a_repeated_key_is_unreadable():
    with pytest.raises(MalformedRequest, match="repeats key"):
        read_body(b'{"transactions": [], "transactions": [{"a": 1}]}', batch=True)


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


@pytest.mark.parametrize("separator", ['":', '" :', '"\t:', '"\n :'])
def test_a_repeated_key_is_found_whatever_the_spacing(separator):
    from fintech_dataops.schemas.transaction_contract import Window, judge_line

    line = orjson.dumps(tx("T1")).decode()[:-1] + ', "amount' + separator + " 999999}"
    verdict = judge_line(line, Window.at())
    assert [f.check for f in verdict.failures] == ["duplicate_key"]
