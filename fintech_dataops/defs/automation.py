"""How assets are launched: one trigger per asset.

- **Daily-partitioned work** (raw, core, fraud features/scores/alerts, the fraud model, open-banking
  syncs): `daily_pipeline_schedule` runs `daily_pipeline` at 01:00 UTC for the day that just ended.
- **Tables computed over the whole history** (credit.*, marts.*, kpis.*, reports): `ON_INPUT_CHANGE`,
  evaluated by `automation_sensor`, which runs by default: they recompute once their inputs have
  changed and none of them is still being written.
- **Micro-batches of the decision service**: `realtime_batch_sensor`, one run per batch.

`all_assets` (every asset for a day range, one run) is for the CLI (`fintech-dataops run` / `demo`)
and manual catch-up; no schedule or sensor targets it.
"""

import dagster as dg

# Like AutomationCondition.eager(), without its "no dependency missing" guard: a table computed over
# the whole history depends on every partition of a daily asset, and some day (today's, still open,
# at least) is always missing, so eager() would never fire. These assets read what exists.
ON_INPUT_CHANGE = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("on_input_change")

automation_sensor = dg.AutomationConditionSensorDefinition(
    name="automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Recomputes credit.*, marts.*, kpis.* and the monitor report when their inputs change "
    "(assets with an automation condition; see fintech_dataops/defs/automation.py).",
)
