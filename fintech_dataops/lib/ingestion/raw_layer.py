"""Lossless raw load: every landed line becomes one row of ``raw.<feed>``.

The raw layer does not parse or judge records. It keeps the original text of
every line (``record``) with its lineage (source file, 1-based line number,
ingest time). A line that is not valid UTF-8 keeps its exact bytes in
``record_bytes`` and a readable escaped copy in ``record``. Validation happens
in the core layer, which quarantines what fails.

Hostile sizes are bounded by ``IngestLimits`` (``lib/ingestion/limits.py``): an
over-long line is kept truncated and flagged in ``ingest_issue``; an
over-large file or a symlink is represented by one flagged row. Every landed
entry is visible in raw, and no input makes the load raise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.ingestion.limits import (
    FILE_TOO_LARGE, LINE_TOO_LONG, SYMLINK_REFUSED, UNREADABLE_FILE, IngestLimits, truncate_line,
)
from fintech_dataops.lib.warehouse import replace_partitions

RAW_COLUMNS = (
    "partition_date", "source_file", "line_number", "record", "record_bytes", "ingested_at",
    "original_bytes", "ingest_issue",
)
_STAGE_COLUMNS_SQL = (
    "partition_date DATE, source_file VARCHAR, line_number BIGINT, record VARCHAR, record_bytes BLOB, "
    "ingested_at TIMESTAMPTZ, original_bytes BIGINT, ingest_issue VARCHAR"
)

# A line past the limit keeps its first $max_line_bytes bytes, cut back (≤ 3 bytes) to a
# UTF-8 boundary: try() turns a cut inside a character into NULL and coalesce takes the next.
_TRUNCATED_LINE_SQL = (
    "coalesce("
    + ", ".join(f"try(decode(encode(line)[1:$max_line_bytes - {k}]))" for k in range(4))
    + ")"
)

_PROJECT_SQL = f"""
SELECT
    CAST($partition_date AS DATE)          AS partition_date,
    CAST($source_file AS VARCHAR)          AS source_file,
    CAST(line_number AS BIGINT)            AS line_number,
    CAST(CASE WHEN strlen(line) <= $max_line_bytes THEN line ELSE {_TRUNCATED_LINE_SQL} END AS VARCHAR) AS record,
    CAST(NULL AS BLOB)                     AS record_bytes,
    CAST($ingested_at AS TIMESTAMPTZ)      AS ingested_at,
    CAST(strlen(line) AS BIGINT)           AS original_bytes,
    CAST(CASE WHEN strlen(line) > $max_line_bytes THEN '{LINE_TOO_LONG}' END AS VARCHAR) AS ingest_issue
FROM ({{source}})
"""

# DuckDB builds the rows of a file itself (read_text + string_split): no Python loop per line.
_JSONL_SQL = _PROJECT_SQL.format(source="""
    SELECT line, line_number FROM (
        SELECT unnest(lines) AS line, unnest(range(1, len(lines) + 1)) AS line_number, len(lines) AS n
        FROM (SELECT string_split(content, chr(10)) AS lines FROM read_text($path))
    )
    -- the empty string after the final newline is not a record; an empty line elsewhere is
    WHERE NOT (line_number = n AND line = '')
""")

_PARQUET_SQL = _PROJECT_SQL.format(source="""
    SELECT CAST(to_json(t) AS VARCHAR) AS line, row_number() OVER () AS line_number
    FROM read_parquet($path, hive_partitioning = false) AS t
""")

# One row standing for a landed entry that was not read (too large, or a symlink).
_REFUSED_ENTRY_SQL = """
SELECT CAST($partition_date AS DATE), CAST($source_file AS VARCHAR), CAST(0 AS BIGINT), '',
       CAST(NULL AS BLOB), CAST($ingested_at AS TIMESTAMPTZ), CAST($original_bytes AS BIGINT),
       CAST($ingest_issue AS VARCHAR)
