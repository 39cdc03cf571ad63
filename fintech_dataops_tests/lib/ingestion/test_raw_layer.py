from pathlib import Path

import duckdb
import pytest

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions

DAY = "2026-10-01"


@pytest.fixture()
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield connection
    connection.close()


def rows(con, feed="transactions"):
    return con.execute(
        f"SELECT source_file, line_number, record, record_bytes FROM raw.{feed} ORDER BY source_file, line_number"
    ).fetchall()


def test_every_line_is_a_row_with_its_original_text(con, landing_dir):
    lines = [
        '{"transaction_id": "T1", "amount": 12.5}',
        '{"transaction_id": "T2", "amount": "12.5x"}',
        "not json at all",
        "",
        '["an", "array"]',
        '{"transaction_id": "T3", "amount": NaN}',
    ]
    landing.land_lines(landing_dir, "transactions", DAY, "b1", lines)
    result = load_raw_partitions(con, landing_dir, "transactions", [DAY])
    assert result.rows == len(lines)
    stored = rows(con)
    assert [r[2] for r in stored] == lines
    assert [r[1] for r in stored] == list(range(1, len(lines) + 1))
    assert {r[0] for r in stored} == {f"transactions/date={DAY}/b1.jsonl"}


def test_invalid_utf8_keeps_exact_bytes(con, landing_dir):
    landing.land_batch(landing_dir, "transactions", DAY, "b1", b'{"a": 1}\n\xff\xfe{"a": 2}\n')
    load_raw_partitions(con, landing_dir, "transactions", [DAY])
    stored = rows(con)
    assert len(stored) == 2
    assert stored[0][2] == '{"a": 1}' and stored[0][3] is None
    assert bytes(stored[1][3]) == b'\xff\xfe{"a": 2}'


def test_empty_file_and_missing_partition_load_zero_rows(con, landing_dir):
    landing.land_batch(landing_dir, "transactions", DAY, "empty", b"")
    result = load_raw_partitions(con, landing_dir, "transactions", [DAY, "2026-10-02"])
    assert result.rows == 0 and result.files == 1
    assert con.execute("SELECT count(*) FROM raw.transactions").fetchone()[0] == 0


def test_rerun_replaces_exactly_its_partition(con, landing_dir):
    landing.land_lines(landing_dir, "transactions", DAY, "b1", ["a", "b"])
    landing.land_lines(landing_dir, "transactions", "2026-10-02", "b1", ["c"])
    for _ in range(3):
        load_raw_partitions(con, landing_dir, "transactions", [DAY, "2026-10-02"])
    assert con.execute("SELECT count(*) FROM raw.transactions").fetchone()[0] == 3
    # A late file for day 1: a rerun of day 1 picks it up without touching day 2.
    landing.land_lines(landing_dir, "transactions", DAY, "b2", ["d"])
    load_raw_partitions(con, landing_dir, "transactions", [DAY])
    counts = dict(con.execute(
        "SELECT CAST(partition_date AS VARCHAR), count(*) FROM raw.transactions GROUP BY 1"
    ).fetchall())
    assert counts == {DAY: 3, "2026-10-02": 1}


def test_parquet_rows_are_loaded_as_json_text(con, landing_dir, tmp_path):
    source = tmp_path / "src.parquet"
    duckdb.sql("SELECT 'T1' AS transaction_id, 10.5 AS amount UNION ALL SELECT 'T2', 3.0").write_parquet(str(source))
    landing.land_batch(landing_dir, "transactions", DAY, "pq", source.read_bytes(), suffix=".parquet")
    load_raw_partitions(con, landing_dir, "transactions", [DAY])
    records = sorted(r[2] for r in rows(con))
    assert records == ['{"transaction_id":"T1","amount":10.5}', '{"transaction_id":"T2","amount":3.0}']


def test_failed_load_keeps_the_previous_partition(con, landing_dir, monkeypatch):
    landing.land_lines(landing_dir, "transactions", DAY, "b1", ["a", "b"])
    load_raw_partitions(con, landing_dir, "transactions", [DAY])
    landing.land_lines(landing_dir, "transactions", DAY, "b2", ["c"])

    from fintech_dataops.lib import warehouse

    original = warehouse._add_missing_columns

    def crash_midway(*args, **kwargs):
        original(*args, **kwargs)
        con.execute("DELETE FROM raw.transactions")  # the delete happens inside the transaction …
        raise RuntimeError("process died")  # … and is rolled back with it

    monkeypatch.setattr(warehouse, "_add_missing_columns", crash_midway)
    with pytest.raises(RuntimeError):
        load_raw_partitions(con, landing_dir, "transactions", [DAY])
    assert sorted(r[2] for r in rows(con)) == ["a", "b"]
