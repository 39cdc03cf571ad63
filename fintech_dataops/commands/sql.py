"""``fintech-dataops sql``: read-only SQL for product managers over the published, PII-masked view.

    fintech-dataops sql "SELECT band, count(*) FROM credit.scores GROUP BY 1"
    fintech-dataops sql --format csv "FROM marts.daily_fraud_summary" > fraud.csv
    fintech-dataops sql            # interactive prompt; end a query with ';', quit with \\q

Queries run on ``<data dir>/published/pm_view.duckdb`` (see ``lib/self_service/pm_view.py``), so a
running pipeline never shows up as a lock error.
"""

from __future__ import annotations

import argparse
import sys

from fintech_dataops.lib.ingestion.landing import resolve_data_dir


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sql", help="read-only SQL over the warehouse (PII masked); no query = interactive prompt",
        description="Run one read-only query (SELECT / WITH / DESCRIBE / SHOW / SUMMARIZE / EXPLAIN) over "
                    "the published, PII-masked view of the warehouse. Writes, ATTACH, COPY, INSTALL/LOAD, "
                    "SET/PRAGMA and file-reading functions are refused.",
    )
    p.add_argument("query", nargs="?", default=None, help="the SQL query; omit for an interactive prompt")
    p.add_argument("--format", "-f", dest="output", choices=("table", "csv", "json"), default="table")
    p.add_argument("--limit", type=int, default=1000, help="max rows returned (default 1000; 0 = no limit)")
    p.add_argument("--timeout", type=float, default=60.0, help="stop the query after this many seconds (default 60)")
    p.add_argument("--max-memory", type=int, default=2048,
                   help="memory the query may use, in MB; past it the query is stopped (default 2048)")
    p.add_argument("--wait", type=float, default=120.0,
                   help="when no view is published yet and a pipeline is writing, wait this long (default 120 s)")
    p.add_argument("--no-refresh", action="store_true", help="query the last published view as is")
    p.set_defaults(handler=run)


def _prepare(args: argparse.Namespace):
    from fintech_dataops.lib.self_service.pm_view import ensure_snapshot, snapshot_path_for

    data_dir = resolve_data_dir(args.data_dir)
    status = ensure_snapshot(
        data_dir / "warehouse.duckdb", snapshot_path_for(data_dir),
        first_wait_seconds=args.wait, refresh=not args.no_refresh,
        echo=lambda msg: print(msg, file=sys.stderr),
    )
    if status.note:
        print(f"note: {status.note}", file=sys.stderr)
    return status


def _run_one(args: argparse.Namespace, sql: str) -> int:
    from pathlib import Path

    from fintech_dataops.lib.self_service.sql_guard import RefusedQuery, check_query
    from fintech_dataops.lib.self_service.sql_runner import (
        QueryFailed,
        QueryOutOfMemory,
        QueryTimeout,
        footer,
        format_result,
        run_query_isolated,
        scrub_paths,
    )

    try:
        check_query(sql)  # refuse before touching any file
    except RefusedQuery as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = _prepare(args)
    server_paths = (resolve_data_dir(args.data_dir), status.path.parent, Path.home())
    try:
        result = run_query_isolated(status.path, sql, limit=args.limit, timeout_seconds=args.timeout,
                                    max_memory_mb=args.max_memory)
    except RefusedQuery as exc:
        print(f"error: {scrub_paths(str(exc), server_paths)}", file=sys.stderr)
        return 2
    except (QueryTimeout, QueryOutOfMemory) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except QueryFailed as exc:
        print(f"error: {scrub_paths(str(exc), server_paths)}", file=sys.stderr)
        return 1
    print(format_result(result, args.output))
    if args.output == "table" or result.truncated:
        print(footer(result, args.limit), file=sys.stderr)
    return 0


def _interactive(args: argparse.Namespace, prompt: bool = True) -> int:
    """Read ';'-terminated queries from the terminal (or a pipe, without prompts)."""
    if prompt:
        try:
            import readline  # noqa: F401  (line editing and history for input())
        except ImportError:
            pass
        print("fintech-dataops SQL (read-only, PII masked). End a query with ';'. "
              "Try: SHOW ALL TABLES;  \\q quits.", file=sys.stderr)
    buffer: list[str] = []
    status = 0
    while True:
        try:
            line = input(("sql> " if not buffer else "...> ") if prompt else "")
        except EOFError:
            text = "\n".join(buffer).strip()
            if text:
                status = _run_one(args, text) or status
            return status
        except KeyboardInterrupt as exc:
            if type(exc) is not KeyboardInterrupt:  # SIGTERM (lib/serving.py): quit, do not clear the line
                raise
            print("^C", file=sys.stderr)
            buffer = []
            continue
        if not buffer and line.strip() in {"\\q", "quit", "exit", ".quit", ".exit"}:
            return status
        buffer.append(line)
        text = "\n".join(buffer).strip()
        if text.endswith(";"):
            buffer = []
            if text.rstrip(";").strip():
                status = _run_one(args, text) or status


def run(args: argparse.Namespace) -> int:
    from fintech_dataops.lib.self_service.pm_view import NoWarehouseYet

    try:
        if args.query is None:
            return _interactive(args, prompt=sys.stdin.isatty())
        return _run_one(args, args.query)
    except NoWarehouseYet as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 4
