"""Platform-wide jobs, schedules and the automation sensor (one trigger per asset: see automation.py)."""

from __future__ import annotations

import dagster as dg

from fintech_dataops.defs.automation import automation_sensor

DAILY_JOB_DESCRIPTION = (
    "Land → raw → core → fraud for one day (or a day range, in one run). credit.*, marts.*, kpis.* and the "
    "monitor recompute after it, on automation_sensor; micro-batches run on realtime_batch_sensor."
)


def triggered_elsewhere(domains: dg.Definitions) -> dg.AssetSelection:
    """Assets another trigger owns: those with an automation condition, and those a sensor's job runs."""
    automated = [
        spec.key
        for asset in domains.assets or []
        if isinstance(asset, dg.AssetsDefinition)
        for spec in asset.specs
        if spec.automation_condition is not None
    ]
    sensor_jobs = {sensor.job_name for sensor in domains.sensors or [] if sensor.has_jobs}
    selection = dg.AssetSelection.assets(*automated)
    for job in domains.jobs or []:
        # Asset jobs (define_asset_job) carry their selection; op jobs run no assets.
        if job.name in sensor_jobs and isinstance(getattr(job, "selection", None), dg.AssetSelection):
            selection = selection | job.selection
    return selection


def platform_defs(domains: dg.Definitions) -> dg.Definitions:
    # The scheduled job: its partitioning (daily) is inferred from the selected assets.
    daily_pipeline = dg.define_asset_job(
        name="daily_pipeline",
        selection=dg.AssetSelection.all() - triggered_elsewhere(domains),
        description=DAILY_JOB_DESCRIPTION,
    )
    # At 01:00 UTC, process the day that just ended (late arrivals are caught by reruns/backfills).
    daily_pipeline_schedule = dg.build_schedule_from_partitioned_job(
        daily_pipeline, hour_of_day=1, minute_of_hour=0, default_status=dg.DefaultScheduleStatus.RUNNING
    )
    all_assets = dg.define_asset_job(
        name="all_assets",
        selection=dg.AssetSelection.all(),
        description="Every asset for a day range in one run: `fintech-dataops run` / `demo` and manual catch-up "
        "(nothing schedules it).",
    )
    return dg.Definitions(
        jobs=[daily_pipeline, all_assets], schedules=[daily_pipeline_schedule], sensors=[automation_sensor]
    )
