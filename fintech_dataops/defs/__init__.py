"""Dagster wiring. Each domain is a subpackage exposing ``defs: dg.Definitions``.

``build_defs`` merges every domain, adds the platform-wide jobs, schedules and
resources, and lets tests and the CLI swap resources (``resource_overrides``).
Adding a domain is adding a folder: nothing here needs to change. Domains never import each other:
the tables one reads from another are keys in ``catalog.py``, so each domain package imports on its own.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping

import warnings

import dagster as dg

from fintech_dataops.defs.jobs import platform_defs
from fintech_dataops.defs.resources import default_resources

# Single-run backfill policies are Dagster's documented way to backfill a day range in one run; they
# are labelled beta, and every daily asset would print that label (about 25 warnings before any output
# of `make run`, the CLI, `dagster dev` and each run worker). Only this one warning is silenced.
warnings.filterwarnings("ignore", message=r"Parameter .backfill_policy. of function", category=dg.BetaWarning)


def domain_modules() -> list[str]:
    package = importlib.import_module(__name__)
    return sorted(
        f"{__name__}.{info.name}" for info in pkgutil.iter_modules(package.__path__) if info.ispkg
    )


def build_defs(resource_overrides: Mapping[str, object] | None = None) -> dg.Definitions:
    domains = dg.Definitions.merge(*(importlib.import_module(name).defs for name in domain_modules()))
    resources = {**default_resources(), **(resource_overrides or {})}
    merged = dg.Definitions.merge(domains, platform_defs(domains), dg.Definitions(resources=resources))
    # Freshness policies by layer (raw/, core/, fraud/, ...), so every domain's assets get them.
    from fintech_dataops.defs.quality.freshness import with_platform_freshness

    return with_platform_freshness(grouped_by_layer(merged))


def _layer_group(spec: dg.AssetSpec) -> dg.AssetSpec:
    domain = spec.group_name or "default"
    return spec.replace_attributes(group_name=spec.key.path[0]).merge_attributes(tags={"domain": domain})


def grouped_by_layer(defs: dg.Definitions) -> dg.Definitions:
    """The UI groups assets by the layer in their key (landing, raw, core, quality, fraud, credit, marts,
    kpis, ...), so `raw/stripe_charges` and `core/stripe_charges` sit in different groups; the domain
    that owns an asset (the ``group_name`` its package declares) becomes its ``domain`` tag."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)  # map_asset_specs is "preview" in 1.13
        return defs.map_asset_specs(func=_layer_group)
