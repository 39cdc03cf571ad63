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


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists (also when another user owns it)."""
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
        if pid != os.getpid() and pid_alive(pid):
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
    # fetchall, not fetchone: a result left unfinished makes DuckDB 2 refuse the next register().
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()[0][0]
    )


def _untyped(sql_type: str) -> bool:
    """DuckDB's type for a column it saw no value of (``"NULL"``, ``"NULL"[]``): it cannot hold data."""
    return '"NULL"' in sql_type


def stored_column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """``{column: SQL type}`` of ``table`` in column order (empty when it does not exist)."""
    schema, name = table.split(".")
    return dict(con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position", [schema, name],
    ).fetchall())


def _refuse_untyped(table: str, described: list[tuple[str, str]]) -> None:
    untyped = [name for name, sql_type in described if _untyped(sql_type)]
    if untyped:
        raise ValueError(
            f"{table}: column(s) {', '.join(untyped)} have no type (every value is null and none was declared); "
            "declare their types (replace_frame_partitions(column_types=...)) or CAST them in the SELECT"
        )


def _create_like(con: duckdb.DuckDBPyConnection, table: str, select_sql: str, params: Sequence | None) -> None:
    """Create ``table`` with the columns of ``select_sql`` if it does not exist yet."""
    ensure_schema(con, table)
    if not table_exists(con, table):
        described = [r[:2] for r in con.execute(f"DESCRIBE SELECT * FROM ({select_sql})", params or []).fetchall()]
        _refuse_untyped(table, described)
        con.execute(f"CREATE TABLE {qualified(table)} AS SELECT * FROM ({select_sql}) LIMIT 0", params or [])


def _add_missing_columns(con: duckdb.DuckDBPyConnection, table: str, select_sql: str, params: Sequence | None) -> None:
    """Additive schema evolution: new columns in the data become new nullable columns.

    A stored column of type NULL (written by an older release from an all-null frame column) takes
    the type the data now has: it holds only nulls, so the change is lossless.
    """
    stored = stored_column_types(con, table)
    described = [r[:2] for r in con.execute(f"DESCRIBE SELECT * FROM ({select_sql})", params or []).fetchall()]
    _refuse_untyped(table, [(n, t) for n, t in described if n not in stored])
    for column_name, column_type in described:
        if column_name not in stored:
            con.execute(f'ALTER TABLE {qualified(table)} ADD COLUMN "{column_name}" {column_type}')
        elif _untyped(stored[column_name]) and not _untyped(column_type):
            con.execute(f'ALTER TABLE {qualified(table)} ALTER COLUMN "{column_name}" SET DATA TYPE {column_type}')


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """``BEGIN`` … ``COMMIT``; on any exception (an interrupt included) ``ROLLBACK`` and re-raise."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


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
    Rerunning with the same input gives the same table (idempotent). A column the table does not
    have yet must come with a type: an all-null one is refused, never created as type NULL.
    """
    if not _IDENT_RE.match(partition_column):
        raise ValueError(f"bad partition column {partition_column!r}")
    with transaction(con):
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
    return int(inserted)


def frame_to_arrow(frame):
    """``frame`` as an Arrow table whose column types come from every value.

    Registering a DataFrame directly lets DuckDB guess an object column's type from a sample of
    rows: a list column whose sampled lists are all empty becomes ``"NULL"[]`` and the scan fails
    on the first non-empty list (``VARCHAR -> "NULL"``). Arrow reads every value instead.
    """
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


def typed_frame_select(con: duckdb.DuckDBPyConnection, table: str, view: str, columns: Sequence[str],
                       column_types: dict[str, str] | None = None) -> str:
    """``SELECT`` of ``view`` with each column cast to its type, by name: the stored table's type,
    else the declared one (``column_types``), else the type of its values; NULL-only and undeclared
    is refused (a column is never created from an all-null frame column)."""
    stored = stored_column_types(con, table)
    declared = column_types or {}
    seen = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()}
    casts, untyped = [], []
    for name in columns:
        candidates = (stored.get(name), declared.get(name), seen[name])
        sql_type = next((t for t in candidates if t and not _untyped(t)), None)
        if sql_type is None and name not in stored:
            untyped.append(name)
        casts.append(f'CAST("{name}" AS {sql_type}) AS "{name}"' if sql_type else f'"{name}"')
    if untyped:
        _refuse_untyped(table, [(n, '"NULL"') for n in untyped])
    return f"SELECT {', '.join(casts)} FROM {view}"


def replace_frame_partitions(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame,
    *,
    partition_column: str,
    partition_values: Sequence,
    column_types: dict[str, str] | None = None,
) -> int:
    """:func:`replace_partitions` from a DataFrame, every column written in the table's type.

    Whatever the data (a day without labels leaves whole columns null, most decisions carry no
    rule), each column is cast by name to the stored table's type, else to ``column_types``, else
    to the type Arrow reads from all of its values. An empty frame clears the partitions.
    """
    view = f"_frame_{os.getpid()}_{next(_MARKER_IDS)}"
    if not len(frame.columns):
        if not table_exists(con, table):
            return 0
        select = f"SELECT * FROM {qualified(table)} LIMIT 0"
        return replace_partitions(con, table, select, partition_column=partition_column,
                                  partition_values=partition_values)
    con.execute("SELECT 1").fetchall()  # finish any pending result: DuckDB refuses register() while one is open
    con.register(view, frame_to_arrow(frame))
    try:
        select = typed_frame_select(con, table, view, list(frame.columns), column_types)
        return replace_partitions(con, table, select, partition_column=partition_column,
                                  partition_values=partition_values)
    finally:
        con.unregister(view)


def replace_table(
    con: duckdb.DuckDBPyConnection, table: str, select_sql: str, params: Sequence | None = None
) -> int:
    """Atomically replace a whole (unpartitioned) table."""
    with transaction(con):
        ensure_schema(con, table)
        con.execute(f"CREATE OR REPLACE TABLE {qualified(table)} AS SELECT * FROM ({select_sql})", params or [])
        rows = con.execute(f"SELECT count(*) FROM {qualified(table)}").fetchone()[0]
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
