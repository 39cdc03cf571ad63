"""Dagster wiring. Each domain is a subpackage exposing ``defs: dg.Definitions``.

``build_defs`` merges every domain, adds the platform-wide jobs, schedules and
resources, and lets tests and the CLI swap resources (``resource_overrides``).
Adding a domain is adding a folder: nothing here needs to change.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping

import dagster as dg

from fintech_dataops.defs.jobs import platform_defs
from fintech_dataops.defs.resources import default_resources


def domain_modules() -> list[str]:
    package = importlib.import_module(__name__)
    return sorted(
        f"{__name__}.{info.name}" for info in pkgutil.iter_modules(package.__path__) if info.ispkg
    )


def build_defs(resource_overrides: Mapping[str, object] | None = None) -> dg.Definitions:
    domain_defs = [importlib.import_module(name).defs for name in domain_modules()]
    resources = {**default_resources(), **(resource_overrides or {})}
    merged = dg.Definitions.merge(*domain_defs, platform_defs(), dg.Definitions(resources=resources))
    # Freshness policies by layer (raw/, core/, fraud/, credit/), so every domain's assets get them.
    from fintech_dataops.defs.quality.freshness import with_platform_freshness

    return with_platform_freshness(merged)
