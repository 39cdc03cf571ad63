"""Issue 13 item 3: the online service and the core quality gate accept and refuse the same records.

Property: for arbitrary lines (valid transactions with any field missing, null, mistyped or
hostile; odd timestamps and offsets; unassigned countries; repeated keys; extra fields), the
service acknowledges a line exactly when core would store it, and the line the service lands for
an acknowledged record is stored by core too (an acknowledgement means the event reaches core).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.quality.core_gate import load_core_partitions
from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions
from fintech_dataops.lib.realtime.records import MalformedRequest, classify, read_body
from fintech_dataops.schemas.vocabulary import CHANNELS, CURRENCY_CODES

DAY = "2026-10-01"
_MISSING = object()

_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                          st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
_any_json = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)


def _field(valid, *odd):
    return st.one_of(st.just(valid), st.just(_MISSING), st.just(None), *odd, _any_json)


_digits = lambda n: st.integers(0, 10**n - 1).map(lambda v: str(v).zfill(n))  # noqa: E731
_timestamps = st.one_of(
    st.builds(lambda y, mo, d, h, mi, s, frac, sep, off: f"{y}-{mo}-{d}{sep}{h}:{mi}{s}{frac}{off}",
              st.sampled_from(["2026", "2025", "2024", "1970", "0001", "2099", "9999"]),
              st.sampled_from(["01", "02", "10", "12", "13", "00"]), st.sampled_from(["01", "28", "29", "30", "31", "00"]),
              st.sampled_from(["00", "12", "23", "24"]), st.sampled_from(["00", "30", "59", "60"]),
              st.sampled_from(["", ":00", ":59", ":60", ":5"]),
              st.sampled_from(["", ".1", ".123", ".123456", ".123456789", ".", ".1234567890"]),
              st.sampled_from(["T", " ", "t", "_"]),
              st.sampled_from(["", "Z", "z", "+00:00", "+14:00", "-12:00", "+14:30", "+99:00", "+0200",
                               "+02", "-00:30", " UTC", "+05:45"])),
    st.sampled_from(["2026-W01-1", "2026-10-01", "20261001T100000Z", "2026-274", "yesterday", "",
                     " 2026-10-01T10:00:00Z", "2026-10-01T10:00:00Z ", "2026-10-01T10:00:00.Z"]),
)
_amounts = st.one_of(st.floats(min_value=-10, max_value=2e6, allow_nan=False), st.integers(-5, 2_000_000),
                     st.sampled_from([0, 0.001, 1e-300, 1_000_000, 1_000_000.0001, 10**30, 12.345, 900.5, 12.100, 1.5e-3]))
_countries = st.one_of(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2),
                       st.sampled_from(["US", "ZZ", "UK", "XK", "us", "USA", ""]))
_ids = st.one_of(st.text(max_size=70), st.sampled_from(["", "   ", "x" * 64, "x" * 65, "\u00e9\u6771", "a\u0000b"]))


@st.composite
def transaction_lines(draw, index: int) -> str:
    base = {
        "transaction_id": f"T{index}", "customer_id": "C1", "merchant_id": "M1", "amount": 12.5,
        "currency": "USD", "event_time": "2026-10-01T10:00:00Z", "channel": "online",
        "merchant_category": "grocery", "country": "US", "device_id": "D1",
    }
    fields = {
        "transaction_id": _field(f"T{index}", _ids.map(lambda s: f"{index}-{s}")),
        "customer_id": _field("C1", _ids),
        "merchant_id": _field("M1", _ids),
        "amount": _field(12.5, _amounts),
        "currency": _field("USD", st.sampled_from([*CURRENCY_CODES[:3], "JPY", "BHD", "usd", "XXX", ""])),
        "event_time": _field("2026-10-01T10:00:00Z", _timestamps),
        "channel": _field("online", st.sampled_from([*CHANNELS[:3], "Online", ""])),
        "merchant_category": _field("grocery", st.text(max_size=210)),
        "country": _field("US", _countries),
        "device_id": _field("D1", st.text(max_size=10)),
    }
    record = {}
    for name, value in base.items():
        chosen = draw(fields[name]) if draw(st.integers(0, 3)) == 0 else value
        if chosen is not _MISSING:
            record[name] = chosen
    record.update(draw(st.dictionaries(st.sampled_from(["memo", "tags", "amount_minor"]), _any_json, max_size=2)))
    line = json.dumps(record, ensure_ascii=draw(st.booleans()))
    shape = draw(st.integers(0, 19))
    if shape == 0 and record:  # repeat a key with another value
        key = draw(st.sampled_from(sorted(record)))
        line = line[:-1] + ("," if len(record) else "") + f' {json.dumps(key)}: {json.dumps(draw(_json_scalars))}' + "}"
    elif shape == 1:
        line = json.dumps([record])
    elif shape == 2:
        line = line + " " + line  # two documents on one line
    return line


@st.composite
def batches(draw) -> list[str]:
    n = draw(st.integers(1, 12))
    return [draw(transaction_lines(i)) for i in range(n)]


def _core_accepts(lines: list[str], root: Path, now: datetime) -> list[bool]:
    landing_dir = root / "landing"
    landing.land_lines(landing_dir, "transactions", DAY, "b", lines)
    with duckdb.connect() as con:
        load_raw_partitions(con, landing_dir, "transactions", [DAY])
        load_core_partitions(con, "transactions", [DAY], now=now)
        stored = {r[0] for r in con.execute("SELECT line_number FROM core.transactions").fetchall()}
    return [i + 1 in stored for i in range(len(lines))]


def _service_verdict(line: str, now: datetime) -> str | None:
    """The landed line when the service acknowledges ``line`` as a request body, else None."""
    try:
        records, repeated = read_body(line.encode("utf-8", errors="surrogatepass"), batch=False)
    except MalformedRequest:
        return None
    accepted, rejected = classify(records, now, repeated)
    return accepted[0].line if accepted and not rejected else None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lines=batches())
def test_service_and_core_accept_and_refuse_the_same_records(tmp_path_factory, lines):
    now = datetime.now(timezone.utc)
    service = [_service_verdict(line, now) for line in lines]
    core = _core_accepts(lines, tmp_path_factory.mktemp("partner"), now)
    assert [v is not None for v in service] == core, list(zip(lines, service, core))
    acknowledged = [v for v in service if v is not None]
    if acknowledged:  # what the service lands for an acknowledged record is stored by core as well
        assert all(_core_accepts(acknowledged, tmp_path_factory.mktemp("service"), now))


def test_a_line_both_paths_accept_is_typed_identically():
    line = orjson.dumps({"transaction_id": "T1", "customer_id": "C1", "merchant_id": "M1", "amount": 7,
                         "currency": "EUR", "event_time": "2026-10-01T23:30:00.1234567-02:00"}).decode()
    now = datetime(2026, 10, 3, tzinfo=timezone.utc)
    records, repeated = read_body(line.encode(), batch=False)
    accepted, _ = classify(records, now, repeated)
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        stored = con.execute("SELECT TRY_CAST(? AS TIMESTAMPTZ) AT TIME ZONE 'UTC'", [records[0]["event_time"]]).fetchone()[0]
    assert accepted[0].event_time.replace(tzinfo=None) == stored  # same instant, so the same partition day
