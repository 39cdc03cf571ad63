"""The bad-input corpus: every case asserts where the record ends up and with which reason."""

import json
from pathlib import Path

import duckdb
import pytest

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.quality.core_gate import load_core_partitions, write_dq_scores
from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions

DAY = "2026-10-01"
GOOD = {
    "transaction_id": "T-GOOD", "customer_id": "C0000001", "merchant_id": "M000001", "amount": 12.5,
    "currency": "USD", "event_time": "2026-10-01T10:00:00.123Z", "channel": "ecommerce",
    "merchant_category": "grocery", "country": "US", "device_id": "DV00000001",
}


def record(**changes) -> str:
    rec = {**GOOD, "transaction_id": f"T-{abs(hash(json.dumps(changes, sort_keys=True, default=str)))}"}
    for key, value in changes.items():
        if value is _MISSING:
            rec.pop(key)
        else:
            rec[key] = value
    return json.dumps(rec, ensure_ascii=False)


_MISSING = object()

# (case id, landed line, expected checks (None = lands in core), expected failed columns)
CORPUS = [
    ("valid", record(), None, None),
    ("missing_required_field", record(customer_id=_MISSING), ["missing_field"], ["customer_id"]),
    ("null_in_required_field", record(amount=None), ["not_nullable"], ["amount"]),
    ("null_in_nullable_field", record(device_id=None), None, None),
    ("missing_nullable_field", record(merchant_category=_MISSING), None, None),
    ("wrong_type_amount_string", record(amount="12.5x"), ["wrong_type"], ["amount"]),
    ("numeric_string_is_not_a_number", record(amount="12.5"), ["wrong_type"], ["amount"]),
    ("wrong_type_id_as_number", record(transaction_id=12345), ["wrong_type"], ["transaction_id"]),
    ("boolean_amount", record(amount=True), ["wrong_type"], ["amount"]),
    ("negative_amount", record(amount=-5.0), ["greater_than"], ["amount"]),
    ("zero_amount", record(amount=0), ["greater_than"], ["amount"]),
    ("nan_amount", record(amount=1.0).replace('"amount": 1.0', '"amount": NaN'), ["wrong_type"], ["amount"]),
    ("infinity_amount", record(amount=1.0).replace('"amount": 1.0', '"amount": Infinity'), ["wrong_type"], ["amount"]),
    ("negative_infinity_amount", record(amount=1.0).replace('"amount": 1.0', '"amount": -Infinity'), ["wrong_type"], ["amount"]),
    ("huge_amount", record(amount=1e12), ["less_than_or_equal_to"], ["amount"]),
    ("overflowing_amount", record(amount=1.0).replace('"amount": 1.0', '"amount": 1e999'), ["wrong_type"], ["amount"]),
    ("integer_amount_is_fine", record(amount=42), None, None),
    # ISO 4217 minor units: more decimals than the currency allows is bad input, never rounded away.
    ("usd_three_decimals", record(amount=12.345, currency="USD"), ["minor_units"], ["amount"]),
    ("usd_trailing_zero_is_fine", record(amount=2.0).replace('"amount": 2.0', '"amount": 12.100'), None, None),
    ("jpy_with_decimals", record(amount=900.5, currency="JPY"), ["minor_units"], ["amount"]),
    ("jpy_whole_yen", record(amount=900, currency="JPY"), None, None),
    ("bhd_three_decimals_is_fine", record(amount=12.345, currency="BHD"), None, None),
    ("bhd_four_decimals", record(amount=12.3456, currency="BHD"), ["minor_units"], ["amount"]),
    ("usd_exponent_with_cents", record(amount=3.0).replace('"amount": 3.0', '"amount": 1.25e1'), None, None),
    ("usd_exponent_sub_cent", record(amount=4.0).replace('"amount": 4.0', '"amount": 1.2345e1'), ["minor_units"], ["amount"]),
    ("usd_fifteen_decimals", record(amount=5.0).replace('"amount": 5.0', '"amount": 1.000000000000001'),
     ["minor_units"], ["amount"]),
    ("unknown_currency", record(currency="XXX"), ["isin"], ["currency"]),
    ("lowercase_currency", record(currency="usd"), ["isin"], ["currency"]),
    ("unknown_channel", record(channel="carrier_pigeon"), ["isin"], ["channel"]),
    ("bad_country_code", record(country="USA"), ["iso_country"], ["country"]),
    ("unparseable_timestamp", record(event_time="2026-13-45T99:00"), ["unparseable_timestamp"], ["event_time"]),
    ("timestamp_not_a_string", record(event_time=1759312800), ["wrong_type"], ["event_time"]),
    ("future_timestamp", record(event_time="2099-01-01T00:00:00Z"), ["not_in_future"], ["event_time"]),
    ("timestamp_with_offset", record(event_time="2026-10-01T12:00:00+02:00"), None, None),
    ("naive_timestamp_is_utc", record(event_time="2026-10-01 10:00:00"), None, None),
    ("empty_id", record(transaction_id=""), ["str_length"], ["transaction_id"]),
    ("extra_unknown_fields_allowed", record(loyalty_tier="gold", nested={"a": [1, 2]}), None, None),
    ("unicode_strings", record(merchant_category="épicerie fine — 東京 🍣"), None, None),
    ("escaped_control_characters", record(merchant_category="tab\there\u0001bell\u0000nul"), None, None),
    ("raw_control_character", record(merchant_category="x").replace('"x"', '"a\u0001b"'), ["invalid_json"], []),
    ("empty_line", "", ["invalid_json"], []),
    ("whitespace_line", "   ", ["invalid_json"], []),
    ("invalid_json", '{"transaction_id": "T-broken", "amount": 12.5', ["invalid_json"], []),
    ("not_json_at_all", "hello, world", ["invalid_json"], []),
    ("json_array", json.dumps([GOOD]), ["not_an_object"], []),
    ("json_string", '"just a string"', ["not_an_object"], []),
    ("json_null", "null", ["not_an_object"], []),
    ("object_after_leading_whitespace", " \t" + record(merchant_id="M-WS"), None, None),
    ("array_after_leading_whitespace", "  " + json.dumps([1]), ["not_an_object"], []),
    ("several_failures_at_once", record(amount=-1, currency="ZZZ", customer_id=_MISSING),
     ["greater_than", "isin", "missing_field"], ["amount", "currency", "customer_id"]),
    # issue 13: what the shared record validator refuses, core refuses too
    ("six_contract_fields_only", json.dumps({k: GOOD[k] for k in (
        "transaction_id", "customer_id", "merchant_id", "amount", "currency", "event_time")} | {"transaction_id": "T-SIX"}),
     None, None),
    ("null_channel_and_country_are_unknown", record(channel=None, country=None), None, None),
    ("unassigned_country_zz", record(country="ZZ"), ["iso_country"], ["country"]),
    ("year_one", record(event_time="0001-01-01T00:00:00Z"), ["not_before_first_day"], ["event_time"]),
    ("year_1900", record(event_time="1900-06-01T00:00:00Z"), ["not_before_first_day"], ["event_time"]),
    ("unix_epoch", record(event_time="1970-01-01T00:00:00Z"), ["not_before_first_day"], ["event_time"]),
    ("iso_week_date", record(event_time="2026-W01-1"), ["unparseable_timestamp"], ["event_time"]),
    ("offset_beyond_14_hours", record(event_time="2026-10-01T10:00:00+99:00"), ["unparseable_timestamp"], ["event_time"]),
    ("repeated_key", record().replace('"amount": 12.5', '"amount": 12.5, "amount": 999999'), ["duplicate_key"], []),
    ("record_too_large", record(note="x" * 20_000), ["record_too_large"], []),
    ("refused_by_service", json.dumps({"refused_by_service": {"status": 400, "error": "request body is not valid JSON"}}),
     ["refused_by_service"], []),
]


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    """Land the whole corpus as one batch, run raw → core once, return (core ids, quarantine rows)."""
    root = tmp_path_factory.mktemp("corpus")
    landing_dir = root / "landing"
    landing.land_lines(landing_dir, "transactions", DAY, "corpus", [line for _, line, _, _ in CORPUS])
    con = duckdb.connect(str(root / "w.duckdb"))
    load_raw_partitions(con, landing_dir, "transactions", [DAY])
    result = load_core_partitions(con, "transactions", [DAY])
    core_lines = {r[0] for r in con.execute("SELECT line_number FROM core.transactions").fetchall()}
    quarantine = {
        r[0]: {"checks": r[1], "columns": r[2], "reason": r[3], "record": r[4]}
        for r in con.execute(
            "SELECT line_number, failed_checks, failed_columns, reason, record FROM quarantine.transactions"
        ).fetchall()
    }
    con.close()
    return result, core_lines, quarantine


