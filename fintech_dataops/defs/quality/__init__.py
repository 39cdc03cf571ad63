"""Quality gates: core tables with quarantine, blocking checks, DQ scores, alerts.

One core asset per feed (``core/<feed>``, see ``assets.py``) with its checks (``checks.py``),
``quality/dq_scores`` (``dq_scores.py``), checks on the fraud, credit, mart and KPI tables
(``table_checks.py``) and the alert sensors (``sensors.py``). Freshness policies
(``freshness.py``) are applied to the merged definitions by ``fintech_dataops.defs.build_defs``.
"""

import dagster as dg

from fintech_dataops.defs.quality.assets import build_core_assets, build_quarantine_specs
from fintech_dataops.defs.quality.checks import build_referential_checks
from fintech_dataops.defs.quality.dq_scores import build_dq_scores_asset
from fintech_dataops.defs.quality.table_checks import build_all_table_checks
from fintech_dataops.defs.ingestion.assets import partner_feeds
from fintech_dataops.defs.quality.sensors import asset_check_failure_alerts, run_failure_alerts
from fintech_dataops.defs.quality.unroutable import unroutable_files

defs = dg.Definitions(
    assets=[*build_core_assets(), *build_quarantine_specs(), build_dq_scores_asset(), unroutable_files],
    asset_checks=[
        *(check for feed in partner_feeds() for check in build_referential_checks(feed)),
        *build_all_table_checks(),
    ],
    sensors=[asset_check_failure_alerts, run_failure_alerts],
)
