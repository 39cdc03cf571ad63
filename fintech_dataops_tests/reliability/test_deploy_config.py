"""Past one machine, as configuration: deploy/ validates and loads without connecting anywhere."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config

from fintech_dataops.defs.resources import DataDirResource, WarehouseResource, resources_from_config
from fintech_dataops.lib import warehouse

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PYPROJECT = ROOT / "pyproject.toml"

DUMMY_ENV = {
    "DAGSTER_PG_HOST": "postgres.invalid", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USER": "dagster", "DAGSTER_PG_PASSWORD": "dummy-password-never-used",
    "DAGSTER_K8S_NAMESPACE": "fintech", "DAGSTER_K8S_SERVICE_ACCOUNT": "dagster",
    "DAGSTER_K8S_INSTANCE_CONFIG_MAP": "dagster-instance",
    "FINTECH_WAREHOUSE_DATABASE": "md:fintech_prod", "MOTHERDUCK_TOKEN": "dummy-md-token-never-used",
}


@pytest.fixture()
def deploy_env(monkeypatch, tmp_path):
    for name, value in DUMMY_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FINTECH_DATA_DIR", str(tmp_path / "shared"))


def test_deploy_instance_config_matches_dagsters_schema(deploy_env):
    config, instance_class = dagster_instance_config(str(DEPLOY), "dagster.yaml")
    assert instance_class is None
    assert set(config["storage"]["postgres"]["postgres_db"]["password"]) == {"env"}
    assert config["run_launcher"]["module"] == "dagster_k8s"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["pools"] == {"granularity": "op", "default_limit": 1}


def test_no_secret_is_written_in_deploy_files():
    files = sorted(p for p in DEPLOY.rglob("*") if p.is_file())
    assert DEPLOY / "tenants" / "dagster.yaml" in files  # the per-tenant instance is checked too
    for path in files:
        text = path.read_text()
        for value in ("dummy-password-never-used", "dummy-md-token-never-used"):
            assert value not in text
        for line in text.splitlines():
            key = line.split(":", 1)[0].strip().lower()
            if key in {"password", "motherduck_token", "token"}:
                assert line.split(":", 1)[1].strip() == "", f"{path.relative_to(DEPLOY)}: {line!r} must use `env:`"


def test_deploy_dependencies_are_an_optional_extra_only():
    import tomllib

    project = tomllib.loads(PYPROJECT.read_text())["project"]
    deploy_extra = " ".join(project["optional-dependencies"]["deploy"])
    assert "dagster-postgres" in deploy_extra and "dagster-k8s" in deploy_extra
    main = " ".join(project["dependencies"])
    assert "dagster-postgres" not in main and "dagster-k8s" not in main and "dagster-celery" not in main


def load_deploy_definitions() -> dg.Definitions:
    spec = importlib.util.spec_from_file_location("fintech_deploy_definitions", DEPLOY / "definitions.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop(spec.name, None)
    spec.loader.exec_module(module)
    return module.defs


def test_deploy_definitions_load_with_motherduck_warehouse_without_connecting(deploy_env, monkeypatch):
    real_connect = duckdb.connect

    def no_warehouse_connections(database=":memory:", *args, **kwargs):
        if str(database) != ":memory:":  # in-memory helpers (e.g. SQL parsing) are fine
            raise AssertionError(f"loading definitions must not open {database}")
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", no_warehouse_connections)
    defs = load_deploy_definitions()
    defs.get_repository_def().load_all_definitions()
    assert defs.resolve_job_def("daily_pipeline") is not None
    assert defs.resolve_asset_graph().has(dg.AssetKey(["raw", "transactions"]))

    resources = defs.resources
    assert isinstance(resources["warehouse"], WarehouseResource)
    # EnvVars are resolved when a run starts; do that here without opening anything.
    live = resources["warehouse"].process_config_and_initialize()
    assert live.target == "md:fintech_prod" and not live.is_local_file
    assert live.duckdb_config()["motherduck_token"] == "dummy-md-token-never-used"
    assert "dummy-md-token" not in repr(resources["warehouse"])
    data_dir = resources["data_dir"].process_config_and_initialize()
    assert data_dir.ingest_limits.max_line_bytes == 1048576


def test_the_same_config_switches_back_to_a_local_file(deploy_env, monkeypatch, tmp_path):
    monkeypatch.setenv("FINTECH_WAREHOUSE_DATABASE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("MOTHERDUCK_TOKEN", "")
    config = yaml.safe_load((DEPLOY / "resources.yaml").read_text())
    live = resources_from_config(config)["warehouse"].process_config_and_initialize()
    assert live.is_local_file and live.target == str(tmp_path / "w.duckdb")
    with live.get_connection() as con:
        assert con.execute("SELECT 42").fetchone() == (42,)


def test_remote_targets_are_recognised_and_redacted():
    assert not warehouse.is_local_database("md:fintech")
    assert not warehouse.is_local_database(":memory:")
    assert warehouse.is_local_database("data/warehouse.duckdb")
    assert warehouse.is_local_database("C:/data/w.duckdb")
    assert warehouse.redact("md:fintech?motherduck_token=secret") == "md:fintech"
    with pytest.raises(ValueError, match="not a local file") as excinfo:
        WarehouseResource(database="md:fintech?motherduck_token=secret").path
    assert "secret" not in str(excinfo.value)


def test_unknown_resource_keys_are_refused():
    with pytest.raises(ValueError, match="unknown resource"):
        resources_from_config({"warehose": {}})
    assert isinstance(resources_from_config({"data_dir": {"max_line_bytes": 64}})["data_dir"], DataDirResource)
