"""pandera contracts, one per feed / core table (no dagster here).

Names are resolved lazily so that importing ``fintech_dataops.schemas.columns`` (plain data, used by
Dagster definitions at load time) does not pay for importing pandera.
"""

from importlib import import_module

_REGISTRY_NAMES = (
    "PANDAS_DTYPES", "UnknownFeedError", "column_descriptions", "feed_for", "model_for",
    "nullable_fields", "register_feed", "registered_feeds", "schema_for", "typed_frame",
)
__all__ = list(_REGISTRY_NAMES)


def __getattr__(name: str):
    if name in _REGISTRY_NAMES:
        return getattr(import_module("fintech_dataops.schemas.registry"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
