"""raw → core validation: typed valid rows to ``core.<feed>``, every failing line to ``quarantine.<feed>``.

The work is split where each engine is strongest:

1. **DuckDB parses** every raw line of the partition(s) in one vectorised
   statement (``core_parse_sql.py``): UTF-8, ``json_valid``, ``json_type = OBJECT``, then per field the
   JSON type and a typed value (``TRY_CAST`` per ``Feed.core_types``). Parse
   failures (invalid JSON, not an object, missing required field, null, wrong
   JSON type, unparseable timestamp/date) are recorded per line.
2. **pandera judges** the typed values of every JSON-object line, lazily, so
   all failures of all rows are found in one pass (ranges, allowed values,
   patterns, timestamps not in the future).
3. **The record validator** a feed shares with the online service
   (``schemas.transaction_contract.judge_line`` for ``transactions``) judges
   every line too, so core refuses exactly what the service refuses: event times
   outside the platform's window, repeated JSON keys, oversized records, and the
   one line the service lands for a refused request (``refused_by_service``).
4. **DuckDB deduplicates** ids among the lines that passed: the first line of
   an id wins; later copies, and ids already stored in another partition of
   ``core.<feed>``, are quarantined.

Every raw line ends up in exactly one of core or quarantine, so
``count(raw) = count(core) + count(quarantine)`` holds per partition by
construction. Bad input is data: nothing here raises on a bad record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import duckdb
import pandas as pd
import pandera.pandas as pa
import pyarrow

from fintech_dataops.lib.ingestion.feeds import LINEAGE_COLUMNS
from fintech_dataops.lib.ingestion.landing import parse_partition_date
from fintech_dataops.lib.money.core_columns import with_reporting_columns
from fintech_dataops.lib.money.currencies import is_decimal_type
from fintech_dataops.lib.money.fx import MoneyConfig
from fintech_dataops.lib.quality.core_parse_sql import parse_sql, raw_source_sql, stored_ids_sql
from fintech_dataops.lib.warehouse import qualified, replace_partitions, table_exists
from fintech_dataops.schemas import feed_for, schema_for, typed_frame
from fintech_dataops.schemas.transaction_contract import REFUSED_MARKER, Window, judge_line

# Feeds whose lines the record validator shared with the online service also judges.
SHARED_LINE_JUDGES = {"transactions": judge_line}

DQ_TABLE = "quality.dq_scores"

_ARROW_TO_PANDAS = {pyarrow.int32(): pd.Int32Dtype(), pyarrow.bool_(): pd.BooleanDtype()}
# One row per (line id, failed pandera check, column) handed back to DuckDB.
_PANDERA_FAILURES_COLUMNS = ["rid", "check_name", "column_name", "detail"]


@dataclass
class DayQuality:
    raw_rows: int = 0
    valid_rows: int = 0
    quarantined_rows: int = 0

    @property
    def dq_score(self) -> float:
        """% of raw records that passed every rule (100 for an empty partition: nothing failed)."""
        return round(100.0 * self.valid_rows / self.raw_rows, 4) if self.raw_rows else 100.0


@dataclass
class QualityResult:
    feed: str
    partition_dates: list[str]
    per_day: dict[str, DayQuality] = field(default_factory=dict)
    failed_checks: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    valid_table: str = ""        # temp view: exactly the core.<feed> columns
    quarantine_table: str = ""   # temp table: exactly the quarantine.<feed> columns
    temp_tables: list[str] = field(default_factory=list)

    @property
    def raw_rows(self) -> int:
        return sum(d.raw_rows for d in self.per_day.values())

    @property
    def valid_rows(self) -> int:
        return sum(d.valid_rows for d in self.per_day.values())

    @property
    def quarantined_rows(self) -> int:
        return sum(d.quarantined_rows for d in self.per_day.values())

    @property
    def dq_score(self) -> float:
        return DayQuality(self.raw_rows, self.valid_rows, self.quarantined_rows).dq_score

    @property
    def quarantine_rate(self) -> float:
        return self.quarantined_rows / self.raw_rows if self.raw_rows else 0.0

    @property
    def seconds(self) -> float:
        return sum(self.timings.values())

    @property
    def rows_per_second(self) -> float:
        return self.raw_rows / self.seconds if self.seconds > 0 else 0.0


def _short_check(check: str) -> str:
    return check.split("(", 1)[0]


def _describe_check(check: str) -> str:
    """Human text for a pandera check (allowed-value lists are long: name the rule, not the list)."""
    if check.startswith(("isin(", "notin(")):
        return "not an allowed value"
    if check == "not_nullable":
        return "null not allowed"
    return f"failed {check[:80]}"


def _pandera_failures(frame: pd.DataFrame, feed_name: str) -> pd.DataFrame:
    """Run the feed contract lazily on the typed frame; one row per (row id, failed check, column)."""
    schema = schema_for(feed_name)
    id_field = feed_for(feed_name).id_field
    # Duplicate ids are resolved afterwards (first valid line wins), so uniqueness is not judged here;
    # the blocking asset check re-validates the stored table with the full contract.
    schema = schema.update_column(id_field, unique=False)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return pd.DataFrame(columns=_PANDERA_FAILURES_COLUMNS)
    cases = cases.copy()
    cases["column"] = cases["column"].astype(object).where(cases["column"].notna(), "")
    row_level = cases[cases["index"].notna()]
    out = pd.DataFrame({
        "rid": row_level["index"].astype("int64").to_numpy(),
        "check_name": [_short_check(str(c)) for c in row_level["check"]],
        "column_name": row_level["column"].astype(str).to_numpy(),
        "detail": [
            f"{_describe_check(str(check))} (value {str(value)[:60]!r})"
            for check, value in zip(row_level["check"], row_level["failure_case"])
        ],
    })
    # A failure not tied to a row (e.g. a column with the wrong dtype) fails every row checked.
    frame_level = cases[cases["index"].isna()]
    if len(frame_level):
        whole = [
            pd.DataFrame({
                "rid": frame.index.to_numpy(dtype="int64"),
                "check_name": _short_check(str(case["check"])),
                "column_name": str(case["column"]),
                "detail": f"{_describe_check(str(case['check']))} ({str(case['failure_case'])[:60]})",
            })
            for _, case in frame_level.iterrows()
        ]
        out = pd.concat([out, *whole], ignore_index=True)
    return out


def _shared_judge_failures(con: duckdb.DuckDBPyConnection, parsed: str, feed_name: str, now: datetime) -> pd.DataFrame:
    """Run the feed's shared record validator over every readable line; one row per failure."""
    judge = SHARED_LINE_JUDGES.get(feed_name)
    rids: list[int] = []
    out: dict[str, list] = {"rid": rids, "check_name": [], "column_name": [], "detail": []}
    if judge is None:
        return pd.DataFrame(out)
    window = Window.at(now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now)
    # Lines that are not JSON objects are already quarantined by the parse (and refused by the judge too).
    lines = con.sql(f"SELECT rid, record FROM {parsed} WHERE is_object").fetchnumpy()
    checks, columns, details = out["check_name"], out["column_name"], out["detail"]
    for rid, line in zip(lines["rid"].tolist(), lines["record"].tolist()):
        failures = judge(line, window).failures
        for failure in failures:
            rids.append(rid)
            checks.append(failure.check)
            columns.append(failure.column)
            details.append(failure.detail)
    return pd.DataFrame({"rid": pd.Series(rids, dtype="int64"), "check_name": pd.Series(checks, dtype=object),
                         "column_name": pd.Series(columns, dtype=object), "detail": pd.Series(details, dtype=object)})


