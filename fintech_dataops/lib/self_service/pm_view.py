"""The product managers' view of the warehouse: a published, PII-masked, read-only snapshot.

Why a snapshot: DuckDB lets one process write a file, and while it writes no
other process can even open it read-only ("Could not set lock on file").
Pipelines write often, so querying ``warehouse.duckdb`` directly would show a
PM lock errors or make them wait for a backfill. Instead the PM view reads
``<data dir>/published/pm_view.duckdb``:

* **Published atomically**: built in a temp file next to it (warehouse attached
  ``READ_ONLY``, one transaction, so it is one consistent state), then renamed
  over the old one. A reader holding the old file keeps reading it (POSIX
  rename semantics), a new reader gets the new one; nobody sees half a copy.
* **Refreshed on demand**: before a query the SQL command compares the
  warehouse's modification time with the one recorded in the snapshot; when
  the warehouse changed and is free it re-publishes (about a second for the demo
  month), and when a pipeline holds it the query runs on the last snapshot and
  says how old it is. Only when there is no snapshot at all does it wait
  (jittered backoff) for the writer. The monitor report asset also publishes
  after each materialization, so the view is rarely stale.
* **PII masked at publish time, deny by default** (``lib/self_service/pii.py``): every column,
  and every key inside the JSON lines raw / quarantine tables keep, is masked
  unless declared safe; the clear values never reach the PM's file.
"""

from __future__ import annotations

import fcntl
import os
import random
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from fintech_dataops.lib.self_service import pii
from fintech_dataops.lib.warehouse import WarehouseLockTimeout, is_lock_error

SNAPSHOT_RELATIVE_PATH = Path("published") / "pm_view.duckdb"
META_TABLE = "pm_meta.snapshot"

# The PM connection: read-only, no file/network access, settings frozen for the session.
PM_CONNECTION_CONFIG = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}


class NoWarehouseYet(RuntimeError):
    """There is neither a warehouse nor a published snapshot to query."""


@dataclass(frozen=True)
class SnapshotStatus:
    path: Path
    published_at: datetime
    current: bool
    note: str = ""


def register_masking_functions(con: duckdb.DuckDBPyConnection) -> None:
    """The Python maskers of ``lib/self_service/pii.py`` as SQL functions of the publishing connection."""
    import pyarrow as pa

    # No annotations: DuckDB inspects them, and under `from __future__ import annotations` they are strings.
    def json_lines(lines):
        return pa.array([pii.mask_json_line(v) for v in lines.to_pylist()], type=pa.string())

    def quoted(texts, lines):
        return pa.array([pii.mask_quoted_values(t, line) for t, line in zip(texts.to_pylist(), lines.to_pylist())],
                        type=pa.string())

    con.create_function("pm_mask_json_line", json_lines, ["VARCHAR"], "VARCHAR", type="arrow",
                        null_handling="special", side_effects=False)
    con.create_function("pm_mask_quoted", quoted, ["VARCHAR", "VARCHAR"], "VARCHAR", type="arrow",
                        null_handling="special", side_effects=False)


def snapshot_path_for(data_dir: Path) -> Path:
    return Path(data_dir) / SNAPSHOT_RELATIVE_PATH


def source_modified_at(warehouse_path: Path) -> float:
    """Last change of the warehouse: its file or its write-ahead log."""
    stamps = [p.stat().st_mtime for p in (Path(warehouse_path), Path(f"{warehouse_path}.wal")) if p.exists()]
    return max(stamps, default=0.0)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _mask_text_sql(q: str) -> str:
    """SQL twin of ``pii.mask_text`` (vectorised: no Python call per value)."""
    return (f"CASE WHEN {q} IS NULL OR {q} = '' THEN {q} "
            f"WHEN regexp_full_match({q}, {_sql_literal(pii.EMAIL_SHAPE)}) "
            f"THEN left({q}, 1) || '***@' || split_part({q}, '@', 2) "
            f"ELSE left({q}, 1) || '***' END")


