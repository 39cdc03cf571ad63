from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTANCE_TEMPLATE = ROOT / "fintech_dataops" / "instance" / "dagster.yaml"


def write_jsonl(path: Path, lines: int, tag: str) -> None:
    """A landed batch of ``lines`` transaction-shaped records, written fast and atomically."""
    from fintech_dataops.lib.ingestion.landing import write_atomic

    row = ('{"transaction_id": "%s-%%d", "customer_id": "C%%d", "merchant_id": "M1", "amount": 12.5, '
           '"currency": "USD", "event_time": "2026-10-01T10:00:00Z"}\n' % tag)
    write_atomic(path, "".join(row % (i, i % 997) for i in range(lines)).encode())


class Platform:
    """A data dir + Dagster home (the project's instance template) for real processes."""

    def __init__(self, root: Path):
        self.data_dir = root / "data"
        self.landing_dir = self.data_dir / "landing"
        self.home = self.data_dir / "dagster_home"
        self.home.mkdir(parents=True)
        shutil.copyfile(INSTANCE_TEMPLATE, self.home / "dagster.yaml")
        # Create the instance's sqlite storage once, before processes race to migrate it
        # (two first-time processes can both run alembic and one fails).
        import dagster as dg

        with dg.DagsterInstance.from_config(str(self.home)) as instance:
            instance.get_runs(limit=1)
        self.env = {**os.environ, "FINTECH_DATA_DIR": str(self.data_dir), "DAGSTER_HOME": str(self.home),
                    "PYTHONPATH": str(ROOT)}
        self.database = self.data_dir / "warehouse.duckdb"

    def land(self, feed: str, day: str, batch: str, lines: int) -> Path:
        from fintech_dataops.lib.ingestion.landing import partition_dir

        path = partition_dir(self.landing_dir, feed, day) / f"{batch}.jsonl"
        write_jsonl(path, lines, f"{feed}-{day}-{batch}")
        return path

    def worker(self, *args: str, **popen) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "fintech_dataops_tests.reliability.workers", *args],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen,
        )

    def dagster(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster"), *args],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )


@pytest.fixture()
def platform(tmp_path: Path) -> Platform:
    return Platform(tmp_path)
