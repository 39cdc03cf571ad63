"""Every entry under landing/ is loaded or reported as unroutable with its reason (issue 13, item 9)."""

import json
import os
from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.ingestion import landing_audit
from fintech_dataops.lib.ingestion.landing_audit import RoutableFeed, count_records, scan_unroutable, write_unroutable
from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions

FEEDS = [RoutableFeed("transactions", date(2025, 1, 1), date(2026, 11, 30)), RoutableFeed("stripe_charges")]
LINE = json.dumps({"transaction_id": "T1", "amount": 1.5}) + "\n"


def reasons(landing_dir, **kwargs) -> dict[str, str]:
    return {e.path: e.reason for e in scan_unroutable(landing_dir, FEEDS, **kwargs)}


def put(path, text=LINE):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_clean_landing_zone_has_nothing_unroutable(landing_dir):
    landing.land_lines(landing_dir, "transactions", "2026-11-04", "b1", [LINE])
    landing.land_batch(landing_dir, "transactions", "2026-11-04", "b2", b"", suffix=".parquet")
    landing.land_lines(landing_dir, "stripe_charges", "2026-11-04", "b1", [LINE])
    (landing_dir / "transactions" / "date=2026-11-04" / "link.jsonl").symlink_to("/etc/hostname")
    assert scan_unroutable(landing_dir, FEEDS) == []


@pytest.mark.parametrize(("relative", "reason"), [
    ("transactions/date=2026-11-04/batch.json", landing_audit.UNSUPPORTED_SUFFIX),
    ("transactions/date=2026-11-04/batch.JSONL", landing_audit.UNSUPPORTED_SUFFIX),
    ("transactions/date=2026-11-04/batch", landing_audit.UNSUPPORTED_SUFFIX),
    ("transactions/date=2026-11-04/.hidden.jsonl", landing_audit.HIDDEN_FILE),
    ("transactions/date=2026-13-45/batch.jsonl", landing_audit.INVALID_PARTITION_DATE),
    ("transactions/date=2026-11-04T00/batch.jsonl", landing_audit.INVALID_PARTITION_DATE),
    ("transactions/date=20261104/batch.jsonl", landing_audit.INVALID_PARTITION_DATE),
    ("transactions/date=1970-01-01/batch.jsonl", landing_audit.DATE_OUTSIDE_PARTITIONS),
    ("transactions/date=2099-01-01/batch.jsonl", landing_audit.DATE_OUTSIDE_PARTITIONS),
    ("transactions/2026-11-04/batch.jsonl", landing_audit.NOT_IN_DATE_FOLDER),
    ("transactions/batch.jsonl", landing_audit.NOT_IN_DATE_FOLDER),
    ("batch.jsonl", landing_audit.NOT_IN_FEED_FOLDER),
    ("transaction/date=2026-11-04/batch.jsonl", landing_audit.UNKNOWN_FEED),
    ("transactions/date=2026-11-04/sub/batch.jsonl", landing_audit.DIRECTORY_IN_PARTITION),
])
def test_each_silent_skip_is_reported_with_its_reason_and_records(landing_dir, relative, reason):
    put(landing_dir / relative, LINE + LINE.rstrip("\n"))  # two records, the last without newline
    found = scan_unroutable(landing_dir, FEEDS)
    assert len(found) == 1, found
    entry = found[0]
    assert entry.reason == reason
    assert entry.records == 2
    assert entry.size_bytes == len(LINE) * 2 - 1
    assert entry.detail == landing_audit.REASON_HELP[reason] or entry.detail.endswith(landing_audit.REASON_HELP[reason])
    assert entry.feed == (None if "/" not in relative else relative.split("/")[0])


def test_a_directory_named_like_a_batch_is_reported_and_the_partition_day_kept(landing_dir):
    (landing_dir / "transactions" / "date=2026-11-04" / "x.jsonl").mkdir(parents=True)
    [entry] = scan_unroutable(landing_dir, FEEDS)
    assert (entry.path, entry.reason, entry.entry_type) == (
        "transactions/date=2026-11-04/x.jsonl", landing_audit.DIRECTORY_IN_PARTITION, "directory")
    assert entry.partition_date == date(2026, 11, 4) and entry.records == 0


