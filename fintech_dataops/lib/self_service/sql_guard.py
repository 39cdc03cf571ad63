"""Read-only SQL for product managers: what a query may do, decided by DuckDB's own parser.

Two independent layers keep the PM view read-only *by construction*:

1. **This guard** parses the text with DuckDB (``duckdb.extract_statements`` for the
   statement kind, ``json_serialize_sql`` for the tree) and refuses, with a message a
   PM can act on, anything that is not one plain query: writes and DDL, ``ATTACH`` /
   ``DETACH``, ``COPY``, ``EXPORT``/``IMPORT``, ``INSTALL``/``LOAD``, ``SET``/``PRAGMA``/
   ``CALL``, every file- or network-reading function (``read_csv``, ``glob``,
   ``FROM 'file.parquet'``, ...) or SQL-in-a-string function (``query``), and the
   functions that show the server's settings and files (``current_setting``,
   ``duckdb_settings``, ``duckdb_databases``, ...): they reveal server paths.
2. **The connection** (``pm_view.open_pm_connection``) is opened ``read_only`` with
   ``enable_external_access = false`` and a locked configuration, so even a query
   the guard let through by mistake cannot write or touch a file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb

# Table functions (and scalar functions) that read files, URLs or other databases,
# or run SQL given as a string. Names are compared lower-case.
FILE_READING_FUNCTIONS = frozenset({
    "read_csv", "read_csv_auto", "sniff_csv", "read_parquet", "parquet_scan", "parquet_metadata",
    "parquet_schema", "parquet_file_metadata", "parquet_kv_metadata", "parquet_bloom_probe",
    "read_json", "read_json_auto", "read_json_objects", "read_json_objects_auto", "read_ndjson",
    "read_ndjson_auto", "read_ndjson_objects", "read_text", "read_blob", "glob", "read_xlsx",
    "iceberg_scan", "iceberg_metadata", "iceberg_snapshots", "delta_scan", "st_read", "st_read_meta",
    "sqlite_scan", "sqlite_attach", "postgres_scan", "postgres_query", "mysql_scan", "mysql_query",
    "read_duckdb", "duckdb_databases_scan", "query", "query_table", "load_aws_credentials",
})

# Functions that show how the server is set up rather than warehouse data: settings (the temp
# directory, allowed paths, the home directory's secret folder), attached database files, extension
# install paths, temporary files, secrets, logs. Each can reveal server paths; a PM needs none.
SERVER_INTROSPECTION_FUNCTIONS = frozenset({
    "current_setting", "duckdb_settings", "duckdb_databases", "pragma_database_list", "duckdb_extensions",
    "duckdb_temporary_files", "duckdb_secrets", "which_secret", "duckdb_secret_types", "duckdb_memory",
    "duckdb_external_file_cache", "duckdb_logs", "duckdb_log_contexts", "duckdb_variables", "getvariable",
    "pragma_user_agent", "pragma_metadata_info", "duckdb_approx_database_count", "getenv",
})

_KIND_MESSAGES = {
    "INSERT": "writes data",
    "UPDATE": "writes data",
    "DELETE": "writes data",
    "MERGE_INTO": "writes data",
    "CREATE": "creates an object (DDL)",
    "DROP": "drops an object (DDL)",
    "ALTER": "alters an object (DDL)",
    "CREATE_FUNC": "creates a function (DDL)",
    "ATTACH": "attaches another database",
    "DETACH": "detaches a database",
    "COPY": "copies data to or from files",
    "COPY_DATABASE": "copies a database",
    "EXPORT": "exports the database to files",
    "LOAD": "installs or loads an extension",
    "SET": "changes a setting (SET / RESET / USE)",
    "VARIABLE_SET": "sets a variable",
    "PRAGMA": "is a PRAGMA (can change settings)",
    "CALL": "calls a procedure (CALL / CHECKPOINT)",
    "TRANSACTION": "controls transactions",
    "VACUUM": "rewrites storage",
    "ANALYZE": "rewrites statistics",
    "PREPARE": "prepares a statement",
    "EXECUTE": "executes a prepared statement",
    "EXTENSION": "manages extensions",
    "UPDATE_EXTENSIONS": "updates extensions",
    "LOGICAL_PLAN": "is an internal plan statement",
    "RELATION": "is an internal relation statement",
}
_ALLOWED_KINDS = {"SELECT", "EXPLAIN"}
_FILE_LIKE_NAME = re.compile(r"[/\\:]|\.[A-Za-z0-9]{1,8}$|^~")


class RefusedQuery(ValueError):
    """A statement the PM view does not run; ``str()`` is the message to show."""


@dataclass(frozen=True)
class CheckedQuery:
    sql: str
    tables: tuple[str, ...]
    """Tables read, ``schema.table`` (schema may be empty), CTE names excluded."""


def check_query(sql: str) -> CheckedQuery:
    """Return the single read-only query in ``sql`` or raise :class:`RefusedQuery`."""
    text = (sql or "").strip()
    if not text.rstrip(";").strip():
        raise RefusedQuery("empty query: write one SELECT statement")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise RefusedQuery(f"SQL syntax error: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise RefusedQuery(f"one statement at a time please ({len(statements)} given)")
    kind = statements[0].type.name
    if kind not in _ALLOWED_KINDS:
        what = _KIND_MESSAGES.get(kind, f"is a {kind} statement")
        raise RefusedQuery(f"refused: this statement {what}; the PM view is read-only (SELECT, WITH, "
                           "DESCRIBE, SHOW, SUMMARIZE, EXPLAIN only)")
    body = text
    if kind == "EXPLAIN":
        # Re-check the explained statement: EXPLAIN ANALYZE would execute it.
        match = re.match(r"(?is)^\s*explain\s+(analyze\s+)?(.*)$", text)
        if not match:
            raise RefusedQuery("refused: could not read the EXPLAINed statement")
        inner = check_query(match.group(2))
        return CheckedQuery(sql=text.rstrip().rstrip(";"), tables=inner.tables)
    tree = _parse_tree(body)
    tables = _inspect(tree)
    return CheckedQuery(sql=body.rstrip().rstrip(";"), tables=tables)


def tables_read(sql: str) -> tuple[str, ...]:
    """The tables a SELECT reads (``schema.table``), for inferring a mart's upstream assets."""
    return _inspect(_parse_tree(sql))


