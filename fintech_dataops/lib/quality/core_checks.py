"""The measurements behind the core-table asset checks (pure functions over the warehouse).

- :func:`revalidate_core` re-reads stored ``core.<feed>`` partitions and validates them with the
  full pandera contract (id uniqueness included, also against the other partitions);
- :func:`reconcile` checks ``count(raw) = count(core) + count(quarantine)`` per partition;
- :func:`quarantine_rate` is the share of raw lines quarantined; :func:`judge_quarantine_days` says
  which days breach :class:`QuarantineThresholds`;
- :func:`referential_orphans` counts rows whose parent (e.g. the customer) is not in core yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pandera.pandas as pa

from fintech_dataops.lib.warehouse import qualified, table_exists
from fintech_dataops.schemas import feed_for, schema_for, typed_frame
from fintech_dataops.schemas.references import REFERENCES

def _in_days(days: list[str]) -> str:
    return ", ".join(f"DATE '{d}'" for d in days) or "NULL"


def _count(con: duckdb.DuckDBPyConnection, table: str, days: list[str]) -> dict[str, int]:
    if not table_exists(con, table):
        return {}
    return dict(con.execute(
        f"SELECT CAST(partition_date AS VARCHAR), count(*) FROM {qualified(table)} "
        f"WHERE partition_date IN ({_in_days(days)}) GROUP BY 1"
    ).fetchall())


@dataclass
class Revalidation:
    rows: int
    failures: int
    failure_summary: list[dict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.failures == 0


def revalidate_core(con: duckdb.DuckDBPyConnection, feed_name: str, days: list[str], *, max_cases: int = 20) -> Revalidation:
    """Validate what is stored in ``core.<feed>`` for ``days`` with the full contract."""
    feed = feed_for(feed_name)
    table = f"core.{feed.name}"
    if not table_exists(con, table):
        return Revalidation(0, 1, [{"check": "table_exists", "column": "", "failures": 1, "examples": [table]}])
    stored_types = dict(con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'core' AND table_name = ?",
        [feed.name],
    ).fetchall())
    drift = [
        {"check": "column_type", "column": name, "failures": 1, "examples": [f"expected {typ}, stored {stored_types.get(name)}"]}
        for name, typ in feed.core_types.items() if stored_types.get(name) != typ
    ]
    if drift:
        return Revalidation(0, len(drift), drift)
    columns = ", ".join(f'"{name}"' for name in feed.fields)
    frame = con.sql(
        f"SELECT {columns} FROM {qualified(table)} WHERE partition_date IN ({_in_days(days)})"
    ).to_arrow_table().to_pandas()
    frame = typed_frame(frame, feed.name)
    summary: list[dict] = []
    failures = 0
    try:
        schema_for(feed.name).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        failures += len(cases)
        cases = cases.assign(column=cases["column"].astype(object).fillna(""), check=cases["check"].astype(str))
        for (column, check), group in cases.groupby(["column", "check"], sort=True):
            summary.append({
                "check": check[:120], "column": column, "failures": int(len(group)),
                "examples": [str(v)[:60] for v in group["failure_case"].head(3)],
            })
    id_col = f'"{feed.id_field}"'
    across = con.execute(
        f"SELECT count(*) FROM {qualified(table)} a WHERE a.partition_date IN ({_in_days(days)}) AND EXISTS ("
        f"SELECT 1 FROM {qualified(table)} b WHERE b.{id_col} = a.{id_col} AND b.partition_date <> a.partition_date)"
    ).fetchone()[0]
    if across:
        failures += across
        summary.append({"check": "unique_across_partitions", "column": feed.id_field, "failures": int(across), "examples": []})
    return Revalidation(rows=len(frame), failures=failures, failure_summary=summary[:max_cases])


@dataclass
class Reconciliation:
    day: str
    raw: int
    core: int
    quarantine: int

    @property
    def balanced(self) -> bool:
        return self.raw == self.core + self.quarantine


def reconcile(con: duckdb.DuckDBPyConnection, feed_name: str, days: list[str]) -> list[Reconciliation]:
    raw, core, quarantine = (_count(con, f"{layer}.{feed_name}", days) for layer in ("raw", "core", "quarantine"))
    return [Reconciliation(d, raw.get(d, 0), core.get(d, 0), quarantine.get(d, 0)) for d in days]


def quarantine_rate(con: duckdb.DuckDBPyConnection, feed_name: str, days: list[str]) -> tuple[int, int, float]:
    """(raw lines, quarantined lines, quarantined / raw) over ``days``."""
    raw = sum(_count(con, f"raw.{feed_name}", days).values())
    quarantined = sum(_count(con, f"quarantine.{feed_name}", days).values())
    return raw, quarantined, (quarantined / raw if raw else 0.0)


@dataclass(frozen=True)
class QuarantineThresholds:
    """When a day's share of quarantined lines is worth a look (WARN) or is a broken feed day (ERROR).

    Judged per day, so one bad day is not averaged away over a month-long backfill, and only on
    days with at least ``min_lines`` quarantined, so 1 bad line of a 20-line day does not alarm.
    The simulator lands about 0.2 % malformed lines by design (up to 0.35 % on a busy day): quiet.
    """

    warn_rate: float = 0.01
    error_rate: float = 0.05
    min_lines: int = 10

    def __post_init__(self) -> None:
        if not 0 <= self.warn_rate <= self.error_rate <= 1 or self.min_lines < 1:
            raise ValueError("need 0 <= warn_rate <= error_rate <= 1 and min_lines >= 1")


@dataclass(frozen=True)
class QuarantineDay:
    day: str
    raw_rows: int
    quarantined_rows: int

    @property
    def rate(self) -> float:
        return self.quarantined_rows / self.raw_rows if self.raw_rows else 0.0


@dataclass
class QuarantineJudgement:
    days: list[QuarantineDay]
    warn_days: list[QuarantineDay]      # at or above min_lines and above warn_rate (error days included)
    error_days: list[QuarantineDay]

    @property
    def worst(self) -> QuarantineDay | None:
        return max(self.days, key=lambda d: (d.rate, d.quarantined_rows), default=None)


def judge_quarantine_days(
    con: duckdb.DuckDBPyConnection, feed_name: str, days: list[str], thresholds: QuarantineThresholds
) -> QuarantineJudgement:
    """Per day of ``days``: raw and quarantined lines, and the days that breach ``thresholds``."""
    raw, quarantined = _count(con, f"raw.{feed_name}", days), _count(con, f"quarantine.{feed_name}", days)
    per_day = [QuarantineDay(day, raw.get(day, 0), quarantined.get(day, 0)) for day in sorted(set(raw) | set(quarantined))]
    judged = [d for d in per_day if d.quarantined_rows >= thresholds.min_lines]
    return QuarantineJudgement(
        days=per_day,
        warn_days=[d for d in judged if d.rate > thresholds.warn_rate],
        error_days=[d for d in judged if d.rate > thresholds.error_rate],
    )


@dataclass
class Orphans:
    column: str
    parent: str
    rows: int
    orphans: int
    examples: list[str]


def referential_orphans(
    con: duckdb.DuckDBPyConnection, feed_name: str, days: list[str] | None = None
) -> list[Orphans]:
    """Per declared reference: rows of ``core.<feed>`` (in ``days``, or all) whose parent key is unknown."""
    table = f"core.{feed_name}"
    if not table_exists(con, table):
        return [Orphans(column, parent, 0, 0, []) for column, parent, _ in REFERENCES.get(feed_name, ())]
    out = []
    for column, parent, parent_column in REFERENCES.get(feed_name, ()):
        where = "true" if days is None else f"partition_date IN ({_in_days(days)})"
        rows = con.execute(f"SELECT count(*) FROM {qualified(table)} WHERE {where}").fetchone()[0]
        if table_exists(con, parent):
            orphan_sql = (
                f'SELECT "{column}" FROM {qualified(table)} c WHERE {where} AND "{column}" IS NOT NULL AND NOT EXISTS '
                f'(SELECT 1 FROM {qualified(parent)} p WHERE p."{parent_column}" = c."{column}")'
            )
        else:
            orphan_sql = f'SELECT "{column}" FROM {qualified(table)} WHERE {where} AND "{column}" IS NOT NULL'
        orphans = con.execute(f"SELECT count(*) FROM ({orphan_sql})").fetchone()[0]
        examples = [r[0] for r in con.execute(f"SELECT DISTINCT * FROM ({orphan_sql}) ORDER BY 1 LIMIT 5").fetchall()]
        out.append(Orphans(column, parent, rows, orphans, examples))
    return out
