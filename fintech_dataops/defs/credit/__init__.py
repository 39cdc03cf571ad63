import dagster as dg

from fintech_dataops.defs.credit.assets import credit_assets, credit_scoring_job, credit_scoring_schedule

defs = dg.Definitions(assets=credit_assets, jobs=[credit_scoring_job], schedules=[credit_scoring_schedule])
