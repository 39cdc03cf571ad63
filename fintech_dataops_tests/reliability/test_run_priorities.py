"""What keeps writers from colliding and the near-real-time path ahead of backfills (static wiring)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from fintech_dataops.definitions import defs

    return defs


def _priority(job) -> int:
    return int({**job.tags, **(job.run_tags or {})}.get("dagster/priority", "0"))


def test_every_warehouse_writer_shares_the_write_pool(defs):
    """An asset declaring ``dagster/table_name`` writes that DuckDB table (readers such as
    fraud/model, which only train from the warehouse, declare none and need no slot)."""
    graph = defs.resolve_asset_graph()
    writers, offenders = [], []
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_external or "duckdb" not in node.kinds or "dagster/table_name" not in node.metadata:
            continue
        writers.append(key)
        if node.assets_def.node_def.pool != WAREHOUSE_WRITE_POOL:
            offenders.append(key.to_user_string())
    assert dg.AssetKey(["raw", "transactions"]) in writers
    assert offenders == [], f"assets writing the DuckDB warehouse without pool={WAREHOUSE_WRITE_POOL!r}: {offenders}"


def test_near_real_time_job_outranks_batch_and_backfill_runs(defs):
    try:
        realtime = defs.resolve_job_def("realtime_fraud_job")
    except Exception:  # noqa: BLE001 - the real-time domain is optional
        pytest.skip("no near-real-time job in this checkout")
    daily = defs.resolve_job_def("daily_pipeline")
    # Asset backfills launched from the UI/CLI carry no priority tag: 0.
    assert _priority(realtime) > max(_priority(daily), 0)


@pytest.mark.parametrize("path", ["fintech_dataops/instance/dagster.yaml", "deploy/dagster.yaml"])
def test_instances_enforce_the_pool_per_step_and_cap_backfills(path):
    config = yaml.safe_load((ROOT / path).read_text())["concurrency"]
    # granularity "op": slots are claimed by each step in every executor, execute_in_process included.
    assert config["pools"]["granularity"] == "op"
    assert config["pools"]["default_limit"] == 1
    limits = {item["key"]: item["limit"] for item in config["runs"]["tag_concurrency_limits"]}
    assert limits["dagster/backfill"] < config["runs"]["max_concurrent_runs"]


def test_pool_claims_are_ordered_by_run_priority(tmp_path):
    """Under contention the free slot goes to the higher `dagster/priority` (here: 10 over -1)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "fintech_dataops/instance/dagster.yaml").read_text())
    with dg.DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(WAREHOUSE_WRITE_POOL, 1)
        assert storage.claim_concurrency_slot(WAREHOUSE_WRITE_POOL, "holder", "step", 0).is_claimed
        assert not storage.claim_concurrency_slot(WAREHOUSE_WRITE_POOL, "backfill", "step", -1).is_claimed
        assert not storage.claim_concurrency_slot(WAREHOUSE_WRITE_POOL, "realtime", "step", 10).is_claimed
        storage.free_concurrency_slots_for_run("holder")
        assert not storage.claim_concurrency_slot(WAREHOUSE_WRITE_POOL, "backfill", "step", -1).is_claimed
        assert storage.claim_concurrency_slot(WAREHOUSE_WRITE_POOL, "realtime", "step", 10).is_claimed
