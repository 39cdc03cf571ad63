"""raw → core for the open-banking feeds: every landed day (``lib.ingestion.landed_days``, shared by every
feed declared ``partitioning="landed_days"``)."""

from fintech_dataops.lib.ingestion.landed_days import landed_days, load_core_feed, load_raw_feed

__all__ = ["landed_days", "load_core_feed", "load_raw_feed"]
