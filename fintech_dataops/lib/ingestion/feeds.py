"""The landing-zone feeds the simulator writes and the raw/core layers load.

Each feed is declared once, in ``fintech_dataops.schemas`` (``schemas/feeds.py``: columns, types,
rules, descriptions, PII class); this module is the ``lib`` side's name for them.
"""

from __future__ import annotations

from fintech_dataops.schemas.declaration import LINEAGE_COLUMNS, MONEY_SQL_TYPE, Column, Feed
from fintech_dataops.schemas.feeds import FEED_NAMES, FEEDS

__all__ = ["FEEDS", "FEED_NAMES", "LINEAGE_COLUMNS", "MONEY_SQL_TYPE", "Column", "Feed"]
