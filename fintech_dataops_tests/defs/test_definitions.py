"""The code location loads, uses no superseded Dagster APIs, and wires what the platform promises."""

import importlib
import os
import subprocess
import sys
import warnings
from pathlib import Path

import dagster as dg
import pytest

from fintech_dataops.lib.ingestion.feeds import FEEDS

ROOT = Path(__file__).resolve().parents[2]


def _wiring_modules() -> list[str]:
    return [m for m in sys.modules if m.startswith("fintech_dataops.defs") or m == "fintech_dataops.definitions"]


def fresh_defs() -> dg.Definitions:
    """Import the definitions from scratch so definition-time warnings are raised again.

    The original modules are put back afterwards, so other tests keep one identity per class.
    """
    saved = {name: sys.modules.pop(name) for name in _wiring_modules()}
    try:
        return importlib.import_module("fintech_dataops.definitions").defs
    finally:
        for name in _wiring_modules():
            del sys.modules[name]
        sys.modules.update(saved)


def test_definitions_load_without_deprecated_or_superseded_apis():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        warnings.simplefilter("error", dg.SupersessionWarning)
        defs = fresh_defs()
        repo = defs.get_repository_def()
        repo.load_all_definitions()
    assert defs.resolve_job_def("daily_pipeline") is not None


def test_every_feed_has_a_daily_partitioned_raw_asset():
    defs = fresh_defs()
    graph = defs.resolve_asset_graph()
    for feed in FEEDS:
        node = graph.get(dg.AssetKey(["raw", feed]))
        assert isinstance(node.partitions_def, dg.DailyPartitionsDefinition)
        assert node.group_name == "raw" and node.tags["domain"] == "ingestion"


def test_daily_schedule_targets_the_main_job():
    defs = fresh_defs()
    schedule = defs.resolve_schedule_def("daily_pipeline_schedule")
    assert schedule.job_name == "daily_pipeline"
    assert schedule.cron_schedule == "0 1 * * *"


def test_asset_keys_are_layer_entity_groups_are_layers_and_domains_are_tags():
    defs = fresh_defs()
    graph = defs.resolve_asset_graph()
    domains = {"ingestion", "quality", "fraud", "credit", "open_banking", "analytics", "realtime", "money", "monitor",
               "ledger", "advisor"}
    for key in graph.get_all_asset_keys():
        assert len(key.path) == 2, f"{key} should be [layer, entity] = table layer.entity"
        if graph.get(key).is_materializable:
            assert graph.get(key).group_name == key.path[0], f"{key} is in group {graph.get(key).group_name}"
            assert graph.get(key).tags.get("domain") in domains, f"{key} has domain {graph.get(key).tags}"


@pytest.mark.slow
def test_dagster_cli_validates_the_code_location(data_dir):
    # data_dir points FINTECH_DATA_DIR and DAGSTER_HOME at a fresh temp folder for the subprocess.
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_loading_the_code_location_prints_no_backfill_policy_beta_warnings():
    """`make run`, the CLI and `dagster dev` load this module; ~25 identical BetaWarnings buried their output."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    result = subprocess.run([sys.executable, "-c", "import fintech_dataops.definitions"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "backfill_policy" not in result.stderr


@pytest.mark.slow
def test_dg_check_defs_loads_the_project():
    """`[tool.dg]` in pyproject.toml: `dg check defs` / `dg list defs` work on this project."""
    dg_cli = Path(sys.executable).parent / "dg"
    if not dg_cli.exists():
        pytest.skip("dagster-dg-cli is not installed (pip install -e '.[test]')")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    env["VIRTUAL_ENV"] = str(Path(sys.executable).parent.parent)
    result = subprocess.run([str(dg_cli), "check", "defs", "--use-active-venv"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "All definitions loaded successfully" in result.stdout + result.stderr
