"""Run one checked PM query with a row limit, a timeout and a memory cap; format the answer.

:func:`run_query` enforces the timeout with DuckDB itself: a timer thread calls
``connection.interrupt()``, which cancels a running query cleanly between chunks.
A single huge value (``repeat('x', 2000000000)``) is built inside one function
call that no interrupt reaches, and its memory is not DuckDB's to limit. So the
``sql`` command runs each query in a child process (:func:`run_query_isolated`):
the child's address space is capped (``RLIMIT_AS``; DuckDB's ``memory_limit`` is
half of it), the interrupt still fires at the deadline, and if the child has not
answered shortly after, it is killed. The timeout holds whatever the query does.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from datetime import date, datetime, time as dtime
from decimal import Decimal

import duckdb

from fintech_dataops.lib.self_service.sql_guard import RefusedQuery, check_query

DEFAULT_ROW_LIMIT = 1000
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_MEMORY_MB = 2048
# After the deadline the child gets this long to deliver DuckDB's clean interrupt before it is killed.
KILL_GRACE_SECONDS = 0.5
# Starting the child (a fresh interpreter importing DuckDB) is not part of the query's time budget.
CHILD_START_SECONDS = 60.0
OUTPUT_FORMATS = ("table", "csv", "json")


class QueryTimeout(RuntimeError):
    """The query ran past its time budget and was interrupted."""


class QueryOutOfMemory(RuntimeError):
    """The query needed more memory than the PM view allows."""


class QueryFailed(RuntimeError):
    """DuckDB refused or failed the query (bad SQL, missing table, ...); ``str()`` is its message."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple]
    truncated: bool
    seconds: float


def run_query(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    limit: int = DEFAULT_ROW_LIMIT,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> QueryResult:
    """Check ``sql`` (raises ``RefusedQuery``), run it, fetch at most ``limit`` rows."""
    checked = check_query(sql)
    timed_out = threading.Event()

    def _interrupt() -> None:
        timed_out.set()
        con.interrupt()

    timer = threading.Timer(timeout_seconds, _interrupt) if timeout_seconds and timeout_seconds > 0 else None
    started = time.perf_counter()
    if timer:
        timer.daemon = True
        timer.start()
    try:
        cursor = con.execute(checked.sql)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchmany(limit + 1) if limit > 0 else cursor.fetchall()
    except duckdb.InterruptException:
        if timed_out.is_set():
            raise QueryTimeout(_timeout_message(timeout_seconds)) from None
        raise
    finally:
        if timer:
            timer.cancel()
    truncated = limit > 0 and len(rows) > limit
    return QueryResult(columns, rows[:limit] if truncated else rows, truncated, time.perf_counter() - started)


def _timeout_message(timeout_seconds: float) -> str:
    return (f"the query ran longer than {timeout_seconds:g}s and was stopped; add filters or a LIMIT, "
            "or raise --timeout")


_GLIBC_TLS_OOM_EXIT = 127  # glibc's exit status when it cannot allocate a new thread's TLS


def _memory_message(max_memory_mb: int) -> str:
    return (f"the query needed more than {max_memory_mb:,} MB of memory and was stopped; add filters, "
            "aggregate, or raise --max-memory")


def _query_worker(connection, snapshot_path: str, sql: str, limit: int, timeout_seconds: float,
                  max_memory_mb: int) -> None:
    """Child process: cap memory, open the PM view, run the query, send back one answer."""
    import resource

    from fintech_dataops.lib.self_service.pm_view import open_pm_connection

    cap = max_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    answer: tuple
    try:
        con = open_pm_connection(Path(snapshot_path), extra_config={
            "memory_limit": f"{max(max_memory_mb // 2, 64)}MB", "threads": min(os.cpu_count() or 1, 4)})
        connection.send(("started",))
        try:
            answer = ("ok", run_query(con, sql, limit=limit, timeout_seconds=timeout_seconds))
        finally:
            con.close()
    except QueryTimeout:
        answer = ("timeout", _timeout_message(timeout_seconds))
    except (duckdb.OutOfMemoryException, MemoryError):
        answer = ("memory", _memory_message(max_memory_mb))
    except RefusedQuery as exc:
        answer = ("refused", str(exc))
    except duckdb.Error as exc:
        answer = ("error", str(exc).strip())
    try:
        connection.send(answer)
    except MemoryError:  # the rows themselves did not fit in what is left
        connection.send(("memory", _memory_message(max_memory_mb)))
    connection.close()


def run_query_isolated(
    snapshot_path: Path,
    sql: str,
    *,
    limit: int = DEFAULT_ROW_LIMIT,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    max_memory_mb: int = DEFAULT_MAX_MEMORY_MB,
) -> QueryResult:
    """:func:`run_query` on the PM view in a child process that is capped in memory and killed at the deadline.

    Raises ``RefusedQuery``, :class:`QueryTimeout`, :class:`QueryOutOfMemory` or :class:`QueryFailed`.
    """
    check_query(sql)  # refuse before starting anything
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_query_worker, daemon=True,
                            args=(sender, str(snapshot_path), sql, limit, timeout_seconds or 0, max_memory_mb))
    child.start()
    sender.close()
    try:
        if not receiver.poll(CHILD_START_SECONDS):
            raise QueryFailed("the query process did not start")
        first = receiver.recv()
        if first[0] != "started":
            answer = first
        else:
            budget = timeout_seconds + KILL_GRACE_SECONDS if timeout_seconds and timeout_seconds > 0 else None
            if not receiver.poll(budget):
                raise QueryTimeout(_timeout_message(timeout_seconds))
            answer = receiver.recv()
    except EOFError:  # the child died without answering: the kernel refused it memory, or worse
        child.join(5)
        # Killed by a signal (the kernel, an abort on a failed allocation), or exit 127: glibc's
        # "cannot allocate memory for thread-local data" when a new DuckDB thread finds the address
        # space cap already reached. Both mean the query ran out of the memory it was given.
        if child.exitcode is not None and (child.exitcode < 0 or child.exitcode == _GLIBC_TLS_OOM_EXIT):
            raise QueryOutOfMemory(_memory_message(max_memory_mb)) from None
        raise QueryFailed(f"the query process stopped (exit code {child.exitcode})") from None
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join(5)
    kind, payload = answer[0], answer[1]
    if kind == "ok":
        return payload
    if kind == "timeout":
        raise QueryTimeout(payload)
    if kind == "memory":
        raise QueryOutOfMemory(payload)
    if kind == "refused":
        raise RefusedQuery(payload)
    raise QueryFailed(payload)


