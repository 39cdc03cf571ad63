import dagster as dg

from fintech_dataops.defs.credit.assets import credit_assets, credit_scoring_job

defs = dg.Definitions(assets=credit_assets, jobs=[credit_scoring_job])