@pytest.mark.parametrize("index", range(len(CORPUS)), ids=[case[0] for case in CORPUS])
def test_corpus_case_lands_where_expected(judged, index):
    _, core_lines, quarantine = judged
    case_id, line, checks, columns = CORPUS[index]
    line_number = index + 1
    if checks is None:
        assert line_number in core_lines, f"{case_id} should be valid: {quarantine.get(line_number)}"
        assert line_number not in quarantine
        return
    assert line_number not in core_lines
    row = quarantine[line_number]
    assert row["checks"] == sorted(checks)
    assert row["columns"] == sorted(columns)
    assert row["record"] == line, "the quarantine keeps the original text"
    assert row["reason"], "a human reason is always given"
    for column in columns:
        assert column in row["reason"]


def test_corpus_reconciles_and_scores(judged):
    result, core_lines, quarantine = judged
    assert result.raw_rows == len(CORPUS) == len(core_lines) + len(quarantine)
    expected_valid = sum(1 for case in CORPUS if case[2] is None)
    assert result.valid_rows == expected_valid
    assert result.dq_score == pytest.approx(100 * expected_valid / len(CORPUS), abs=1e-3)


def test_unicode_and_control_characters_survive_typed(tmp_path: Path):
    landing_dir = tmp_path / "landing"
    landing.land_lines(landing_dir, "transactions", DAY, "b1", [record(merchant_category="a\u0000b\tc — 東京")])
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_raw_partitions(con, landing_dir, "transactions", [DAY])
    load_core_partitions(con, "transactions", [DAY])
    assert con.execute("SELECT merchant_category FROM core.transactions").fetchone()[0] == "a\u0000b\tc — 東京"