def validate_partition(
    con: duckdb.DuckDBPyConnection, feed_name: str, days: list[str], *, now: datetime | None = None
) -> QualityResult:
    """Judge every raw line of ``days``; leave a temp view of the core rows and a temp table of the quarantined rows.

    ``result.valid_table`` has exactly the ``core.<feed>`` columns; ``result.quarantine_table`` the
    ``quarantine.<feed>`` columns. Nothing is written to the warehouse here; :func:`release` drops
    the temp objects (``load_core_partitions`` does it after writing).
    """
    feed = feed_for(feed_name)
    days = [parse_partition_date(d).isoformat() for d in days]
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(tzinfo=None)
    result = QualityResult(feed=feed.name, partition_dates=days)
    tag = f"{feed.name}_{abs(hash(tuple(days))) % 10**8}"
    parsed, failures, judged = f"q_parsed_{tag}", f"q_pandera_{tag}", f"q_judged_{tag}"
    shared_failures = f"q_shared_{tag}"
    result.valid_table, result.quarantine_table = f"q_valid_{tag}", f"q_quarantine_{tag}"

    previous_tz = con.execute("SELECT current_setting('TimeZone')").fetchone()[0]
    con.execute("SET TimeZone = 'UTC'")
    try:
        t0 = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TEMP TABLE {parsed} AS {parse_sql(feed.name, raw_source_sql(con, feed.name, days))}")
        t1 = time.perf_counter()
        result.timings["parse_seconds"] = t1 - t0

        # pandera judges ranges on float64; the stored value stays the exact DECIMAL (cast below).
        value_cols = ", ".join(
            f'CAST("v__{name}" AS DOUBLE) AS "{name}"' if is_decimal_type(feed.core_types[name]) else f'"v__{name}" AS "{name}"'
            for name in feed.fields
        )
        # Through Arrow: strings stay Arrow-backed, ~6x faster than .df() for a million rows.
        frame = con.sql(f"SELECT rid, {value_cols} FROM {parsed} WHERE is_object").to_arrow_table().to_pandas(
            types_mapper=_ARROW_TO_PANDAS.get
        )
        frame = typed_frame(frame.set_index("rid"), feed.name)
        t2 = time.perf_counter()
        result.timings["to_pandas_seconds"] = t2 - t1
        pandera_failures = _pandera_failures(frame, feed.name)
        del frame
        t3 = time.perf_counter()
        result.timings["pandera_seconds"] = t3 - t2

        con.register(f"{failures}_frame", pandera_failures)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {failures} AS SELECT rid, "
            "list({'check': check_name, 'column': column_name, 'detail': detail}) AS value_failures "
            f"FROM {failures}_frame GROUP BY rid"
        )
        con.unregister(f"{failures}_frame")
        shared = _shared_judge_failures(con, parsed, feed.name, now)
        con.register(f"{shared_failures}_frame", shared)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {shared_failures} AS SELECT CAST(rid AS BIGINT) AS rid, "
            "list({'check': CAST(check_name AS VARCHAR), 'column': CAST(column_name AS VARCHAR), "
            "'detail': CAST(detail AS VARCHAR)}) AS shared_failures, "
            f"bool_or(check_name = '{REFUSED_MARKER}') AS refused "
            f"FROM {shared_failures}_frame GROUP BY 1"
        )
        con.unregister(f"{shared_failures}_frame")
        del shared
        t4 = time.perf_counter()
        result.timings["shared_validator_seconds"] = t4 - t3
        id_col = f'"v__{feed.id_field}"'
        stored_ids = stored_ids_sql(con, feed.name, feed.id_field, days)
        dup_in_batch = (f"[{{'check': 'duplicate_id', 'column': '{feed.id_field}', "
                        "'detail': 'duplicate id (an earlier line of this batch has it)'}]")
        dup_stored = (f"[{{'check': 'duplicate_id_across_partitions', 'column': '{feed.id_field}', "
                      "'detail': 'duplicate id (already stored in another partition)'}]")
        # Only failing lines get a row in ``judged`` (a few per thousand): valid rows are never copied.
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {judged} AS
            WITH typed AS (
                -- a column that failed to parse is reported once (its parse failure), not again by pandera
                SELECT coalesce(p.rid, f.rid) AS rid, CASE
                    WHEN f.rid IS NULL THEN p.parse_failures
                    WHEN p.rid IS NULL THEN f.value_failures
                    ELSE list_concat(p.parse_failures, list_filter(f.value_failures,
                        lambda x: NOT list_contains(list_transform(p.parse_failures, lambda q: q.column), x.column)))
                    END AS failures
                FROM (SELECT rid, parse_failures FROM {parsed} WHERE len(parse_failures) > 0) p
                FULL OUTER JOIN {failures} f USING (rid)
            ), flagged AS (
                -- the shared validator's reasons count where the typed judges found nothing, and a
                -- request the service refused is quarantined as that alone
                SELECT coalesce(t.rid, s.rid) AS rid, CASE
                    WHEN s.refused OR t.rid IS NULL THEN s.shared_failures
                    ELSE t.failures END AS failures
                FROM typed t FULL OUTER JOIN {shared_failures} s USING (rid)
            ), passing AS (
                SELECT rid, {id_col} AS id, partition_date, source_file, line_number FROM {parsed} ANTI JOIN flagged USING (rid)
            ), repeated AS (
                -- the first passing line of an id (day, file, line order) wins; its later copies are duplicates
                SELECT id, arg_min(rid, (partition_date, source_file, line_number)) AS first_rid
                FROM passing GROUP BY id HAVING count(*) > 1
            ), duplicates AS (
                SELECT p.rid, {dup_in_batch} AS failures
                FROM passing p JOIN repeated r ON p.id = r.id AND p.rid <> r.first_rid
            ), stored_elsewhere AS (
                SELECT p.rid, {dup_stored} AS failures
                FROM passing p SEMI JOIN ({stored_ids}) s ON p.id = s.stored_id
                WHERE p.rid NOT IN (SELECT rid FROM duplicates)
            )
            SELECT * FROM flagged UNION ALL SELECT * FROM duplicates UNION ALL SELECT * FROM stored_elsewhere
        """)
        field_casts = ", ".join(
            f'CAST(p."v__{name}" AS {core_type}) AS "{name}"' for name, core_type in feed.core_types.items()
        )
        lineage = ", ".join(f"CAST(p.{col} AS {typ}) AS {col}" for col, typ in LINEAGE_COLUMNS.items())
        # A view, not a copy: the core write reads the parsed rows once, minus the failing ones.
        con.execute(f"""
            CREATE OR REPLACE TEMP VIEW {result.valid_table} AS
            SELECT {field_casts}, {lineage} FROM {parsed} p ANTI JOIN {judged} j USING (rid)
        """)
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {result.quarantine_table} AS
            SELECT {lineage}, CAST(p.record AS VARCHAR) AS record,
                CAST(list_sort(list_distinct(list_transform(j.failures, lambda x: x.check))) AS VARCHAR[]) AS failed_checks,
                CAST(list_sort(list_distinct(list_filter(list_transform(j.failures, lambda x: x.column), lambda c: c <> '')))
                    AS VARCHAR[]) AS failed_columns,
                array_to_string(list_transform(j.failures,
                    lambda x: CASE WHEN x.column = '' THEN x.detail ELSE x.column || ': ' || x.detail END), '; ') AS reason,
                CAST(? AS TIMESTAMP) AS quarantined_at
            FROM {parsed} p JOIN {judged} j USING (rid) ORDER BY p.partition_date, p.source_file, p.line_number
        """, [now])
        raw_per_day = dict(con.execute(
            f"SELECT CAST(partition_date AS VARCHAR), count(*) FROM {parsed} GROUP BY 1").fetchall())
        quarantined_per_day = dict(con.execute(
            f"SELECT CAST(partition_date AS VARCHAR), count(*) FROM {result.quarantine_table} GROUP BY 1").fetchall())
        result.per_day = {
            d: DayQuality(raw_rows=raw_per_day.get(d, 0), valid_rows=raw_per_day.get(d, 0) - quarantined_per_day.get(d, 0),
                          quarantined_rows=quarantined_per_day.get(d, 0))
            for d in days
        }
        result.failed_checks = dict(con.execute(
            f"SELECT c, count(*) FROM (SELECT unnest(failed_checks) AS c FROM {result.quarantine_table}) "
            "GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall())
        result.timings["judge_seconds"] = time.perf_counter() - t4
        result.temp_tables = [parsed, judged]
    except BaseException:
        release(con, result, extra=[parsed, failures, judged, shared_failures])
        raise
    finally:
        con.execute(f"DROP TABLE IF EXISTS {failures}")
        con.execute(f"DROP TABLE IF EXISTS {shared_failures}")
        con.execute(f"SET TimeZone = '{previous_tz}'")
    return result


def release(con: duckdb.DuckDBPyConnection, result: QualityResult, extra: list[str] | None = None) -> None:
    """Drop the temp objects of a validation (the valid view reads the parsed rows until then)."""
    if result.valid_table:
        con.execute(f"DROP VIEW IF EXISTS {result.valid_table}")
    for table in [result.quarantine_table, *result.temp_tables, *(extra or [])]:
        if table:
            con.execute(f"DROP TABLE IF EXISTS {table}")


def load_core_partitions(
    con: duckdb.DuckDBPyConnection, feed_name: str, days: list[str], *, now: datetime | None = None,
    money: MoneyConfig | None = None,
) -> QualityResult:
    """Validate ``raw.<feed>`` for ``days`` and replace those partitions of core and quarantine.

    ``quality.dq_scores`` is computed from the stored tables afterwards (:func:`write_dq_scores`).

    Money fields of a feed with a currency also get their reporting-currency twin
    (``lib.money.core_columns``), converted at the rates of ``core.fx_rates``.
    Idempotent: a rerun replaces the same partitions with the same rows (no duplicated quarantine rows).
    """
    now = now or datetime.now(timezone.utc)
    result = validate_partition(con, feed_name, days, now=now)
    t0 = time.perf_counter()
    try:
        core_rows = with_reporting_columns(con, feed_for(feed_name), f"SELECT * FROM {result.valid_table}", money)
        replace_partitions(
            con, f"core.{feed_name}", core_rows,
            partition_column="partition_date", partition_values=result.partition_dates,
        )
        replace_partitions(
            con, f"quarantine.{feed_name}", f"SELECT * FROM {result.quarantine_table}",
            partition_column="partition_date", partition_values=result.partition_dates,
        )
    finally:
        release(con, result)
    result.timings["write_seconds"] = time.perf_counter() - t0
    return result


def dq_scores_sql(con: duckdb.DuckDBPyConnection, feed_names: list[str], days: list[str], *, now: datetime) -> str:
    """One row per (day, feed): lines received (raw), valid (core), quarantined, and the DQ score.

    Counted from the stored tables, so the score describes what downstream assets read; a raw line
    in neither core nor quarantine shows up as ``raw_rows - valid_rows - quarantined_rows``.
    """
    dates = ", ".join(f"DATE '{parse_partition_date(d).isoformat()}'" for d in days) or "NULL"
    computed_at = now.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")

    def per_day(layer: str, feed: str) -> str:
        table = f"{layer}.{feed}"
        if not table_exists(con, table):
            return "(SELECT CAST(NULL AS DATE) AS partition_date, CAST(0 AS BIGINT) AS n WHERE false)"
        return (f"(SELECT partition_date, count(*) AS n FROM {qualified(table)} "
                f"WHERE partition_date IN ({dates}) GROUP BY partition_date)")

    selects = [
        f"""SELECT d.partition_date, '{feed_for(feed).name}' AS feed, coalesce(r.n, 0) AS raw_rows,
               coalesce(c.n, 0) AS valid_rows, coalesce(q.n, 0) AS quarantined_rows
        FROM (SELECT unnest([{dates}]) AS partition_date) d
        LEFT JOIN {per_day('raw', feed)} r USING (partition_date)
        LEFT JOIN {per_day('core', feed)} c USING (partition_date)
        LEFT JOIN {per_day('quarantine', feed)} q USING (partition_date)"""
        for feed in feed_names
    ]
    return f"""
        SELECT CAST(partition_date AS DATE) AS partition_date, feed, raw_rows, valid_rows, quarantined_rows,
               CAST(CASE WHEN raw_rows > 0 THEN round(100.0 * valid_rows / raw_rows, 4) ELSE 100.0 END AS DOUBLE)
                   AS dq_score,
               TIMESTAMP '{computed_at}' AS computed_at
        FROM ({" UNION ALL ".join(selects)})
        ORDER BY partition_date, feed"""


def write_dq_scores(
    con: duckdb.DuckDBPyConnection, feed_names: list[str], days: list[str], *, now: datetime | None = None
) -> int:
    """Replace the ``days`` of ``quality.dq_scores`` (every feed in ``feed_names``) in one transaction."""
    now = now or datetime.now(timezone.utc)
    days = [parse_partition_date(d).isoformat() for d in days]
    return replace_partitions(
        con, DQ_TABLE, dq_scores_sql(con, feed_names, days, now=now),
        partition_column="partition_date", partition_values=days,
    )