def masked_select_list(schema: str, table: str, columns: list[tuple[str, str]]) -> str:
    """SELECT list copying ``columns`` (name, DuckDB type): deny by default (see ``lib/self_service/pii.py``).

    Needs ``register_masking_functions`` on the connection for JSON lines and quarantine reasons.
    """
    names = {name.lower(): name for name, _ in columns}
    items = []
    for name, column_type in columns:
        q = _quote(name)
        treatment = pii.column_treatment(schema, name, column_type, table)
        if treatment == "keep":
            items.append(q)
        elif treatment == "json":
            text = f"CAST({q} AS VARCHAR)"
            # Flat lines whose every value is safe are kept as they are, tested vectorised; only the others
            # (nested API objects, unknown keys) pay for the Python masker.
            masked = (f"CASE WHEN regexp_full_match({text}, {_sql_literal(pii.flat_safe_line_pattern())}) "
                      f"THEN {text} ELSE pm_mask_json_line({text}) END")
            items.append(f"CAST({masked} AS {column_type}) AS {q}" if column_type.upper() != "VARCHAR"
                         else f"{masked} AS {q}")
        elif treatment == "reason" and "record" in names:
            items.append(f"pm_mask_quoted({q}, CAST({_quote(names['record'])} AS VARCHAR)) AS {q}")
        elif column_type.upper() == "VARCHAR":
            items.append(f"{_mask_text_sql(q)} AS {q}")
        else:
            items.append(f"CAST(NULL AS {column_type}) AS {q}")
    return ", ".join(items) or "*"


def _attach_warehouse(con: duckdb.DuckDBPyConnection, warehouse_path: Path, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    delay = 0.02
    while True:
        try:
            con.execute(f"ATTACH '{str(warehouse_path).replace(chr(39), chr(39) * 2)}' AS wh (READ_ONLY)")
            return
        except duckdb.Error as exc:
            if not is_lock_error(exc) or time.monotonic() >= deadline:
                if is_lock_error(exc):
                    raise WarehouseLockTimeout(
                        f"a pipeline kept the warehouse busy for {wait_seconds:.1f}s"
                    ) from None
                raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)


