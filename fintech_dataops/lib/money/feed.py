"""The ``fx_rates`` landing feed (declared once in ``fintech_dataops/schemas/money.py``)."""

from __future__ import annotations

from fintech_dataops.schemas.money import FX_RATES_FEED, RATE_SQL_TYPE

__all__ = ["FX_RATES_FEED", "RATE_SQL_TYPE"]
