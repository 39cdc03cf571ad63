"""Which contract validates which feed, and the typed-frame conventions around it.

The ten landing-zone feeds of ``lib.ingestion.feeds.FEEDS`` are registered here. Another
domain adds a feed with :func:`register_feed` (its ``Feed`` plus its
``DataFrameModel``); ``lib.quality.core_gate`` and the core-asset factory then treat it
exactly like the built-in ones.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from fintech_dataops.lib.ingestion.feeds import FEEDS, Feed
from fintech_dataops.schemas.feeds import FEED_SCHEMAS

# DuckDB core type → the pandas dtype of that column in a validated frame.
PANDAS_DTYPES: dict[str, str] = {
    "VARCHAR": "str",
    "DOUBLE": "float64",
    "INTEGER": "Int32",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "datetime64[us]",
    "DATE": "datetime64[us]",
}

_feeds: dict[str, Feed] = dict(FEEDS)
_models: dict[str, type[pa.DataFrameModel]] = dict(FEED_SCHEMAS)


class UnknownFeedError(KeyError):
    """A feed with no registered contract."""


def register_feed(feed: Feed, model: type[pa.DataFrameModel], *, replace: bool = False) -> None:
    """Register ``model`` as the contract of ``feed`` (its columns must be exactly ``feed.fields``)."""
    columns = set(model.to_schema().columns)
    if columns != set(feed.fields):
        raise ValueError(
            f"contract {model.__name__} columns {sorted(columns)} differ from feed {feed.name} fields {sorted(feed.fields)}"
        )
    if not replace and feed.name in _models and _models[feed.name] is not model:
        raise ValueError(f"feed {feed.name!r} already has a contract ({_models[feed.name].__name__})")
    _feeds[feed.name] = feed
    _models[feed.name] = model


def feed_for(name: str) -> Feed:
    try:
        return _feeds[name]
    except KeyError:
        raise UnknownFeedError(f"no registered feed {name!r}") from None


def model_for(name: str) -> type[pa.DataFrameModel]:
    try:
        return _models[name]
    except KeyError:
        raise UnknownFeedError(f"no contract registered for feed {name!r}") from None


def schema_for(name: str) -> pa.DataFrameSchema:
    """The pandera schema (all checks, id uniqueness included) of a feed's core table."""
    return model_for(name).to_schema()


def registered_feeds() -> tuple[str, ...]:
    return tuple(_models)


def nullable_fields(name: str) -> frozenset[str]:
    """Fields that may be missing or null in a record; every other field is required."""
    return frozenset(col for col, spec in schema_for(name).columns.items() if spec.nullable)


def column_descriptions(name: str) -> dict[str, str]:
    """Field → human description, in feed order (the Dagster column schema of the core table)."""
    columns = schema_for(name).columns
    return {field: (columns[field].description or "") for field in feed_for(name).fields}


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
