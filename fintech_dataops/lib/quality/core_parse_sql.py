"""The SQL half of the core-layer validation: DuckDB parses raw JSON lines into typed values.

One vectorised statement per partition set: UTF-8, ``json_valid``, ``json_type = OBJECT``, then per
feed field its JSON type and a typed value (``TRY_CAST`` per ``Feed.core_types``), plus the list of
parse failures of the line (invalid JSON, not an object, missing required field, null, wrong JSON
type, unparseable timestamp/date). Used by :mod:`fintech_dataops.lib.quality.core_gate`.
"""

from __future__ import annotations

import duckdb

from fintech_dataops.lib.money.currencies import (
    MINOR_UNITS_NOT_TWO,
    DEFAULT_MINOR_UNITS,
    decimal_scale,
    is_decimal_type,
    is_money_type,
)
from fintech_dataops.lib.warehouse import qualified, table_exists
from fintech_dataops.schemas import feed_for, nullable_fields

# Decimal fields are parsed this wide first, so an amount with too many decimals is caught, not rounded.
PARSE_DECIMAL = "DECIMAL(38,12)"

# JSON types (DuckDB ``json_type``) accepted for each core type, and what a parse failure is called.
_ACCEPTED_JSON_TYPES = {
    "VARCHAR": ("VARCHAR",),
    "DOUBLE": ("DOUBLE", "BIGINT", "UBIGINT"),
    "INTEGER": ("BIGINT", "UBIGINT"),
    "BOOLEAN": ("BOOLEAN",),
    "TIMESTAMP": ("VARCHAR",),
    "DATE": ("VARCHAR",),
    "DECIMAL": ("DOUBLE", "BIGINT", "UBIGINT"),
}
_EXPECTED_WORD = {
    "VARCHAR": "a string", "DOUBLE": "a number", "INTEGER": "an integer", "BOOLEAN": "true/false",
    "TIMESTAMP": "an ISO-8601 timestamp string", "DATE": "a YYYY-MM-DD date string", "DECIMAL": "a number",
}
_UNCASTABLE = {
    "TIMESTAMP": ("unparseable_timestamp", "unparseable timestamp"),
    "DATE": ("unparseable_date", "unparseable date"),
    "INTEGER": ("out_of_range", "integer out of the 32-bit range"),
    "DOUBLE": ("wrong_type", "not a number"),
    "VARCHAR": ("wrong_type", "not a string"),
    "BOOLEAN": ("wrong_type", "not true/false"),
    "DECIMAL": ("wrong_type", "not a number in range"),
}


def _kind(core_type: str) -> str:
    """DECIMAL(18,3) → DECIMAL; other core types are their own kind."""
    return "DECIMAL" if is_decimal_type(core_type) else core_type


def _minor_units_sql(currency_value: str) -> str:
    """ISO 4217 minor units of a currency column, in SQL (the table in lib/money/currencies.py)."""
    cases = " ".join(f"WHEN '{code}' THEN {units}" for code, units in sorted(MINOR_UNITS_NOT_TWO.items()))
    return f"(CASE {currency_value} {cases} ELSE {DEFAULT_MINOR_UNITS} END)"


def _fraction_digits_sql(text: str, value: str) -> str:
    """Significant digits after the decimal point of a JSON number (trailing zeros do not count): read
    off the text itself, so nothing is rounded first; the parsed decimal's digits for 1.5e-3 forms."""
    return (f"CASE WHEN regexp_matches({text}, '[eE]') "
            f"THEN length(rtrim(split_part(CAST({value} AS VARCHAR), '.', 2), '0')) "
            f"ELSE length(rtrim(regexp_extract({text}, '\\.([0-9]+)', 1), '0')) END")



def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _failure(check: str, column: str, detail: str) -> str:
    return "{'check': " + _sql_list([check])[1:-1] + ", 'column': " + _sql_list([column])[1:-1] + \
        ", 'detail': " + _sql_list([detail])[1:-1] + "}"


def _value_sql(index: int, core_type: str) -> str:
    """The typed value of field ``index`` (1-based in the extracted list), NULL when absent/wrong."""
    text = f"texts[{index}]"
    jt = f"jt_{index}"
    accepted = ", ".join(f"'{t}'" for t in _ACCEPTED_JSON_TYPES[_kind(core_type)])
    if is_decimal_type(core_type):
        cast = f"TRY_CAST({text} AS {PARSE_DECIMAL})"
    elif core_type == "VARCHAR":
        cast = text
    elif core_type == "BOOLEAN":
        cast = f"({text} = 'true')"
    elif core_type == "TIMESTAMP":
        # Offsets are honoured; a naive string is UTC (the session time zone is UTC while parsing).
        cast = f"(TRY_CAST({text} AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"
    else:
        cast = f"TRY_CAST({text} AS {core_type})"
    return f"CASE WHEN {jt} IN ({accepted}) THEN {cast} END"


