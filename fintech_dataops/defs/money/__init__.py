"""Money: FX reference rates (landing → raw → core.fx_rates) and the reporting-currency resource."""

import dagster as dg

from fintech_dataops.defs.money.assets import fx_assets, fx_rate_available

defs = dg.Definitions(assets=fx_assets, asset_checks=[fx_rate_available])  # the `money` resource is a platform default (defs/resources.py)
