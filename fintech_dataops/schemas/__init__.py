"""The feed contracts: each feed declared once (``declaration.py``), its pandera contract derived
(``registry.py``). No dagster here, and nothing from ``fintech_dataops.lib`` (``lib`` imports ``schemas``).

Names are resolved lazily so that importing a declaration (plain data, read by Dagster definitions
at load time) does not pay for importing pandera.
"""

from importlib import import_module

_REGISTRY_NAMES = (
    "PANDAS_DTYPES", "UnknownFeedError", "column_descriptions", "contract", "declared_pii_fields", "feed_for",
    "nullable_fields", "register_feed", "registered_feeds", "schema_for", "typed_frame",
)
__all__ = list(_REGISTRY_NAMES)


def __getattr__(name: str):
    if name in _REGISTRY_NAMES:
        return getattr(import_module("fintech_dataops.schemas.registry"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
