"""Marts as SQL files: ``fintech_dataops/marts/<name>.sql`` → table ``marts.<name>``.

A PM adds a mart by adding one file holding one SELECT. The tables it reads are
found by DuckDB's own parser (``json_serialize_sql``, CTE names excluded), so the
Dagster wiring can declare them as upstream assets without anyone listing them.
The leading ``--`` comment lines become the asset's description.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from fintech_dataops.lib.self_service.sql_guard import RefusedQuery, check_query
from fintech_dataops.lib.warehouse import replace_table, table_exists

MARTS_DIR = Path(__file__).resolve().parents[2] / "marts"
MARTS_SCHEMA = "marts"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class InvalidMart(ValueError):
    """A mart file that is not one read-only SELECT over ``schema.table`` names."""


@dataclass(frozen=True)
class MartSpec:
    name: str
    path: Path
    sql: str
    sources: tuple[str, ...]
    """Tables read, ``schema.table``."""
    description: str

    @property
    def table(self) -> str:
        return f"{MARTS_SCHEMA}.{self.name}"


@dataclass(frozen=True)
class MartResult:
    rows: int
    seconds: float
    missing_sources: tuple[str, ...] = ()
    preview_markdown: str = ""

    @property
    def built(self) -> bool:
        return not self.missing_sources


def _description(sql: str, name: str) -> str:
    lines = []
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped.startswith("--"):
            break
        lines.append(stripped.lstrip("-").strip())
    return " ".join(lines).strip() or f"Mart {name} (from {name}.sql)."


def load_mart(path: Path) -> MartSpec:
    path = Path(path)
    name = path.stem
    if not _NAME_RE.match(name):
        raise InvalidMart(f"{path.name}: a mart file name must be lower_snake_case (it becomes marts.{name})")
    sql = path.read_text(encoding="utf-8")
    try:
        checked = check_query(sql)
    except RefusedQuery as exc:
        raise InvalidMart(f"{path.name}: {exc}") from None
    unqualified = [t for t in checked.tables if t.count(".") != 1]
    if unqualified:
        raise InvalidMart(f"{path.name}: name tables as schema.table (found {', '.join(unqualified)})")
    return MartSpec(name=name, path=path, sql=checked.sql, sources=checked.tables,
                    description=_description(sql, name))


def discover_marts(folder: Path = MARTS_DIR) -> list[MartSpec]:
    """Every ``*.sql`` in ``folder`` (sorted by name). Raises ``InvalidMart`` for a bad file."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return [load_mart(p) for p in sorted(folder.glob("*.sql"))]


def missing_sources(con: duckdb.DuckDBPyConnection, spec: MartSpec) -> tuple[str, ...]:
    return tuple(t for t in spec.sources if not table_exists(con, t))


def build_mart(con: duckdb.DuckDBPyConnection, spec: MartSpec, preview_rows: int = 10) -> MartResult:
    """(Re)build ``marts.<name>`` atomically; a missing source table means nothing is built."""
    started = time.perf_counter()
    missing = missing_sources(con, spec)
    if missing:
        return MartResult(rows=0, seconds=time.perf_counter() - started, missing_sources=missing)
    rows = replace_table(con, spec.table, spec.sql)
    preview = con.execute(f"SELECT * FROM {spec.table} LIMIT {int(preview_rows)}").df()
    return MartResult(rows=rows, seconds=time.perf_counter() - started,
                      preview_markdown=_markdown(preview))


def _markdown(frame) -> str:
    if frame.empty:
        return "(empty)"
    columns = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join("" if v is None else str(v).replace("|", "\\|")[:60] for v in row) + " |")
    return "\n".join(lines)
