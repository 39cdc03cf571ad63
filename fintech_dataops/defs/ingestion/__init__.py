import dagster as dg

from fintech_dataops.defs.ingestion.assets import raw_assets

defs = dg.Definitions(assets=raw_assets)
