"""Assets on a remote (MotherDuck ``md:``) warehouse: nothing may ask the resource for a file path.

A remote warehouse cannot be opened offline, so the stand-in below is a WarehouseResource whose
``is_local_file`` is False (``.path`` raises, as for ``md:``) while its connections open a temp file.
"""

import warnings

import dagster as dg
import orjson
import pytest

from fintech_dataops.defs.analytics.kpis import build_kpi_assets, kpi_history
from fintech_dataops.defs.analytics.marts import build_mart_assets
from fintech_dataops.defs.analytics.monitor import build_monitor_asset
from fintech_dataops.defs.fraud.assets import fraud_model
from fintech_dataops.defs.money_resource import MoneyResource
from fintech_dataops.defs.realtime.assets import OP_NAME, realtime_fraud_batch
from fintech_dataops.defs.resources import DataDirResource, WarehouseResource
from fintech_dataops.lib import warehouse
from fintech_dataops.lib.ingestion import landing
from fintech_dataops_tests import analytics_data as data
from fintech_dataops_tests.lib.realtime.helpers import tx

warnings.filterwarnings("ignore", category=dg.BetaWarning)


class RemoteStandIn(WarehouseResource):
    """Behaves like ``database: md:…`` for the code under test; connects to ``stand_in`` underneath."""

    stand_in: str = ""

    @property
    def is_local_file(self) -> bool:
        return False

    @property
    def target(self) -> str:
        return self.stand_in


@pytest.fixture()
def remote_resources(data_dir):
    database = data_dir / "remote.duckdb"
    return database, {
        "data_dir": DataDirResource(data_dir=str(data_dir)),
        "warehouse": RemoteStandIn(database="md:fintech", stand_in=str(database)),
        "money": MoneyResource(),
    }


def test_the_stand_in_refuses_a_path_like_a_motherduck_warehouse(remote_resources):
    _, resources = remote_resources
    with pytest.raises(ValueError, match="not a local file"):
        resources["warehouse"].path


def test_fraud_model_on_a_remote_warehouse_reads_through_a_connection(remote_resources):
    database, resources = remote_resources
    with warehouse.connection(database) as con:
        con.execute("SELECT 1")
    result = dg.materialize([fraud_model], resources=resources)
    assert result.success
    metadata = result.get_asset_materialization_events()[0].event_specific_data.materialization.metadata
    assert metadata["status"].value == "not trained"
    assert "fraud.features does not exist yet" in metadata["note"].value


def test_monitor_on_a_remote_warehouse_skips_the_file_based_pm_snapshot(remote_resources, data_dir):
    database, resources = remote_resources
    data.build_tiny_warehouse(database, with_latency=True)
    assets = [*build_mart_assets(), *build_kpi_assets(), kpi_history, build_monitor_asset()]
    result = dg.materialize(assets, resources=resources)
    assert result.success
    by_key = {e.asset_key: e.event_specific_data.materialization.metadata
              for e in result.get_asset_materialization_events()}
    report = by_key[dg.AssetKey(["reports", "monitor"])]
    assert report["sections_rendered"].value == 6
    assert report["pm_view_published_at"].value == "skipped: remote warehouse"
    assert not (data_dir / "published" / "pm_view.duckdb").exists()


def test_realtime_catch_up_on_a_remote_warehouse(remote_resources, data_dir):
    database, resources = remote_resources
    with warehouse.connection(database) as con:  # a remote database exists before the first run
        con.execute("SELECT 1")
    body = b"".join(orjson.dumps(r) + b"\n" for r in [tx("A", amount=990.0)])
    landing.land_batch(data_dir / "landing", "transactions", "2026-03-01", "rt-0001", body)

    def run():
        return dg.materialize([realtime_fraud_batch], resources=resources,
                              run_config=dg.RunConfig(ops={OP_NAME: {"config": {"batches": []}}}))

    assert run().success
    assert run().success  # the second catch-up finds the batch done through the read connection
    with warehouse.connection(database, read_only=True) as con:
        batches = con.execute("SELECT batch_id FROM realtime.batch_latency").fetchall()
        alerts = con.execute("SELECT count(*) FROM fraud.realtime_alerts").fetchone()[0]
    assert batches == [("date=2026-03-01/rt-0001.jsonl",)] and alerts == 1