@contextmanager
def _publisher_lock(snapshot_path: Path, wait_seconds: float):
    """One publisher at a time per snapshot; yields False when the wait budget ran out."""
    snapshot_path.parent.mkdir(parents=True, exist_ok=True)
    with open(snapshot_path.with_suffix(".lock"), "a+") as handle:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish_snapshot(warehouse_path: Path, snapshot_path: Path, *, wait_seconds: float = 120.0) -> dict:
    """Copy every base table of the warehouse, PII masked, into ``snapshot_path`` atomically.

    Raises ``WarehouseLockTimeout`` when a writer holds the warehouse longer than ``wait_seconds``.
    Returns ``{"tables": n, "rows": n, "seconds": s, "published_at": iso}``.
    """
    warehouse_path, snapshot_path = Path(warehouse_path), Path(snapshot_path)
    started = time.perf_counter()
    with _publisher_lock(snapshot_path, wait_seconds) as acquired:
        if not acquired:
            raise WarehouseLockTimeout("another process is publishing the PM view")
        tmp = snapshot_path.with_name(f".{snapshot_path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            con = duckdb.connect(str(tmp))
            try:
                _attach_warehouse(con, warehouse_path, wait_seconds)
                register_masking_functions(con)
                modified = source_modified_at(warehouse_path)
                tables = con.execute(
                    "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'wh' "
                    "AND NOT internal ORDER BY 1, 2"
                ).fetchall()
                total_rows = 0
                con.execute("BEGIN TRANSACTION")
                for schema, table in tables:
                    columns = con.execute(
                        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = 'wh' "
                        "AND schema_name = ? AND table_name = ? ORDER BY column_index",
                        [schema, table],
                    ).fetchall()
                    con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
                    select_list = masked_select_list(schema, table, columns)
                    con.execute(
                        f"CREATE TABLE {_quote(schema)}.{_quote(table)} AS "
                        f"SELECT {select_list} FROM wh.{_quote(schema)}.{_quote(table)}"
                    )
                    total_rows += con.execute(f"SELECT count(*) FROM {_quote(schema)}.{_quote(table)}").fetchone()[0]
                published_at = datetime.now(UTC)
                con.execute("CREATE SCHEMA IF NOT EXISTS pm_meta")
                con.execute(
                    f"CREATE TABLE {META_TABLE} AS SELECT ?::TIMESTAMPTZ AS published_at, "
                    "?::DOUBLE AS source_modified_at, ?::INTEGER AS tables, ?::BIGINT AS rows",
                    [published_at, modified, len(tables), total_rows],
                )
                con.execute("COMMIT")
                con.execute("DETACH wh")
                con.execute("CHECKPOINT")
            finally:
                con.close()
            os.replace(tmp, snapshot_path)
        finally:
            for leftover in (tmp, Path(f"{tmp}.wal")):
                leftover.unlink(missing_ok=True)
    return {
        "tables": len(tables), "rows": int(total_rows),
        "seconds": round(time.perf_counter() - started, 3), "published_at": published_at.isoformat(),
    }


def open_pm_connection(snapshot_path: Path, extra_config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only, no-file-access connection on the published snapshot (``extra_config``: e.g. memory_limit)."""
    return duckdb.connect(str(snapshot_path), read_only=True, config={**(extra_config or {}), **PM_CONNECTION_CONFIG})


def read_snapshot_meta(snapshot_path: Path) -> tuple[datetime, float] | None:
    if not Path(snapshot_path).exists():
        return None
    try:
        con = duckdb.connect(str(snapshot_path), read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute(f"SELECT published_at, source_modified_at FROM {META_TABLE}").fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return (row[0], float(row[1])) if row else None


def ensure_snapshot(
    warehouse_path: Path,
    snapshot_path: Path,
    *,
    refresh_wait_seconds: float = 1.0,
    first_wait_seconds: float = 120.0,
    refresh: bool = True,
    echo: Callable[[str], None] = lambda _msg: None,
) -> SnapshotStatus:
    """Make sure there is a snapshot to query; re-publish it when the warehouse changed and is free.

    Never raises a lock error: a busy warehouse means "use the last snapshot" (with a note),
    or — when none exists yet — waiting up to ``first_wait_seconds`` for the writer.
    """
    warehouse_path, snapshot_path = Path(warehouse_path), Path(snapshot_path)
    meta = read_snapshot_meta(snapshot_path)
    if not warehouse_path.exists():
        if meta is None:
            raise NoWarehouseYet(f"no warehouse yet at {warehouse_path}: run `fintech-dataops demo` first")
        return SnapshotStatus(snapshot_path, meta[0], current=False, note="the warehouse file is missing")
    if meta is not None and (not refresh or meta[1] >= source_modified_at(warehouse_path)):
        return SnapshotStatus(snapshot_path, meta[0], current=meta[1] >= source_modified_at(warehouse_path))
    if meta is None:
        echo("publishing the PM view of the warehouse (first use) ...")
    try:
        publish_snapshot(
            warehouse_path, snapshot_path, wait_seconds=first_wait_seconds if meta is None else refresh_wait_seconds
        )
    except WarehouseLockTimeout:
        meta = read_snapshot_meta(snapshot_path)
        if meta is None:
            raise NoWarehouseYet(
                f"a pipeline has been writing the warehouse for {first_wait_seconds:.0f}s and no PM view is "
                "published yet; try again when the run finishes"
            ) from None
        age = datetime.now(UTC) - meta[0]
        return SnapshotStatus(
            snapshot_path, meta[0], current=False,
            note=f"a pipeline is writing the warehouse: showing data as of {meta[0]:%Y-%m-%d %H:%M:%S} UTC "
                 f"({int(age.total_seconds())}s ago)",
        )
    meta = read_snapshot_meta(snapshot_path)
    return SnapshotStatus(snapshot_path, meta[0], current=True)
