"""Analytics: SQL-file marts, KPI assets (North Star and health) and the monitor report.

Upstream keys are inferred from the tables each asset reads and limited to the keys
the other domains define (a table not produced by an asset yet is checked at run
time instead, with a clear "does not exist yet" message).
"""


import dagster as dg

from fintech_dataops.defs.analytics.kpis import build_kpi_assets, kpi_history
from fintech_dataops.defs.analytics.marts import build_mart_assets
from fintech_dataops.defs.analytics.monitor import build_monitor_asset


def platform_asset_keys() -> set[dg.AssetKey]:
    """Asset keys defined by the other domain packages under ``fintech_dataops.defs``."""
    from fintech_dataops.defs import domain_asset_keys

    return domain_asset_keys(exclude=(__name__,))


_known = platform_asset_keys()
defs = dg.Definitions(
    assets=[*build_mart_assets(known_keys=_known), *build_kpi_assets(_known), kpi_history, build_monitor_asset(_known)]
)