def scrub_paths(message: str, paths) -> str:
    """``message`` with each of the server's ``paths`` (and what is under them) replaced by ``<server path>``.

    DuckDB names the files it cannot open in its errors (the snapshot, its temp directory, the
    home directory's extension folder); a PM sees none of them.
    """
    prefixes = {str(p) for path in paths if path for p in (Path(path), Path(path).resolve())}
    for prefix in sorted((p.rstrip("/") for p in prefixes if len(p.rstrip("/")) > 1), key=len, reverse=True):
        message = re.sub(re.escape(prefix) + r"(?:/[^\s\"']*)?", "<server path>", message)
    return message


def _plain(value):
    if isinstance(value, (datetime, date, dtime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _cell(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1e15 else f"{value:.6g}"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(_plain(value), ensure_ascii=False)
    return str(_plain(value))


def format_result(result: QueryResult, output: str = "table", max_width: int = 60) -> str:
    if output == "json":
        records = [dict(zip(result.columns, (_plain(v) for v in row))) for row in result.rows]
        return json.dumps(records, ensure_ascii=False, indent=1, default=str)
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        for row in result.rows:
            writer.writerow(["" if v is None else (_cell(v) if isinstance(v, (list, tuple, dict)) else _plain(v))
                             for v in row])
        return buffer.getvalue().rstrip("\n")
    if output != "table":
        raise ValueError(f"unknown output format {output!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
    cells = [[_clip(_cell(v), max_width) for v in row] for row in result.rows]
    widths = [len(c) for c in result.columns]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    numeric = [
        all(isinstance(row[i], (int, float, Decimal)) and not isinstance(row[i], bool) for row in result.rows
            if row[i] is not None) and any(row[i] is not None for row in result.rows)
        for i in range(len(result.columns))
    ]

    def line(values: list[str]) -> str:
        return " | ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths)))

    out = [line(list(result.columns)), "-+-".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    return "\n".join(out)


def footer(result: QueryResult, limit: int) -> str:
    n = len(result.rows)
    text = f"({n:,} row{'s' if n != 1 else ''} in {result.seconds:.3f}s"
    if result.truncated:
        text += f"; stopped at the row limit {limit:,}: add a LIMIT/filters or pass --limit"
    return text + ")"


def _clip(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"