def parse_sql(feed_name: str, source_sql: str) -> str:
    """One SELECT turning raw lines into typed values plus a list of parse failures per line."""
    feed = feed_for(feed_name)
    optional = nullable_fields(feed_name)
    fields = list(feed.fields)
    paths = _sql_list([f'$."{name}"' for name in fields])
    jt_cols = ",\n        ".join(f"types[{i}] AS jt_{i}" for i in range(1, len(fields) + 1))
    value_cols = ",\n    ".join(
        f"{_value_sql(i, feed.core_types[name])} AS \"v__{name}\"" for i, name in enumerate(fields, 1)
    )
    # (condition, failure) pairs; the list is only built for lines where some condition holds.
    failures = [
        ("ingest_issue IS NOT NULL",
         "{'check': ingest_issue, 'column': '', 'detail': 'refused or cut by the raw layer (' || ingest_issue || ')'}"),
        ("undecodable", _failure("invalid_utf8", "", "not valid UTF-8")),
        ("NOT undecodable AND ingest_issue IS NULL AND NOT is_json", _failure("invalid_json", "", "invalid JSON")),
        ("is_json AND NOT is_object", _failure("not_an_object", "", "JSON value is not an object")),
    ]
    currency_index = fields.index("currency") + 1 if "currency" in fields else None
    for i, name in enumerate(fields, 1):
        core_type = feed.core_types[name]
        kind = _kind(core_type)
        jt = f"jt_{i}"
        accepted = ", ".join(f"'{t}'" for t in _ACCEPTED_JSON_TYPES[kind])
        if name not in optional:
            failures.append((f"is_object AND {jt} IS NULL", _failure("missing_field", name, "missing required field")))
            failures.append((f"{jt} = 'NULL'", _failure("not_nullable", name, "null not allowed")))
        failures.append((
            f"{jt} <> 'NULL' AND {jt} NOT IN ({accepted})",
            f"{{'check': 'wrong_type', 'column': '{name}', 'detail': 'expected {_EXPECTED_WORD[kind]}, got ' || lower({jt})}}",
        ))
        check, detail = _UNCASTABLE[kind]
        failures.append((
            f"{jt} IN ({accepted}) AND \"v__{name}\" IS NULL",
            f"{{'check': '{check}', 'column': '{name}', 'detail': '{detail} ' || left(texts[{i}], 60)}}",
        ))
        if kind == "DECIMAL":
            # Exact money: more decimals than the currency allows (ISO 4217 minor units: JPY 0, USD 2,
            # BHD 3), or than the column stores, is bad input — never rounded away.
            value = f'"v__{name}"'
            digits = _fraction_digits_sql(f"texts[{i}]", value)
            if currency_index is not None and is_money_type(core_type):
                allowed = _minor_units_sql(f"texts[{currency_index}]")
                what = f"'more decimals than ' || coalesce(texts[{currency_index}], '?') || ' allows (' || {allowed} || ')'"
            else:
                allowed = str(decimal_scale(core_type))
                what = f"'more decimals than the column stores ({allowed})'"
            failures.append((
                f"{value} IS NOT NULL AND {digits} > {allowed}",
                f"{{'check': 'minor_units', 'column': '{name}', 'detail': {what} || ': ' || left(texts[{i}], 40)}}",
            ))
    any_failure = " OR ".join(f"({cond})" for cond, _ in failures)
    failure_list = ", ".join(f"CASE WHEN {cond} THEN {struct} END" for cond, struct in failures)
    return f"""
SELECT rid, partition_date, source_file, line_number, record, is_object,
    CASE WHEN ({any_failure}) IS TRUE THEN list_filter([{failure_list}], lambda x: x IS NOT NULL)
        ELSE [] END AS parse_failures,
    {", ".join(f'"v__{name}"' for name in fields)}
FROM (
    SELECT *, {value_cols}
    FROM (
        SELECT *, {jt_cols}
        FROM (
            -- two parses of the whole line (types, texts) are cheaper than re-parsing each extracted value
            SELECT *, CASE WHEN is_object THEN json_type(record, {paths}) END AS types,
                CASE WHEN is_object THEN json_extract_string(record, {paths}) END AS texts
            FROM (
                -- valid JSON whose first non-blank character is a brace is an object: no second parse needed
                SELECT *, (is_json AND left(ltrim(record, ' \t\r' || chr(10)), 1) = '{{') IS TRUE AS is_object
                FROM (
                    SELECT rid, partition_date, source_file, line_number, record,
                        record_bytes IS NOT NULL AS undecodable, ingest_issue,
                        (record_bytes IS NULL AND ingest_issue IS NULL AND json_valid(record)) IS TRUE AS is_json
                    FROM ({source_sql})
                )
            )
        )
    )
)
"""


def raw_source_sql(con: duckdb.DuckDBPyConnection, feed_name: str, days: list[str]) -> str:
    table = f"raw.{feed_name}"
    if table_exists(con, table):
        in_list = ", ".join(f"DATE '{d}'" for d in days)
        columns = {r[0] for r in con.execute(f"DESCRIBE {qualified(table)}").fetchall()}
        # The raw layer flags lines it had to cut or files it refused (ingest_issue); older raw tables lack it.
        issue = "CAST(ingest_issue AS VARCHAR)" if "ingest_issue" in columns else "NULL::VARCHAR"
        return (
            # rowid is a free unique row key (no window sort over a million lines)
            f"SELECT rowid AS rid, partition_date, source_file, line_number, record, record_bytes, {issue} AS ingest_issue "
            f"FROM {qualified(table)} WHERE partition_date IN ({in_list})"
        )
    return (
        "SELECT NULL::BIGINT AS rid, NULL::DATE AS partition_date, NULL::VARCHAR AS source_file, NULL::BIGINT AS line_number, "
        "NULL::VARCHAR AS record, NULL::BLOB AS record_bytes, NULL::VARCHAR AS ingest_issue WHERE false"
    )


def stored_ids_sql(con: duckdb.DuckDBPyConnection, feed_name: str, id_field: str, days: list[str]) -> str:
    """Ids already in ``core.<feed>`` outside the partitions being replaced."""
    table = f"core.{feed_name}"
    if not table_exists(con, table):
        return "SELECT NULL::VARCHAR AS stored_id WHERE false"
    in_list = ", ".join(f"DATE '{d}'" for d in days)
    return f'SELECT "{id_field}" AS stored_id FROM {qualified(table)} WHERE partition_date NOT IN ({in_list})'
