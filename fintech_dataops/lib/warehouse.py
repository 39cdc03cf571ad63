"""DuckDB warehouse helpers: short-lived connections and idempotent, atomic writes.

DuckDB lets one process write a database file at a time, so connections are
opened for the duration of one write and retried while another process holds
the lock. Every write replaces a whole partition (or table) inside one
transaction: a crash leaves the old or the new data, never half of it.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Short: a waiting process must notice the free window a writer leaves between partitions.
MAX_BACKOFF_SECONDS = 0.25
_MARKER_IDS = itertools.count()
LOCK_ERROR_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked", "lock on file")


class WarehouseLockTimeout(RuntimeError):
    """Another process kept the warehouse locked for longer than the wait budget."""


def qualified(table: str) -> str:
    """Validate ``layer.entity`` and return it quoted for SQL."""
    parts = table.split(".")
    if len(parts) != 2 or not all(_IDENT_RE.match(p) for p in parts):
        raise ValueError(f"table must be 'layer.entity' with plain identifiers, got {table!r}")
    return f'"{parts[0]}"."{parts[1]}"'


def is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, (duckdb.IOException, duckdb.ConnectionException)) and any(
        marker in str(exc) for marker in LOCK_ERROR_MARKERS
    )


_REMOTE_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


def is_local_database(database: str | Path) -> bool:
    """A DuckDB file on this machine (not ``:memory:``, not ``md:…`` / another engine's URI)."""
    text = str(database)
    return text != ":memory:" and not (isinstance(database, str) and _REMOTE_SCHEME_RE.match(text))


def redact(database: str | Path) -> str:
    """The database name without a query string (where tokens hide: ``md:db?motherduck_token=…``)."""
    return str(database).split("?", 1)[0]


def waiters_dir(database: str | Path) -> Path:
    """Where processes waiting for the file lock leave a marker (``<database>.waiters/<pid>-<n>``)."""
    return Path(f"{database}.waiters")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def waiting_processes(database: str | Path) -> list[int]:
    """Other live processes currently waiting for the warehouse lock."""
    folder = waiters_dir(database)
    if not folder.is_dir():
        return []
    pids = []
    for marker in folder.iterdir():
        try:
            pid = int(marker.name.split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and _pid_alive(pid):
            pids.append(pid)
    return pids


def yield_to_waiters(database: str | Path, max_seconds: float = 10.0) -> float:
    """Between two units of work (no connection open), let processes queued for the lock in first.

    Without this a writer that reconnects at once keeps winning the lock, and a reader
    polling with backoff can wait for a whole multi-day backfill. Bounded by
    ``max_seconds``; returns the seconds spent yielding (0 when nobody waits).
    """
    if not is_local_database(database):
        return 0.0
    if not waiting_processes(database):
        return 0.0
    started = time.monotonic()
    while waiting_processes(database) and time.monotonic() - started < max_seconds:
        time.sleep(0.01)
    return time.monotonic() - started


def connect(
    database: str | Path,
    *,
    read_only: bool = False,
    wait_seconds: float = 120.0,
    config: dict | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting (jittered backoff) while another process holds the lock.

    While it waits, the process leaves a marker in ``waiters_dir`` so a writer working
    through many partitions hands the file over between them (``yield_to_waiters``).
    """
    local = is_local_database(database)
    if local:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    delay = 0.02
    marker: Path | None = None
    try:
        while True:
            try:
                return duckdb.connect(str(database), read_only=read_only, config=config or {})
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                if not is_lock_error(exc) or time.monotonic() >= deadline:
                    if is_lock_error(exc):
                        raise WarehouseLockTimeout(
                            f"warehouse {redact(database)} stayed locked by another process for {wait_seconds:.0f}s"
                        ) from exc
                    raise
                if marker is None and local:
                    marker = waiters_dir(database) / f"{os.getpid()}-{next(_MARKER_IDS)}"
                    marker.parent.mkdir(exist_ok=True)
                    marker.touch()
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)


@contextmanager
def connection(
    database: str | Path, *, read_only: bool = False, wait_seconds: float = 120.0, config: dict | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(database, read_only=read_only, wait_seconds=wait_seconds, config=config)
    try:
        yield con
    finally:
        con.close()


def ensure_schema(con: duckdb.DuckDBPyConnection, table: str) -> None:
    schema = table.split(".")[0]
    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def _create_like(con: duckdb.DuckDBPyConnection, table: str, select_sql: str, params: Sequence | None) -> None:
    """Create ``table`` with the columns of ``select_sql`` if it does not exist yet."""
    ensure_schema(con, table)
    if not table_exists(con, table):
        con.execute(f"CREATE TABLE {qualified(table)} AS SELECT * FROM ({select_sql}) LIMIT 0", params or [])


def _add_missing_columns(con: duckdb.DuckDBPyConnection, table: str, select_sql: str, params: Sequence | None) -> None:
    """Additive schema evolution: new columns in the data become new nullable columns."""
    schema, name = table.split(".")
    existing = {
        r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()
    }
    described = con.execute(f"DESCRIBE SELECT * FROM ({select_sql})", params or []).fetchall()
    for column_name, column_type, *_ in described:
        if column_name not in existing:
            con.execute(f'ALTER TABLE {qualified(table)} ADD COLUMN "{column_name}" {column_type}')


def replace_partitions(
    con: duckdb.DuckDBPyConnection,
    table: str,
    select_sql: str,
    *,
    partition_column: str,
    partition_values: Sequence,
    params: Sequence | None = None,
) -> int:
    """Atomically replace the rows of ``partition_values`` in ``table`` with ``select_sql``.

    ``select_sql`` may reference registered views/DataFrames. Returns the rows inserted.
    Rerunning with the same input gives the same table (idempotent).
    """
    if not _IDENT_RE.match(partition_column):
        raise ValueError(f"bad partition column {partition_column!r}")
    con.execute("BEGIN TRANSACTION")
    try:
        _create_like(con, table, select_sql, params)
        _add_missing_columns(con, table, select_sql, params)
        placeholders = ", ".join("?" for _ in partition_values) or "NULL"
        con.execute(
            f'DELETE FROM {qualified(table)} WHERE "{partition_column}" IN ({placeholders})',
            list(partition_values),
        )
        inserted = con.execute(
            f"INSERT INTO {qualified(table)} BY NAME SELECT * FROM ({select_sql})", params or []
        ).fetchone()[0]
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(inserted)


def replace_table(
    con: duckdb.DuckDBPyConnection, table: str, select_sql: str, params: Sequence | None = None
) -> int:
    """Atomically replace a whole (unpartitioned) table."""
    con.execute("BEGIN TRANSACTION")
    try:
        ensure_schema(con, table)
        con.execute(f"CREATE OR REPLACE TABLE {qualified(table)} AS SELECT * FROM ({select_sql})", params or [])
        rows = con.execute(f"SELECT count(*) FROM {qualified(table)}").fetchone()[0]
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return int(rows)


def row_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """(layer.table, rows) for every base table, for summaries."""
    tables = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('information_schema', 'pg_catalog') "
        "ORDER BY 1, 2"
    ).fetchall()
    return [
        (f"{s}.{t}", con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0]) for s, t in tables
    ]
