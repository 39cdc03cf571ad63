import dagster as dg

from fintech_dataops.defs.credit.assets import credit_assets, credit_checks, credit_refit_job, credit_scoring_job

defs = dg.Definitions(assets=credit_assets, asset_checks=credit_checks, jobs=[credit_scoring_job, credit_refit_job])
