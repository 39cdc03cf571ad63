"""Lossless raw load: every landed line becomes one row of ``raw.<feed>``.

The raw layer does not parse or judge records. It keeps the original text of
every line (``record``) with its lineage (source file, 1-based line number,
ingest time). A line that is not valid UTF-8 keeps its exact bytes in
``record_bytes`` and a readable escaped copy in ``record``. Validation happens
in the core layer, which quarantines what fails.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from fintech_dataops.lib import landing
from fintech_dataops.lib.warehouse import replace_partitions

RAW_COLUMNS = (
    "partition_date", "source_file", "line_number", "record", "record_bytes", "ingested_at",
)

# DuckDB builds the rows of a file itself (read_text + string_split): no Python loop per line.
_JSONL_SQL = """
SELECT
    CAST($partition_date AS DATE)          AS partition_date,
    CAST($source_file AS VARCHAR)          AS source_file,
    CAST(line_number AS BIGINT)            AS line_number,
    CAST(record AS VARCHAR)                AS record,
    CAST(NULL AS BLOB)                     AS record_bytes,
    CAST($ingested_at AS TIMESTAMPTZ)      AS ingested_at
FROM (
    SELECT unnest(lines) AS record, unnest(range(1, len(lines) + 1)) AS line_number, len(lines) AS n
    FROM (SELECT string_split(content, chr(10)) AS lines FROM read_text($path))
)
-- the empty string after the final newline is not a record; an empty line elsewhere is
WHERE NOT (line_number = n AND record = '')
"""

_PARQUET_SQL = """
SELECT
    CAST($partition_date AS DATE)          AS partition_date,
    CAST($source_file AS VARCHAR)          AS source_file,
    CAST(row_number() OVER () AS BIGINT)   AS line_number,
    CAST(to_json(t) AS VARCHAR)            AS record,
    CAST(NULL AS BLOB)                     AS record_bytes,
    CAST($ingested_at AS TIMESTAMPTZ)      AS ingested_at
FROM read_parquet($path, hive_partitioning = false) AS t
"""


@dataclass
class RawLoadResult:
    feed: str
    partition_dates: list[str]
    rows: int = 0
    files: int = 0
    bytes_read: int = 0
    undecodable_lines: int = 0
    seconds: float = 0.0
    rows_per_day: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def _undecodable_rows(path: Path, day: str, source: str, ingested_at: datetime) -> pd.DataFrame:
    """Fallback for files that are not valid UTF-8: split bytes in Python, keep exact bytes."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines = lines[:-1]
    records, blobs = [], []
    for line in lines:
        try:
            records.append(line.decode("utf-8"))
            blobs.append(None)
        except UnicodeDecodeError:
            records.append(line.decode("utf-8", errors="backslashreplace"))
            blobs.append(line)
    return pd.DataFrame(
        {
            "partition_date": pd.Series([date.fromisoformat(day)] * len(lines), dtype="object"),
            "source_file": source,
            "line_number": pd.Series(range(1, len(lines) + 1), dtype="int64"),
            "record": records,
            "record_bytes": blobs,
            "ingested_at": pd.Timestamp(ingested_at),
        }
    )


def stage_partition(
    con: duckdb.DuckDBPyConnection, landing_dir: Path, feed: str, day: str, ingested_at: datetime
) -> tuple[str, RawLoadResult]:
    """Create a temp table with the raw rows of one feed-day; return its name and stats."""
    result = RawLoadResult(feed=feed, partition_dates=[day])
    stage = f"stage_raw_{feed}_{day.replace('-', '_')}"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {stage} (partition_date DATE, source_file VARCHAR, "
        "line_number BIGINT, record VARCHAR, record_bytes BLOB, ingested_at TIMESTAMPTZ)"
    )
    for path in landing.landed_files(landing_dir, feed, day):
        source = path.relative_to(landing_dir).as_posix()
        params = {
            "partition_date": day, "source_file": source, "ingested_at": ingested_at, "path": str(path),
        }
        result.files += 1
        result.bytes_read += path.stat().st_size
        if path.stat().st_size == 0:
            continue  # an empty file carries no record; it is still counted as a landed file
        if path.suffix == ".parquet":
            con.execute(f"INSERT INTO {stage} {_PARQUET_SQL}", params)
            continue
        try:
            con.execute(f"INSERT INTO {stage} {_JSONL_SQL}", params)
        except duckdb.Error as exc:
            if "UTF-8" not in str(exc) and "utf-8" not in str(exc).lower():
                raise
            frame = _undecodable_rows(path, day, source, ingested_at)
            result.undecodable_lines += int(frame["record_bytes"].notna().sum())
            con.register("undecodable_frame", frame)
            con.execute(f"INSERT INTO {stage} SELECT * FROM undecodable_frame")
            con.unregister("undecodable_frame")
    result.rows = result.rows_per_day[day] = con.execute(f"SELECT count(*) FROM {stage}").fetchone()[0]
    return stage, result


def load_raw_partitions(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    feed: str,
    days: list[str],
    ingested_at: datetime | None = None,
) -> RawLoadResult:
    """Replace ``raw.<feed>`` for each day with exactly the lines landed for that day."""
    landing.safe_name(feed, "feed")
    ingested_at = ingested_at or datetime.now(timezone.utc)
    started = time.perf_counter()
    total = RawLoadResult(feed=feed, partition_dates=list(days))
    for day in days:
        landing.parse_partition_date(day)
        stage, result = stage_partition(con, landing_dir, feed, day, ingested_at)
        replace_partitions(
            con, f"raw.{feed}", f"SELECT * FROM {stage}",
            partition_column="partition_date", partition_values=[day],
        )
        con.execute(f"DROP TABLE IF EXISTS {stage}")
        total.rows += result.rows
        total.files += result.files
        total.bytes_read += result.bytes_read
        total.undecodable_lines += result.undecodable_lines
        total.rows_per_day[day] = result.rows
    total.seconds = time.perf_counter() - started
    return total
