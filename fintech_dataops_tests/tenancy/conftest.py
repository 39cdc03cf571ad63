from __future__ import annotations

from pathlib import Path

import pytest

from fintech_dataops.lib.tenancy.registry import TenantRegistry


@pytest.fixture()
def two_banks(data_dir: Path) -> tuple[TenantRegistry, dict[str, str]]:
    """Two registered tenants under one platform data dir: name → API key."""
    registry = TenantRegistry(data_dir)
    keys = {}
    for name, colour in (("acme", "#0a7d3b"), ("globex", "#8b1a1a")):
        _, keys[name] = registry.create(name, display_name=f"{name.title()} Bank", color=colour, actor="test")
    return registry, keys
