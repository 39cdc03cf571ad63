"""Daily partitions in UTC, from the first day the platform has data for.

The first partition is fixed when the code location loads (Dagster needs a static partitions
definition): ``$FINTECH_PARTITIONS_START`` (YYYY-MM-DD) when set, else the first day landed under the
data dir's landing zone (after ``make run``: the first simulated day), else ``DEFAULT_PARTITIONS_START``
(the first day the record validator accepts).
So the UI shows the days that exist, not hundreds of "missing" ones before the data begins.
"""

import os
from datetime import date

import dagster as dg

from fintech_dataops.lib.ingestion.landing import LandingPathError, landed_days, resolve_data_dir
from fintech_dataops.lib.tenancy.paths import tenant_pool
from fintech_dataops.schemas.vocabulary import FIRST_EVENT_DAY

PARTITIONS_START_ENV = "FINTECH_PARTITIONS_START"
# The record validator refuses events before FIRST_EVENT_DAY: no partition starts earlier.
DEFAULT_PARTITIONS_START = FIRST_EVENT_DAY.isoformat()


def partitions_start() -> str:
    """The first daily partition (see the module docstring); read when the code location loads."""
    configured = os.environ.get(PARTITIONS_START_ENV, "").strip()
    if configured:
        first = date.fromisoformat(configured)
        if first < FIRST_EVENT_DAY:
            raise ValueError(f"{PARTITIONS_START_ENV}={configured} is before {FIRST_EVENT_DAY}, the first day "
                             "the record validator accepts")
        return first.isoformat()
    landing_dir = resolve_data_dir() / "landing"
    days: list[date] = []
    for folder in sorted(landing_dir.iterdir()) if landing_dir.is_dir() else []:
        try:
            days += landed_days(landing_dir, folder.name) if folder.is_dir() else []
        except LandingPathError:  # not a feed folder (reported by quality/unroutable_files)
            continue
    past = [day for day in days if FIRST_EVENT_DAY <= day <= date.today()]
    return min(past).isoformat() if past else DEFAULT_PARTITIONS_START


PARTITIONS_START = partitions_start()
# end_offset=1 includes today, which the near-real-time path fills with micro-batches while the day is still open.
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1, timezone="UTC")



def per_partition_metadata(metadata: dict, days: list[str], measured_over_days: tuple[str, ...]) -> dict:
    """Metadata for a run over ``days`` (one partition, or a range in one run).

    Dagster attaches a run's metadata to every partition it materialized, so over a range a total
    would show (and be plotted) as each day's value. Those keys become ``<name>_over_range``; the
    per-day values are in the table the asset writes. One day: unchanged.
    """
    if len(days) <= 1:
        return metadata
    renamed = {
        (f"{key.removeprefix('dagster/')}_over_range" if key in measured_over_days else key): value
        for key, value in metadata.items()
    }
    return {**renamed, "range": f"{min(days)} … {max(days)} ({len(days)} days)"}


def record_each_day(context: dg.AssetExecutionContext, metadata_by_day: dict[str, dict],
                    asset_key: dg.AssetKey | None = None) -> None:
    """Put each day's own metadata on that day's materialization.

    A run over several days (a single-run backfill) records one materialization per day, and the
    ``MaterializeResult`` metadata goes on every one of them; metadata added for a ``partition_key``
    goes on that day's only and wins over the run's for the same name. So over a range each day
    plots its own row count, not the range's. Every day of the run must have its entry.
    """
    for day in context.partition_keys:
        context.add_asset_metadata(metadata_by_day[day], asset_key=asset_key, partition_key=day)


# Writers share one pool: DuckDB allows one writing process per file at a time. Each tenant has its
# own warehouse file, so a tenant's code location (which selects its tenant before these modules are
# imported, see fintech_dataops/tenant_definitions.py) has its own pool: one bank's backfill never
# holds the slot another bank's writers wait for.
WAREHOUSE_WRITE_POOL = tenant_pool("warehouse_write")
