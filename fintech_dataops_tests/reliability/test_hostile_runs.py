"""Hostile landed files through Dagster: the run succeeds and every line is accounted for.

raw keeps every line; when the quality layer (core + quarantine) is wired, the
platform invariant count(raw) = count(core) + count(quarantine) holds too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fintech_dataops.defs.resources import DataDirResource, WarehouseResource
from fintech_dataops.lib.ingestion import landing

DAY = "2026-10-01"
RAW = dg.AssetKey(["raw", "transactions"])
CORE = dg.AssetKey(["core", "transactions"])

GOOD = (b'{"transaction_id": "T1", "customer_id": "C1", "merchant_id": "M1", "amount": 12.5, '
        b'"currency": "USD", "event_time": "2026-10-01T10:00:00Z"}')
hostile_files = st.lists(
    st.one_of(st.just(GOOD), st.binary(max_size=60), st.just(b"x" * 300), st.just(GOOD[:-1])), max_size=6
).map(lambda lines: b"\n".join(lines))


def platform_assets() -> tuple[list, set[dg.AssetKey]]:
    from fintech_dataops.definitions import defs

    graph = defs.resolve_asset_graph()
    # The core asset writes core.<feed> and its side table quarantine.<feed> in one transaction.
    wanted = {RAW} | ({CORE} if graph.has(CORE) else set())
    return defs, wanted


def materialize_day(data_dir: Path, selection: set[dg.AssetKey], max_line_bytes: int = 256) -> dg.ExecuteInProcessResult:
    """raw (+ core, quarantine) for DAY with their in-asset checks (schema, reconciliation, rate).

    The referential WARN checks are left out: they look at other feeds' tables, which this
    single-feed run does not load (they have their own tests in the quality domain).
    """
    from fintech_dataops.defs import build_defs

    platform = build_defs(resource_overrides={
        "data_dir": DataDirResource(data_dir=str(data_dir), max_line_bytes=max_line_bytes),
        "warehouse": WarehouseResource(data_dir=str(data_dir)),
    })
    graph = platform.resolve_asset_graph()
    referential = [key for key in graph.asset_check_keys if key.name.startswith("referential_")]
    job = dg.define_asset_job(
        "hostile_input_day",
        selection=dg.AssetSelection.assets(*selection) - dg.AssetSelection.checks(*referential),
    )
    defs = dg.Definitions.merge(platform, dg.Definitions(jobs=[job]))
    return defs.resolve_job_def("hostile_input_day").execute_in_process(partition_key=DAY, raise_on_error=False)


def count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table} WHERE partition_date = ?", [DAY]).fetchone()[0]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=hostile_files)
def test_hostile_file_run_succeeds_and_every_line_is_accounted_for(body: bytes, tmp_path: Path):
    data_dir = tmp_path / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    landing.land_batch(data_dir / "landing", "transactions", DAY, "hostile", body)
    _, selection = platform_assets()
    result = materialize_day(data_dir, selection)
    assert result.success
    lines = body.split(b"\n")
    expected = len(lines) - (1 if lines[-1] == b"" else 0) if body else 0
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        assert count(con, "raw.transactions") == expected
        if CORE in selection:
            assert count(con, "core.transactions") + count(con, "quarantine.transactions") == expected


def test_quarantine_receives_truncated_lines_with_their_reason(tmp_path: Path):
    _, selection = platform_assets()
    if CORE not in selection:
        pytest.skip("quality layer (core.transactions + quarantine.transactions) not wired yet")
    data_dir = tmp_path / "data"
    landing.land_batch(data_dir / "landing", "transactions", DAY, "long", GOOD + b"\n" + b'{"x": "' + b"y" * 400 + b'"}\n')
    assert materialize_day(data_dir, selection).success
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as con:
        text = " ".join(str(v) for row in con.execute("SELECT * FROM quarantine.transactions").fetchall() for v in row)
    assert "line_too_long" in text
