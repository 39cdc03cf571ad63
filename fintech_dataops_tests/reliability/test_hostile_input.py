"""Hostile bytes in the landing zone: every line reaches raw, exactly or flagged; nothing raises."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.ingestion.limits import (
    FILE_TOO_LARGE, LINE_TOO_LONG, UNREADABLE_FILE, IngestLimits, truncate_line,
)
from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions

DAY = "2026-10-01"

# Bytes that stress the text path: newlines, CR, NUL, invalid UTF-8, multi-byte characters.
hostile_bytes = st.one_of(
    st.binary(max_size=400),
    st.lists(
        st.sampled_from([b"\n", b"\r", b"\x00", b"\xff", b"\xc3", b"\xa9", "é".encode(), "€".encode(),
                         "😀".encode(), b'{"amount": 1}', b"a", b"\\", b"'", b'"']),
        max_size=80,
    ).map(b"".join),
)


def expected_lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines = lines[:-1]
    return [] if data == b"" else lines


def stored_bytes(record: str, record_bytes: bytes | None) -> bytes:
    return bytes(record_bytes) if record_bytes is not None else record.encode("utf-8")


def load(data: bytes, limits: IngestLimits | None = None, suffix: str = ".jsonl"):
    with tempfile.TemporaryDirectory() as tmp:
        landing_dir = Path(tmp) / "landing"
        landing.land_batch(landing_dir, "transactions", DAY, "b1", data, suffix=suffix)
        con = duckdb.connect()  # in memory: the property is about parsing, not storage
        try:
            result = load_raw_partitions(con, landing_dir, "transactions", [DAY], limits=limits)
            rows = con.execute(
                "SELECT line_number, record, record_bytes, original_bytes, ingest_issue "
                "FROM raw.transactions ORDER BY line_number"
            ).fetchall()
        finally:
            con.close()
    return result, rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=hostile_bytes)
def test_any_bytes_land_in_raw_line_for_line_with_exact_bytes(data: bytes):
    result, rows = load(data)
    lines = expected_lines(data)
    assert result.rows == len(rows) == len(lines)
    assert [r[0] for r in rows] == list(range(1, len(lines) + 1))
    assert [stored_bytes(r[1], r[2]) for r in rows] == lines
    assert [r[3] for r in rows] == [len(line) for line in lines]
    assert all(r[4] is None for r in rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=hostile_bytes, max_line_bytes=st.integers(min_value=16, max_value=64))
def test_long_lines_are_kept_truncated_and_flagged(data: bytes, max_line_bytes: int):
    limits = IngestLimits(max_line_bytes=max_line_bytes)
    result, rows = load(data, limits)
    lines = expected_lines(data)
    assert len(rows) == len(lines)
    for (_, record, record_bytes, original_bytes, issue), line in zip(rows, lines):
        kept = stored_bytes(record, record_bytes)
        assert original_bytes == len(line)
        assert len(kept) <= max_line_bytes
        assert line.startswith(kept)
        if len(line) > max_line_bytes:
            assert issue == LINE_TOO_LONG and len(kept) >= max_line_bytes - 3
        else:
            assert issue is None and kept == line
    assert result.truncated_lines == sum(len(line) > max_line_bytes for line in lines)


def test_a_huge_line_is_truncated_on_a_character_boundary():
    line = ("€" * 100).encode()  # 3 bytes per character: a 32-byte cut lands mid-character
    _, rows = load(line + b"\n" + b'{"ok": 1}\n', IngestLimits(max_line_bytes=32))
    assert rows[0][1] == "€" * 10 and rows[0][3] == 300 and rows[0][4] == LINE_TOO_LONG
    assert rows[1][1] == '{"ok": 1}' and rows[1][4] is None


def test_a_too_large_file_is_refused_with_a_visible_row():
    result, rows = load(b'{"a": 1}\n' * 100, IngestLimits(max_file_bytes=500))
    assert rows == [(0, "", None, 900, FILE_TOO_LARGE)]
    assert result.refused_files == 1 and result.bytes_read == 0


def test_a_damaged_parquet_file_is_flagged_not_raised():
    _, rows = load(b"PAR1 this is not parquet", suffix=".parquet")
    assert rows == [(0, "", None, 24, UNREADABLE_FILE)]


@pytest.mark.parametrize("line", [b"a" * 40, "é".encode() * 20, b"\xff" * 40, b"ab\xe2\x82"])
def test_truncate_line_never_exceeds_the_limit(line: bytes):
    kept = truncate_line(line, 16)
    assert len(kept) <= 16 and line.startswith(kept)


def test_limits_reject_nonsense():
    with pytest.raises(ValueError):
        IngestLimits(max_line_bytes=0)
    with pytest.raises(ValueError):
        IngestLimits(max_file_bytes=0)
