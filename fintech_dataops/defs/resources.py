"""Resources: where the platform keeps its files and how it reaches the warehouse.

Paths are resolved when a resource is used, never at import: an empty field
means ``$FINTECH_DATA_DIR`` (default ``./data``). Secrets are never fields
with defaults here; they come through ``dg.EnvVar`` where a resource needs one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from fintech_dataops.defs.alert_sink import AlertSink
from fintech_dataops.defs.money_resource import MoneyResource
from fintech_dataops.lib import warehouse
from fintech_dataops.lib.ingestion.landing import resolve_data_dir
from fintech_dataops.lib.ingestion.limits import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_LINE_BYTES, IngestLimits


class DataDirResource(dg.ConfigurableResource):
    """The data dir: landing zone, models, reports and the alert log live under it."""

    data_dir: str = Field(default="", description="Root of everything the platform writes; empty = $FINTECH_DATA_DIR or ./data")
    max_line_bytes: int = Field(
        default=DEFAULT_MAX_LINE_BYTES,
        description="Longer landed lines are kept truncated in raw, flagged line_too_long (then quarantined)",
    )
    max_file_bytes: int = Field(
        default=DEFAULT_MAX_FILE_BYTES,
        description="Larger landed files are not read: one raw row flagged file_too_large stands for each",
    )

    @property
    def ingest_limits(self) -> IngestLimits:
        return IngestLimits(max_line_bytes=self.max_line_bytes, max_file_bytes=self.max_file_bytes)

    @property
    def root(self) -> Path:
        return resolve_data_dir(self.data_dir)

    @property
    def landing_dir(self) -> Path:
        return self.root / "landing"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def alerts_log(self) -> Path:
        return self.root / "alerts.log"


class WarehouseResource(DuckDBResource):
    """The DuckDB central repository (``layer.entity`` tables).

    Connections are short-lived; opening one waits while another process
    holds the file lock (up to ``lock_wait_seconds``) instead of failing.
    The engine is configuration: ``database`` is a local DuckDB file (default
    ``<data dir>/warehouse.duckdb``) or a MotherDuck database (``md:<name>``,
    token from ``motherduck_token`` = ``dg.EnvVar("MOTHERDUCK_TOKEN")``).
    """

    database: str = Field(
        default="", description="DuckDB file, or md:<database> for MotherDuck; empty = <data dir>/warehouse.duckdb"
    )
    data_dir: str = Field(default="", description="Data dir used when `database` is empty")
    lock_wait_seconds: float = Field(default=300.0, description="How long a writer waits for the file lock")
    motherduck_token: str = Field(
        default="", description="MotherDuck token (set it with dg.EnvVar('MOTHERDUCK_TOKEN'); never logged)"
    )

    @property
    def is_local_file(self) -> bool:
        return warehouse.is_local_database(self.database or "warehouse.duckdb")

    @property
    def target(self) -> str:
        """What ``duckdb.connect`` opens: an absolute file path or a remote database URI."""
        return str(self.path) if self.is_local_file else self.database

    @property
    def path(self) -> Path:
        if not self.is_local_file:
            raise ValueError(f"the warehouse is {warehouse.redact(self.database)}, not a local file")
        if self.database:
            return Path(self.database).expanduser().resolve()
        return resolve_data_dir(self.data_dir) / "warehouse.duckdb"

    def duckdb_config(self) -> dict:
        """Connection settings: dagster-duckdb's ``connection_config`` plus the MotherDuck token."""
        config = dict(self.connection_config or {})
        if self.motherduck_token:
            config["motherduck_token"] = self.motherduck_token
        return config

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connection(
            self.target, wait_seconds=self.lock_wait_seconds, config=self.duckdb_config()
        ) as con:
            yield con

    def yield_to_waiters(self, max_seconds: float = 10.0) -> float:
        """Between partitions of a long write: let processes queued for the file lock in first."""
        return warehouse.yield_to_waiters(self.target, max_seconds) if self.is_local_file else 0.0

    @contextmanager
    def read_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connection(
            self.target, read_only=True, wait_seconds=self.lock_wait_seconds, config=self.duckdb_config()
        ) as con:
            yield con


def default_resources() -> dict[str, object]:
    """The embedded default: everything on this machine under the data dir (the selected tenant's)."""
    from fintech_dataops.lib.tenancy.paths import DEFAULT_TENANT, current_tenant
    from fintech_dataops.lib.tenancy.settings import current_settings

    if current_tenant() == DEFAULT_TENANT:
        tenant = {}
    else:  # a bank's own reporting currency and alert channel; never the platform's shared webhook
        settings = current_settings()
        tenant = {"alert_sink": AlertSink(slack_webhook_env=settings.alert_sinks.slack_webhook_env or "")}
        if settings.reporting_currency:
            tenant["money"] = MoneyResource(reporting_currency=settings.reporting_currency)
    return {
        "data_dir": DataDirResource(),
        "warehouse": WarehouseResource(),
        "alert_sink": AlertSink(),
        "money": MoneyResource(),
        **tenant,
    }


RESOURCE_CLASSES: dict[str, type[dg.ConfigurableResource]] = {
    "data_dir": DataDirResource,
    "warehouse": WarehouseResource,
    "alert_sink": AlertSink,
    "money": MoneyResource,
}


def _config_value(value: object) -> object:
    """``{env: NAME}`` in a deployment file becomes ``dg.EnvVar(NAME)``: secrets stay out of files."""
    if isinstance(value, dict) and set(value) == {"env"}:
        return dg.EnvVar(str(value["env"]))
    return value


def resources_from_config(config: Mapping[str, Mapping[str, object]]) -> dict[str, object]:
    """Resources for a deployment, from a mapping like ``deploy/resources.yaml``.

    Keys are resource keys (``warehouse``, ``data_dir``), values their fields; a
    field ``{env: NAME}`` is read from the environment when a run starts, never here.
    Nothing connects: the warehouse is opened only inside an asset.
    """
    unknown = sorted(set(config) - set(RESOURCE_CLASSES))
    if unknown:
        raise ValueError(f"unknown resource key(s) {unknown}; known: {sorted(RESOURCE_CLASSES)}")
    return {
        key: RESOURCE_CLASSES[key](**{name: _config_value(v) for name, v in (fields or {}).items()})
        for key, fields in config.items()
    }


def resources_from_yaml(path: str | Path) -> dict[str, object]:
    import yaml

    return resources_from_config(yaml.safe_load(Path(path).read_text()) or {})
