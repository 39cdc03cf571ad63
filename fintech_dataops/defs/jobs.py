"""Platform-wide jobs and schedules (domain-specific ones live in their domain)."""

from __future__ import annotations

import dagster as dg

# The main job: every asset, for one day (or a range, in one run: single-run backfill policy).
# Its partitioning (daily) is inferred from the selected assets.
daily_pipeline = dg.define_asset_job(
    name="daily_pipeline",
    selection=dg.AssetSelection.all(),
    description="Land → raw → core → fraud / credit → marts for one day (or a day range).",
)

# At 01:00 UTC, process the day that just ended (late arrivals are caught by reruns/backfills).
daily_pipeline_schedule = dg.build_schedule_from_partitioned_job(
    daily_pipeline, hour_of_day=1, minute_of_hour=0, default_status=dg.DefaultScheduleStatus.RUNNING
)


def platform_defs() -> dg.Definitions:
    return dg.Definitions(jobs=[daily_pipeline], schedules=[daily_pipeline_schedule])
