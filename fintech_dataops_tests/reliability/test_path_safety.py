"""Feed names, days and batch ids cannot leave the data dir; symlinks are never followed."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.ingestion.limits import SYMLINK_REFUSED
from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions

DAY = "2026-10-01"

HOSTILE_NAMES = [
    "/etc/passwd", "/tmp", "~root", "..", ".", "a/../../b", "a\\..\\b", "transactions\n", "transactions\x00",
    "\u2024\u2024", "\uff0e\uff0e", "trans\u2215actions", "tr\u0430nsactions", "transactions\u200b",
    "x" * 129, " transactions", "transactions ", "-rf", ".hidden",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_feed_and_batch_names_are_refused(landing_dir: Path, name: str):
    with pytest.raises(landing.LandingPathError):
        landing.land_lines(landing_dir, name, DAY, "b1", ["x"])
    with pytest.raises(landing.LandingPathError):
        landing.land_lines(landing_dir, "transactions", DAY, name, ["x"])
    assert not any(p.is_file() for p in landing_dir.rglob("*"))


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=40))
def test_any_accepted_name_stays_inside_the_landing_zone(name: str):
    root = Path("/nonexistent-data-dir/landing")  # path arithmetic only: nothing is created
    try:
        landing.safe_name(name)
    except landing.LandingPathError:
        return
    target = landing.partition_dir(root, name, DAY) / f"{name}.jsonl"
    assert root.resolve() in target.resolve().parents
    assert name.isascii() and "/" not in name and "\\" not in name and "\n" not in name


@pytest.mark.parametrize("day", ["2026-10-01/../..", "../../etc", "2026-13-01", "20261001x", "/2026-10-01"])
def test_hostile_days_are_refused(landing_dir: Path, day: str):
    with pytest.raises(landing.LandingPathError):
        landing.land_lines(landing_dir, "transactions", day, "b1", ["x"])


def test_a_feed_folder_symlinked_outside_is_refused(landing_dir: Path, tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (landing_dir / "transactions").symlink_to(outside, target_is_directory=True)
    with pytest.raises(landing.LandingPathError):
        landing.land_lines(landing_dir, "transactions", DAY, "b1", ["x"])
    assert list(outside.iterdir()) == []


def test_a_symlinked_file_is_not_read_but_reported_in_raw(landing_dir: Path, tmp_path: Path):
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"password": "hunter2"}\n')
    landing.land_lines(landing_dir, "transactions", DAY, "good", ['{"a": 1}'])
    folder = landing.partition_dir(landing_dir, "transactions", DAY)
    os.symlink(secret, folder / "evil.jsonl")
    assert [p.name for p in landing.landed_files(landing_dir, "transactions", DAY)] == ["good.jsonl"]
    con = duckdb.connect()
    result = load_raw_partitions(con, landing_dir, "transactions", [DAY])
    rows = con.execute("SELECT source_file, record, ingest_issue FROM raw.transactions ORDER BY source_file").fetchall()
    assert rows == [
        (f"transactions/date={DAY}/evil.jsonl", "", SYMLINK_REFUSED),
        (f"transactions/date={DAY}/good.jsonl", '{"a": 1}', None),
    ]
    assert result.refused_files == 1
    assert "hunter2" not in str(con.execute("SELECT * FROM raw.transactions").fetchall())