def test_an_empty_bad_date_folder_is_reported_itself(landing_dir):
    (landing_dir / "transactions" / "date=2026-13-45").mkdir(parents=True)
    assert reasons(landing_dir) == {"transactions/date=2026-13-45": landing_audit.INVALID_PARTITION_DATE}


def test_open_banking_feeds_have_no_partition_range(landing_dir):
    put(landing_dir / "stripe_charges" / "date=1999-01-01" / "b.jsonl")
    assert reasons(landing_dir) == {}


def test_temp_files_are_in_flight_until_the_grace_period_then_stale(landing_dir):
    temp = put(landing_dir / "transactions" / "date=2026-11-04" / ".tmp-abc.part")
    old = datetime.now(timezone.utc) - timedelta(hours=2)
    os.utime(temp, (old.timestamp(), old.timestamp()))
    assert reasons(landing_dir, temp_grace_seconds=3 * 3600) == {}
    assert reasons(landing_dir, temp_grace_seconds=3600) == {
        "transactions/date=2026-11-04/.tmp-abc.part": landing_audit.STALE_TEMP_FILE}


def test_a_fifo_is_reported_not_read(landing_dir):
    folder = landing_dir / "transactions" / "date=2026-11-04"
    folder.mkdir(parents=True)
    os.mkfifo(folder / "pipe.jsonl")
    [entry] = scan_unroutable(landing_dir, FEEDS)
    assert (entry.reason, entry.entry_type) == (landing_audit.NOT_A_REGULAR_FILE, "other")


def test_every_landed_line_is_in_raw_or_in_an_unroutable_entry(landing_dir):
    """The issue's 4 lost records: each named case is now either loaded or counted."""
    day = "2026-11-04"
    landing.land_lines(landing_dir, "transactions", day, "good", [LINE])
    cases = ["batch.json", "batch.JSONL", ".hidden.jsonl"]
    for name in cases:
        put(landing_dir / "transactions" / f"date={day}" / name)
    (landing_dir / "transactions" / f"date={day}" / "x.jsonl").mkdir()
    put(landing_dir / "transactions" / "date=2026-13-45" / "b.jsonl")
    put(landing_dir / "transactions" / "date=2026-11-04T00" / "b.jsonl")
    con = duckdb.connect()
    loaded = load_raw_partitions(con, landing_dir, "transactions", [day]).rows
    found = scan_unroutable(landing_dir, FEEDS)
    assert loaded == 1
    assert sum(e.records for e in found) == 5
    assert len(found) == 6
    write_unroutable(con, found)
    rows = con.execute("SELECT path, reason, records, partition_date FROM quality.unroutable_files ORDER BY path").fetchall()
    assert [r[0] for r in rows] == sorted(e.path for e in found)
    assert con.execute("SELECT sum(records) FROM quality.unroutable_files").fetchone()[0] == 5
    from fintech_dataops.lib.analytics.run_summary import platform_summary

    summary = platform_summary(con)
    assert "Unroutable landing entries: 6 (5 records never loaded" in summary
    assert "transactions/date=2026-13-45/b.jsonl" in summary
    # A rescan replaces the table: fixing the landing zone empties it.
    write_unroutable(con, [])
    assert "Unroutable" not in platform_summary(con)
    assert con.execute("SELECT count(*) FROM quality.unroutable_files").fetchone()[0] == 0


def test_count_records_counts_lines_with_or_without_final_newline(tmp_path):
    assert count_records(put(tmp_path / "a", "")) == 0
    assert count_records(put(tmp_path / "b", "x")) == 1
    assert count_records(put(tmp_path / "c", "x\ny\n")) == 2
    assert count_records(put(tmp_path / "d", "x\n\ny")) == 3
