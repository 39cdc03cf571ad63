"""Every declared feed, and what is derived from a declaration: its pandera contract, its nullable
fields, its column docs, the dtypes of its typed frame.

A feed is declared once (``schemas.declaration.Feed``) in a module of this package; every module-level
``Feed`` of ``fintech_dataops.schemas.*`` is registered here, so a new feed is one file
(docs/DEVELOPING.md, "How to add a feed"). :func:`register_feed` adds a feed declared elsewhere
(tests, a tenant's own feed). pandera is imported only when a contract is first needed.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from functools import lru_cache
from typing import TYPE_CHECKING

from fintech_dataops.schemas.declaration import Column, Feed

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

# DuckDB core type → the pandas dtype of that column in a validated frame.
PANDAS_DTYPES: dict[str, str] = {
    "VARCHAR": "str",
    "DOUBLE": "float64",
    "INTEGER": "Int32",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "datetime64[us]",
    "DATE": "datetime64[us]",
}

_lock = threading.Lock()
_feeds: dict[str, Feed] = {}
_discovered = False
_pii: tuple[int, frozenset[str]] = (-1, frozenset())
_version = 0  # bumped by every registration: derived caches follow


class UnknownFeedError(KeyError):
    """A feed nobody declared."""


def _discover() -> dict[str, Feed]:
    """Every module-level ``Feed`` declared in a module of ``fintech_dataops.schemas``, in declaration order."""
    global _discovered
    if _discovered:
        return _feeds
    with _lock:
        if not _discovered:
            import fintech_dataops.schemas as package

            found: dict[str, Feed] = {}
            for module_name in ("feeds", *sorted(m.name for m in pkgutil.iter_modules(package.__path__))):
                module = importlib.import_module(f"{package.__name__}.{module_name}")
                for value in vars(module).values():
                    if isinstance(value, Feed):
                        other = found.setdefault(value.name, value)
                        if other is not value:
                            raise ValueError(f"feed {value.name!r} is declared twice")
            _feeds.update({name: feed for name, feed in found.items() if name not in _feeds})
            _discovered = True
    return _feeds


def register_feed(feed: Feed, *, replace: bool = False) -> None:
    """Register a feed declared outside ``fintech_dataops.schemas`` (its contract is derived from it)."""
    feeds = _discover()
    if not replace and feed.name in feeds and feeds[feed.name] is not feed:
        raise ValueError(f"feed {feed.name!r} is already declared")
    global _version
    with _lock:
        feeds[feed.name] = feed
        _version += 1


def feed_for(name: str) -> Feed:
    try:
        return _discover()[name]
    except KeyError:
        raise UnknownFeedError(f"no declared feed {name!r}") from None


def registered_feeds() -> tuple[str, ...]:
    return tuple(_discover())


def declared_pii_fields() -> frozenset[str]:
    """Every column of every declared feed that carries a PII class (lower case)."""
    global _pii
    version, fields = _pii
    if version != _version:
        fields = frozenset(c.name.lower() for feed in list(_discover().values()) for c in feed.columns if c.pii)
        _pii = (_version, fields)
    return fields


def schema_for(name: str) -> pa.DataFrameSchema:
    """The pandera schema (all checks, id uniqueness included) of a feed's core table."""
    return contract(feed_for(name))


@lru_cache(maxsize=None)
def contract(feed: Feed) -> pa.DataFrameSchema:
    """The pandera contract derived from a declaration: dtype, nullability, range / allowed values, rules."""
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        columns={c.name: _column(c) for c in feed.columns},
        checks=[pa.Check(rule.test, name=rule.name) for rule in feed.row_rules],
        strict=False,  # lineage columns ride along
        coerce=False,  # the frame is already typed by DuckDB; a wrong dtype is a contract failure
        name="".join(part.title() for part in feed.name.split("_")) + "Schema",
    )


def _column(column: Column) -> pa.Column:
    import pandas as pd
    import pandera.pandas as pa

    base = column.type.split("(")[0].upper()
    dtype = {"VARCHAR": str, "DOUBLE": float, "DECIMAL": float, "INTEGER": pd.Int32Dtype(),
             "BOOLEAN": pd.BooleanDtype(), "TIMESTAMP": pa.DateTime, "DATE": pa.DateTime}[base]
    # The same order pandera.Field builds its checks in, so check names (quarantine reasons) stay stable.
    checks = []
    if column.gt is not None:
        checks.append(pa.Check.greater_than(column.gt))
    if column.ge is not None:
        checks.append(pa.Check.greater_than_or_equal_to(column.ge))
    if column.le is not None:
        checks.append(pa.Check.less_than_or_equal_to(column.le))
    if column.in_range is not None:
        checks.append(pa.Check.in_range(*column.in_range))
    if column.isin is not None:
        checks.append(pa.Check.isin(column.isin))
    if column.str_length is not None:
        checks.append(pa.Check.str_length(*column.str_length))
    if column.str_matches is not None:
        checks.append(pa.Check.str_matches(column.str_matches))
    if column.str_startswith is not None:
        checks.append(pa.Check.str_startswith(column.str_startswith))
    checks += [pa.Check(rule.test, name=rule.name) for rule in column.rules]
    return pa.Column(dtype, checks=checks, nullable=column.nullable, unique=column.unique,
                     description=column.description, name=column.name)


def nullable_fields(name: str) -> frozenset[str]:
    """Fields that may be missing or null in a record; every other field is required."""
    return feed_for(name).nullable_fields


def column_descriptions(name: str) -> dict[str, str]:
    """Field → human description, in feed order (the Dagster column schema of the core table)."""
    return feed_for(name).descriptions


def typed_frame(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Give each feed column the dtype its contract expects (DuckDB picks some by content, e.g. all-null)."""
    feed = feed_for(name)
    for field, core_type in feed.core_types.items():
        if field in frame.columns:
            # Stored money is DECIMAL; the contract judges its range on float64 (never stored).
            dtype = "float64" if core_type.upper().startswith("DECIMAL") else PANDAS_DTYPES[core_type]
            if str(frame[field].dtype) != dtype:
                frame[field] = frame[field].astype(dtype)
    return frame
