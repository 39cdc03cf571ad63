"""Analytics: SQL-file marts, KPI assets (North Star and health) and the monitor report.

Upstream keys are the tables each asset reads (SQL files, ``KPI_SOURCES``, the report's sources):
other domains' tables through ``fintech_dataops.defs.catalog``, never by importing those domains.
"""


import dagster as dg

from fintech_dataops.defs.analytics.kpis import build_kpi_assets, kpi_history
from fintech_dataops.defs.analytics.marts import build_mart_assets
from fintech_dataops.defs.analytics.monitor import build_monitor_asset


defs = dg.Definitions(assets=[*build_mart_assets(), *build_kpi_assets(), kpi_history, build_monitor_asset()])