"""


@dataclass
class RawLoadResult:
    feed: str
    partition_dates: list[str]
    rows: int = 0
    files: int = 0
    bytes_read: int = 0
    undecodable_lines: int = 0
    truncated_lines: int = 0
    refused_files: int = 0
    seconds: float = 0.0
    rows_per_day: dict[str, int] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def _undecodable_rows(
    path: Path, day: str, source: str, ingested_at: datetime, limits: IngestLimits | None = None
) -> pd.DataFrame:
    """Fallback for files that are not valid UTF-8: split bytes in Python, keep exact bytes."""
    limits = limits or IngestLimits()
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines = lines[:-1]
    records, blobs, sizes, issues = [], [], [], []
    for line in lines:
        sizes.append(len(line))
        kept = truncate_line(line, limits.max_line_bytes)
        issues.append(LINE_TOO_LONG if len(kept) < len(line) else None)
        try:
            records.append(kept.decode("utf-8"))
            blobs.append(None)
        except UnicodeDecodeError:
            records.append(kept.decode("utf-8", errors="backslashreplace"))
            blobs.append(kept)
    return pd.DataFrame(
        {
            "partition_date": pd.Series([date.fromisoformat(day)] * len(lines), dtype="object"),
            "source_file": source,
            "line_number": pd.Series(range(1, len(lines) + 1), dtype="int64"),
            "record": records,
            "record_bytes": blobs,
            "ingested_at": pd.Timestamp(ingested_at),
            "original_bytes": pd.Series(sizes, dtype="int64"),
            "ingest_issue": pd.Series(issues, dtype="object"),
        }
    )


def _stage_refused(
    con: duckdb.DuckDBPyConnection, stage: str, params: dict, original_bytes: int | None, issue: str
) -> None:
    refused = {k: params[k] for k in ("partition_date", "source_file", "ingested_at")}
    con.execute(
        f"INSERT INTO {stage} {_REFUSED_ENTRY_SQL}",
        {**refused, "original_bytes": original_bytes, "ingest_issue": issue},
    )


def stage_partition(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    feed: str,
    day: str,
    ingested_at: datetime,
    limits: IngestLimits | None = None,
) -> tuple[str, RawLoadResult]:
    """Create a temp table with the raw rows of one feed-day; return its name and stats."""
    limits = limits or IngestLimits()
    result = RawLoadResult(feed=feed, partition_dates=[day])
    stage = f"stage_raw_{feed}_{day.replace('-', '_')}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {stage} ({_STAGE_COLUMNS_SQL})")
    for path in landing.refused_entries(landing_dir, feed, day):
        params = {"partition_date": day, "source_file": path.relative_to(landing_dir).as_posix(),
                  "ingested_at": ingested_at}
        result.refused_files += 1
        _stage_refused(con, stage, params, None, SYMLINK_REFUSED)
    for path in landing.landed_files(landing_dir, feed, day):
        source = path.relative_to(landing_dir).as_posix()
        params = {
            "partition_date": day, "source_file": source, "ingested_at": ingested_at, "path": str(path),
            "max_line_bytes": int(limits.max_line_bytes),
        }
        size = path.stat().st_size
        result.files += 1
        if size == 0:
            continue  # an empty file carries no record; it is still counted as a landed file
        if size > limits.max_file_bytes:
            result.refused_files += 1
            _stage_refused(con, stage, params, size, FILE_TOO_LARGE)
            continue
        result.bytes_read += size
        if path.suffix == ".parquet":
            try:
                con.execute(f"INSERT INTO {stage} {_PARQUET_SQL}", params)
            except duckdb.InterruptException:
                raise  # a stop request (SIGTERM/SIGINT) is not a damaged file
            except duckdb.Error:
                # Not a readable Parquet file: the bytes are hostile or damaged; flag it, keep going.
                result.refused_files += 1
                _stage_refused(con, stage, params, size, UNREADABLE_FILE)
            continue
        try:
            con.execute(f"INSERT INTO {stage} {_JSONL_SQL}", params)
        except duckdb.Error as exc:
            if "UTF-8" not in str(exc) and "utf-8" not in str(exc).lower():
                raise
            frame = _undecodable_rows(path, day, source, ingested_at, limits)
            result.undecodable_lines += int(frame["record_bytes"].notna().sum())
            con.register("undecodable_frame", frame)
            con.execute(f"INSERT INTO {stage} SELECT * FROM undecodable_frame")
            con.unregister("undecodable_frame")
    result.truncated_lines = con.execute(
        f"SELECT count(*) FROM {stage} WHERE ingest_issue = ?", [LINE_TOO_LONG]
    ).fetchone()[0]
    result.rows = result.rows_per_day[day] = con.execute(f"SELECT count(*) FROM {stage}").fetchone()[0]
    return stage, result


def load_raw_partitions(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    feed: str,
    days: list[str],
    ingested_at: datetime | None = None,
    limits: IngestLimits | None = None,
) -> RawLoadResult:
    """Replace ``raw.<feed>`` for each day with exactly the lines landed for that day."""
    landing.safe_name(feed, "feed")
    ingested_at = ingested_at or datetime.now(timezone.utc)
    started = time.perf_counter()
    total = RawLoadResult(feed=feed, partition_dates=list(days))
    for day in days:
        landing.parse_partition_date(day)
        stage, result = stage_partition(con, landing_dir, feed, day, ingested_at, limits)
        replace_partitions(
            con, f"raw.{feed}", f"SELECT * FROM {stage}",
            partition_column="partition_date", partition_values=[day],
        )
        con.execute(f"DROP TABLE IF EXISTS {stage}")
        total.rows += result.rows
        total.files += result.files
        total.bytes_read += result.bytes_read
        total.undecodable_lines += result.undecodable_lines
        total.truncated_lines += result.truncated_lines
        total.refused_files += result.refused_files
        total.rows_per_day[day] = result.rows
    total.seconds = time.perf_counter() - started
    return total


def load_raw_days(
    open_connection: Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]],
    landing_dir: Path,
    feed: str,
    days: list[str],
    limits: IngestLimits | None = None,
    between_days: Callable[[], object] | None = None,
) -> RawLoadResult:
    """``load_raw_partitions`` one day per connection, for backfills over many days.

    DuckDB lets one process hold the file at a time; opening a fresh connection
    per day lets the near-real-time job and readers in between the days of a
    long backfill instead of waiting for all of it. ``between_days`` runs with no
    connection open (e.g. ``warehouse.yield_to_waiters``) to hand the file over.
    """
    landing.safe_name(feed, "feed")
    ingested_at = datetime.now(timezone.utc)
    total = RawLoadResult(feed=feed, partition_dates=list(days))
    for index, day in enumerate(days):
        if index and between_days is not None:
            between_days()
        with open_connection() as con:
            result = load_raw_partitions(con, landing_dir, feed, [day], ingested_at=ingested_at, limits=limits)
        for name in ("rows", "files", "bytes_read", "undecodable_lines", "truncated_lines", "refused_files", "seconds"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        total.rows_per_day.update(result.rows_per_day)
    return total
