"""Raw assets through Dagster: partition keys, idempotent reruns, and the CLI backfill."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from fintech_dataops.defs.ingestion.assets import raw_assets
from fintech_dataops.lib.ingestion import landing

ROOT = Path(__file__).resolve().parents[2]


def raw_asset(feed: str) -> dg.AssetsDefinition:
    return next(a for a in raw_assets if a.key == dg.AssetKey(["raw", feed]))


def counts_by_day(database: Path, feed: str) -> dict[str, int]:
    with duckdb.connect(str(database), read_only=True) as con:
        return dict(con.execute(
            f"SELECT CAST(partition_date AS VARCHAR), count(*) FROM raw.{feed} GROUP BY 1 ORDER BY 1"
        ).fetchall())


def test_raw_asset_loads_its_partition_and_reruns_are_idempotent(data_dir, landing_dir, resources):
    landing.land_lines(landing_dir, "transactions", "2026-10-01", "b1", ['{"transaction_id": "T1"}', "garbage"])
    landing.land_lines(landing_dir, "transactions", "2026-10-02", "b1", ['{"transaction_id": "T2"}'])
    for _ in range(2):
        result = dg.materialize([raw_asset("transactions")], resources=resources, partition_key="2026-10-01")
        assert result.success
    materialization = result.asset_materializations_for_node("raw__transactions")[0]
    assert materialization.metadata["dagster/row_count"].value == 2
    assert counts_by_day(data_dir / "warehouse.duckdb", "transactions") == {"2026-10-01": 2}


def test_a_range_run_reports_each_day_on_its_own_partition(data_dir, landing_dir, resources):
    """Over a range, a day's partition shows that day's rows, never the range's total."""
    landing.land_lines(landing_dir, "transactions", "2026-10-01", "b1", ['{"transaction_id": "T1"}', "garbage"])
    landing.land_lines(landing_dir, "transactions", "2026-10-02", "b1", ['{"transaction_id": "T2"}'])
    result = dg.materialize([raw_asset("transactions")], resources=resources,
                            tags={"dagster/asset_partition_range_start": "2026-10-01",
                                  "dagster/asset_partition_range_end": "2026-10-03"})
    assert result.success
    materialized = result.asset_materializations_for_node("raw__transactions")
    assert {m.partition for m in materialized} == {"2026-10-01", "2026-10-02", "2026-10-03"}
    assert all("dagster/row_count" not in m.metadata and m.metadata["row_count_over_range"].value == 3
               for m in materialized)
    observed = {o.partition: o.metadata["dagster/row_count"].value
                for o in result.asset_observations_for_node("raw__transactions")}
    assert observed == {"2026-10-01": 2, "2026-10-02": 1, "2026-10-03": 0}


@pytest.mark.slow
def test_cli_backfill_of_two_days_in_one_run(data_dir, landing_dir):
    """The README's backfill command: `dagster asset materialize --partition-range A...B`."""
    for day, n in (("2026-10-01", 3), ("2026-10-02", 2), ("2026-10-03", 7)):
        landing.land_lines(landing_dir, "transactions", day, "b1", [f'{{"transaction_id": "T{day}{i}"}}' for i in range(n)])
        landing.land_lines(landing_dir, "customers", day, "b1", ['{"customer_id": "C1"}'])
    env = {**os.environ, "FINTECH_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(data_dir / "dagster_home")}
    command = [
        str(Path(sys.executable).parent / "dagster"), "asset", "materialize",
        "-m", "fintech_dataops.definitions",
        "--select", "key:raw/transactions or key:raw/customers",
        "--partition-range", "2026-10-01...2026-10-02",
    ]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert counts_by_day(data_dir / "warehouse.duckdb", "transactions") == {"2026-10-01": 3, "2026-10-02": 2}
    assert counts_by_day(data_dir / "warehouse.duckdb", "customers") == {"2026-10-01": 1, "2026-10-02": 1}
    # The run is recorded in the instance, so the UI shows the backfilled partitions.
    instance = dg.DagsterInstance.from_config(str(data_dir / "dagster_home"))
    materialized = instance.get_materialized_partitions(dg.AssetKey(["raw", "transactions"]))
    assert materialized == {"2026-10-01", "2026-10-02"}