def test_duplicate_id_within_batch_keeps_the_first_valid_line(tmp_path: Path):
    landing_dir = tmp_path / "landing"
    first_invalid = json.dumps({**GOOD, "transaction_id": "T-DUP", "amount": -1})
    good = json.dumps({**GOOD, "transaction_id": "T-DUP"})
    landing.land_lines(landing_dir, "transactions", DAY, "b1", [first_invalid, good, good])
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_raw_partitions(con, landing_dir, "transactions", [DAY])
    load_core_partitions(con, "transactions", [DAY])
    assert con.execute("SELECT line_number FROM core.transactions").fetchall() == [(2,)]
    assert con.execute(
        "SELECT line_number, failed_checks FROM quarantine.transactions ORDER BY 1"
    ).fetchall() == [(1, ["greater_than"]), (3, ["duplicate_id"])]


def test_duplicate_id_across_batches_and_partitions(tmp_path: Path):
    landing_dir = tmp_path / "landing"
    line = json.dumps({**GOOD, "transaction_id": "T-X"})
    landing.land_lines(landing_dir, "transactions", DAY, "b1", [line])
    landing.land_lines(landing_dir, "transactions", DAY, "b2", [line])  # same day, another batch
    landing.land_lines(landing_dir, "transactions", "2026-10-02", "b1", [line])  # next day
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_raw_partitions(con, landing_dir, "transactions", [DAY, "2026-10-02"])
    load_core_partitions(con, "transactions", [DAY])
    load_core_partitions(con, "transactions", ["2026-10-02"])
    assert con.execute("SELECT source_file FROM core.transactions").fetchall() == [
        (f"transactions/date={DAY}/b1.jsonl",)
    ]
    assert con.execute(
        "SELECT CAST(partition_date AS VARCHAR), failed_checks FROM quarantine.transactions ORDER BY 1"
    ).fetchall() == [(DAY, ["duplicate_id"]), ("2026-10-02", ["duplicate_id_across_partitions"])]


def test_empty_file_and_zero_byte_partition_give_empty_typed_tables(tmp_path: Path):
    landing_dir = tmp_path / "landing"
    landing.land_batch(landing_dir, "transactions", DAY, "empty", b"")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_raw_partitions(con, landing_dir, "transactions", [DAY, "2026-10-02"])  # 2026-10-02: nothing landed
    result = load_core_partitions(con, "transactions", [DAY, "2026-10-02"])
    assert (result.raw_rows, result.valid_rows, result.quarantined_rows) == (0, 0, 0)
    assert result.dq_score == 100.0
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_schema = 'core' AND table_name = 'transactions'").fetchall())
    assert types["amount"] == "DECIMAL(18,3)" and types["event_time"] == "TIMESTAMP" and types["line_number"] == "BIGINT"
    assert con.execute("SELECT count(*) FROM quarantine.transactions").fetchone()[0] == 0
    assert write_dq_scores(con, ["transactions"], [DAY, "2026-10-02"]) == 2
    assert con.execute("SELECT raw_rows, valid_rows, quarantined_rows, dq_score FROM quality.dq_scores").fetchall() \
        == [(0, 0, 0, 100.0)] * 2


def test_no_raw_table_at_all_is_an_empty_partition(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    result = load_core_partitions(con, "customers", [DAY])
    assert result.raw_rows == 0
    assert con.execute("SELECT count(*) FROM core.customers").fetchone()[0] == 0


def test_invalid_utf8_line_is_quarantined_with_its_reason(tmp_path: Path):
    landing_dir = tmp_path / "landing"
    landing.land_batch(landing_dir, "transactions", DAY, "b1", (json.dumps(GOOD) + "\n").encode() + b'{"a": "\xff"}\n')
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    load_raw_partitions(con, landing_dir, "transactions", [DAY])
    load_core_partitions(con, "transactions", [DAY])
    assert con.execute("SELECT count(*) FROM core.transactions").fetchone()[0] == 1
    assert con.execute("SELECT failed_checks FROM quarantine.transactions").fetchone()[0] == ["invalid_utf8"]