def _parse_tree(sql: str) -> dict:
    con = duckdb.connect(":memory:")
    try:
        serialized = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0]
    finally:
        con.close()
    tree = json.loads(serialized)
    if tree.get("error"):
        message = tree.get("error_message", "cannot parse")
        if "Only SELECT" in message:
            raise RefusedQuery("refused: only queries can run in the PM view")
        raise RefusedQuery(f"SQL error: {message}")
    return tree


def _walk(node) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _cte_names(tree: dict) -> set[str]:
    names: set[str] = set()
    for node in _walk(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            names.update(entry.get("key", "").lower() for entry in cte_map.get("map", []))
    return names


def _inspect(tree: dict) -> tuple[str, ...]:
    ctes = _cte_names(tree)
    tables: list[str] = []
    for node in _walk(tree):
        function_name = node.get("function_name")
        if isinstance(function_name, str) and function_name.lower() in FILE_READING_FUNCTIONS:
            raise RefusedQuery(
                f"refused: {function_name}() reads files, URLs or other databases (or runs SQL from a "
                "string); the PM view only queries warehouse tables"
            )
        if isinstance(function_name, str) and function_name.lower() in SERVER_INTROSPECTION_FUNCTIONS:
            raise RefusedQuery(
                f"refused: {function_name}() shows the server's configuration (settings, files, paths); "
                "the PM view only queries warehouse tables (SHOW ALL TABLES lists them)"
            )
        if node.get("type") == "BASE_TABLE":
            name = node.get("table_name", "")
            schema = node.get("schema_name", "")
            catalog = node.get("catalog_name", "")
            if name.lower() in SERVER_INTROSPECTION_FUNCTIONS:  # a table function called without ()
                raise RefusedQuery(f"refused: {name} shows the server's configuration (settings, files, paths); "
                                   "the PM view only queries warehouse tables (SHOW ALL TABLES lists them)")
            if _FILE_LIKE_NAME.search(name):
                raise RefusedQuery(f"refused: FROM '{name}' reads a file; query warehouse tables (schema.table)")
            if catalog and catalog.lower() not in {"", "memory"} and schema:
                tables.append(f"{catalog}.{schema}.{name}")
            elif not schema and name.lower() in ctes:
                continue
            else:
                tables.append(f"{schema}.{name}" if schema else name)
    return tuple(dict.fromkeys(tables))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
