"""Freshness policies, applied once to the merged definitions by asset-key layer.

Applied at the Definitions level (``build_defs``), so assets other domains add later under a
daily layer (``raw/``, ``core/``, ``quality/``, ``fraud/``, ``credit/``, ``open_banking/``, ``marts/``,
``kpis/``, ``reports/``) get a policy without repeating it. An asset that declares its own policy
keeps it. The near-real-time ``realtime/`` assets run per micro-batch, when the service lands one.
"""

import warnings
from datetime import timedelta

import dagster as dg

# The daily pipeline runs at 01:00 UTC: a day-old table is normal, a table older than a
# day plus two hours means the schedule (or a feed) has stopped.
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=25))
# marts/, kpis/ and reports/ recompute (automation_sensor) right after the daily run writes their inputs.
DAILY_LAYERS = ("landing", "raw", "core", "quality", "fraud", "credit", "open_banking", "marts", "kpis", "reports")
FRESHNESS_BY_LAYER: dict[str, dg.FreshnessPolicy] = {layer: DAILY_FRESHNESS for layer in DAILY_LAYERS}


def freshness_policy_for(key: dg.AssetKey) -> dg.FreshnessPolicy | None:
    return FRESHNESS_BY_LAYER.get(key.path[0]) if key.path else None


def _apply(spec: dg.AssetSpec) -> dg.AssetSpec:
    policy = freshness_policy_for(spec.key)
    return dg.apply_freshness_policy(spec, policy, overwrite_existing=False) if policy else spec


def with_platform_freshness(defs: dg.Definitions) -> dg.Definitions:
    """``defs`` with the layer freshness policies on every matching asset."""
    with warnings.catch_warnings():
        # Definitions.map_asset_specs is the documented way to apply a policy to many assets; it is
        # flagged "preview" in 1.13, which is not a reason to spam every process that loads the code.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(func=_apply)
