from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests use partition keys from 2025 on, whatever a developer's ./data holds (its first landed day would
# otherwise start the partitions, see fintech_dataops/defs/partitions.py). Subprocesses inherit it.
os.environ["FINTECH_PARTITIONS_START"] = "2025-01-01"
# A developer's selected tenant must not redirect the suite: tests select tenants explicitly.
os.environ.pop("FINTECH_TENANT", None)


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data dir for one test; FINTECH_DATA_DIR and DAGSTER_HOME point into it."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("FINTECH_DATA_DIR", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    (root / "dagster_home").mkdir()
    return root


@pytest.fixture()
def landing_dir(data_dir: Path) -> Path:
    path = data_dir / "landing"
    path.mkdir()
    return path


@pytest.fixture()
def resources(data_dir: Path) -> dict:
    from fintech_dataops.defs.alert_sink import AlertSink
    from fintech_dataops.defs.money_resource import MoneyResource
    from fintech_dataops.defs.resources import DataDirResource, WarehouseResource

    return {
        "data_dir": DataDirResource(data_dir=str(data_dir)),
        "warehouse": WarehouseResource(data_dir=str(data_dir)),
        "money": MoneyResource(),
        "alert_sink": AlertSink(data_dir=str(data_dir), slack_webhook_env=""),
    }


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test``), files with end-to-end (``slow``) tests are handed out first.

    ``--dist loadfile`` gives each worker whole files in collection order; a long file collected last
    would run alone at the end while the other worker idles. The order within a file is kept, and no
    test may depend on the order anyway. Without xdist (a developer's targeted run) nothing moves.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: files and their tests keep their order
