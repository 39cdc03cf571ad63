"""Run one checked PM query with a row limit and a timeout; format the answer.

The timeout is enforced by DuckDB itself: a timer thread calls
``connection.interrupt()``, which cancels the running query cleanly.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, time as dtime
from decimal import Decimal

import duckdb

from fintech_dataops.lib.sql_guard import check_query

DEFAULT_ROW_LIMIT = 1000
DEFAULT_TIMEOUT_SECONDS = 60.0
OUTPUT_FORMATS = ("table", "csv", "json")


class QueryTimeout(RuntimeError):
    """The query ran past its time budget and was interrupted."""


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
            raise QueryTimeout(
                f"the query ran longer than {timeout_seconds:g}s and was stopped; add filters or a LIMIT, "
                "or raise --timeout"
            ) from None
        raise
    finally:
        if timer:
            timer.cancel()
    truncated = limit > 0 and len(rows) > limit
    return QueryResult(columns, rows[:limit] if truncated else rows, truncated, time.perf_counter() - started)


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
