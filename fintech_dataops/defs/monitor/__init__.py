"""Fraud monitor: the analysts' case actions landed as the fraud_dispositions feed, fraud.dispositions, its KPI."""

import dagster as dg

from fintech_dataops.defs.monitor.assets import monitor_assets

defs = dg.Definitions(assets=monitor_assets)
