"""Fraud domain: features, model, scored transactions, alerts and evaluation (tables ``fraud.*``)."""

import dagster as dg

from fintech_dataops.defs.fraud.assets import fraud_assets

defs = dg.Definitions(assets=fraud_assets)
