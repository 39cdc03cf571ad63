"""Resources: where the platform keeps its files and how it reaches the warehouse.

Paths are resolved when a resource is used, never at import: an empty field
means ``$FINTECH_DATA_DIR`` (default ``./data``). Secrets are never fields
with defaults here; they come through ``dg.EnvVar`` where a resource needs one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from fintech_dataops.lib import warehouse
from fintech_dataops.lib.landing import resolve_data_dir


class DataDirResource(dg.ConfigurableResource):
    """The data dir: landing zone, models, reports and the alert log live under it."""

    data_dir: str = Field(default="", description="Root of everything the platform writes; empty = $FINTECH_DATA_DIR or ./data")

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
    """

    database: str = Field(default="", description="DuckDB file; empty = <data dir>/warehouse.duckdb")
    data_dir: str = Field(default="", description="Data dir used when `database` is empty")
    lock_wait_seconds: float = Field(default=300.0, description="How long a writer waits for the file lock")

    @property
    def path(self) -> Path:
        if self.database:
            return Path(self.database).expanduser().resolve()
        return resolve_data_dir(self.data_dir) / "warehouse.duckdb"

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connection(self.path, wait_seconds=self.lock_wait_seconds) as con:
            yield con

    @contextmanager
    def read_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.connection(self.path, read_only=True, wait_seconds=self.lock_wait_seconds) as con:
            yield con


def default_resources() -> dict[str, object]:
    """The embedded default: everything on this machine under the data dir."""
    return {
        "data_dir": DataDirResource(),
        "warehouse": WarehouseResource(),
    }
