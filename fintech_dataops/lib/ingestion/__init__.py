"""Ingestion: feed declarations, the landing zone, landing audit, the lossless raw layer, ingest limits and the core sources other domains read."""
