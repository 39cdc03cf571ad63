"""Fraud domain: features, model, scored transactions, alerts and evaluation (tables ``fraud.*``)."""

import dagster as dg

from fintech_dataops.defs.fraud.assets import fraud_assets, fraud_checks

defs = dg.Definitions(assets=fraud_assets, asset_checks=fraud_checks)
