"""A feed is one declaration: its columns (type, nullability, range / allowed values, description, PII
class) and its own settings (key, time field, partitioning, quarantine thresholds).

Everything else is derived from it, never written a second time:

- the core column types (``Feed.core_types``: the DuckDB type of each ``core.<feed>`` column);
- the pandera contract (``schemas.registry.schema_for``: dtypes, nullability, checks, id uniqueness);
- the column docs (``Feed.descriptions``: the Dagster column schema of the core table);
- the raw/core asset pair (``defs.ingestion.feed_assets.build_feed_assets``);
- the masking policy of the self-service views (``Feed.pii_fields`` → ``lib.self_service.pii``).

Plain data: no pandera, no dagster (Dagster definitions read declarations at load time). Import
direction: ``lib`` imports ``schemas``, ``schemas`` never imports ``lib`` (``test_architecture.py``).
How to add a feed: docs/DEVELOPING.md, "How to add a feed".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from fintech_dataops.schemas.vocabulary import FUTURE_SKEW

# DuckDB core types. Stored money is exact (DECIMAL, never DOUBLE); with a ``currency`` column in the
# record, an amount with more decimals than that currency allows is quarantined (``minor_units``).
VARCHAR, TIMESTAMP, DATE, DOUBLE, INTEGER, BOOLEAN = "VARCHAR", "TIMESTAMP", "DATE", "DOUBLE", "INTEGER", "BOOLEAN"
MONEY = MONEY_SQL_TYPE = "DECIMAL(18,3)"

# Lineage columns every core/quarantine row carries back to its raw line (not part of a contract).
LINEAGE_COLUMNS = {"partition_date": "DATE", "source_file": "VARCHAR", "line_number": "BIGINT"}

# PII classes: a column with one is never shown in clear in the product manager's views.
PiiClass = Literal["direct", "free_text"]  # direct: names, e-mails; free_text: typed by a person (redacted, still masked)

# How a feed's raw/core tables are loaded: ``daily`` = daily partitions (one landing day per partition);
# ``landed_days`` = unpartitioned, every landed day reloaded per run (API pulls with their own cursors).
Partitioning = Literal["daily", "landed_days"]


def not_in_future(series: pd.Series) -> pd.Series:
    """True where a naive-UTC timestamp is not ahead of the wall clock by more than the allowed skew."""
    limit = pd.Timestamp.now(tz="UTC").tz_localize(None) + FUTURE_SKEW
    return series <= limit


def year_not_in_future(series: pd.Series) -> pd.Series:
    return series <= pd.Timestamp.now(tz="UTC").year


def iso_country(series: pd.Series) -> pd.Series:
    """True where the value is an assigned ISO 3166-1 alpha-2 code (``ZZ`` is not)."""
    from fintech_dataops.schemas.transaction_contract import iso_country_codes

    return series.isin(iso_country_codes())


@dataclass(frozen=True)
class Rule:
    """A named check beyond ranges and allowed values: on one column (the column's values) or, as a
    feed ``row_rule``, on the whole frame (one bool per row). Its name is the quarantine ``failed_checks`` entry."""

    name: str
    test: Callable[[pd.Series | pd.DataFrame], pd.Series]


NOT_IN_FUTURE = Rule("not_in_future", not_in_future)
YEAR_NOT_IN_FUTURE = Rule("not_in_future", year_not_in_future)
ISO_COUNTRY = Rule("iso_country", iso_country)


@dataclass(frozen=True)
class Column:
    """One field of a feed: its core type, its rules and what it means."""

    name: str
    type: str
    description: str
    nullable: bool = False
    unique: bool = False
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    in_range: tuple[float, float] | None = None
    isin: tuple[str, ...] | None = None
    str_length: tuple[int | None, int | None] | None = None
    str_matches: str | None = None
    str_startswith: str | None = None
    rules: tuple[Rule, ...] = ()
    pii: PiiClass | None = None


@dataclass(frozen=True)
class Feed:
    """A landing-zone feed, declared once (see the module docstring for what is derived)."""

    name: str
    id_field: str
    time_field: str
    description: str
    columns: tuple[Column, ...]
    row_rules: tuple[Rule, ...] = ()
    partitioning: Partitioning = "daily"
    # The domain that lands it with its own landing asset (its raw/core pair sits in that domain's group);
    # None = a partner feed landed straight into the landing zone (raw in ``ingestion``, core in ``quality``).
    domain: str | None = None
    # quarantine_rate check thresholds of this feed; None = the tenant's / platform's (QuarantineThresholds).
    quarantine_warn_rate: float | None = None
    quarantine_error_rate: float | None = None

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"feed {self.name}: a column is declared twice: {names}")
        by_name = {c.name: c for c in self.columns}
        for key in (self.id_field, self.time_field):
            if key not in by_name:
                raise ValueError(f"feed {self.name}: {key!r} is not one of its columns")
            if by_name[key].nullable:
                raise ValueError(f"feed {self.name}: key/time column {key!r} cannot be nullable")
        if not by_name[self.id_field].unique:
            raise ValueError(f"feed {self.name}: id column {self.id_field!r} must be declared unique")

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def core_types(self) -> dict[str, str]:
        """DuckDB type of each field in ``core.<feed>`` (times are naive UTC TIMESTAMPs)."""
        return {c.name: c.type for c in self.columns}

    @property
    def descriptions(self) -> dict[str, str]:
        return {c.name: c.description for c in self.columns}

    @property
    def nullable_fields(self) -> frozenset[str]:
        """Fields that may be missing or null in a record; every other field is required."""
        return frozenset(c.name for c in self.columns if c.nullable)

    @property
    def pii_fields(self) -> tuple[str, ...]:
        """Columns a product manager must never see in clear text."""
        return tuple(c.name for c in self.columns if c.pii)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)
