import os
from pathlib import Path

import pytest

from fintech_dataops.lib.ingestion import landing


def test_land_batch_writes_the_contract_layout(landing_dir: Path):
    path = landing.land_lines(landing_dir, "transactions", "2026-10-01", "b-001", ['{"a": 1}', '{"a": 2}'])
    assert path == landing_dir / "transactions" / "date=2026-10-01" / "b-001.jsonl"
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n'
    assert landing.landed_files(landing_dir, "transactions", "2026-10-01") == [path]
    assert [d.isoformat() for d in landing.landed_days(landing_dir, "transactions")] == ["2026-10-01"]


def test_landed_files_are_immutable(landing_dir: Path):
    landing.land_lines(landing_dir, "transactions", "2026-10-01", "b-001", ["x"])
    with pytest.raises(FileExistsError):
        landing.land_lines(landing_dir, "transactions", "2026-10-01", "b-001", ["y"])


def test_atomic_write_leaves_no_partial_file_on_failure(landing_dir: Path, monkeypatch):
    target = landing.partition_dir(landing_dir, "transactions", "2026-10-01") / "b-002.jsonl"

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        landing.write_atomic(target, b'{"a": 1}\n')
    # Neither the target nor a temp file is visible to a reader of the partition.
    assert not target.exists()
    assert list(target.parent.iterdir()) == []
    assert landing.landed_files(landing_dir, "transactions", "2026-10-01") == []


def test_temp_files_are_not_listed_as_landed(landing_dir: Path):
    folder = landing.partition_dir(landing_dir, "transactions", "2026-10-01")
    folder.mkdir(parents=True)
    (folder / ".tmp-abc.part").write_text("half a line")
    assert landing.landed_files(landing_dir, "transactions", "2026-10-01") == []


@pytest.mark.parametrize(
    "feed,day,batch",
    [
        ("../etc", "2026-10-01", "b"),
        ("transactions", "2026-10-01", "../../escape"),
        ("transactions", "../2026-10-01", "b"),
        ("transactions", "2026-10-01", "a/b"),
        ("", "2026-10-01", "b"),
        ("transactions", "2026-10-01", "..hidden"),
        ("trans\x00actions", "2026-10-01", "b"),
    ],
)
def test_names_cannot_escape_the_landing_zone(landing_dir: Path, feed, day, batch):
    with pytest.raises(landing.LandingPathError):
        landing.land_lines(landing_dir, feed, day, batch, ["x"])


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("FINTECH_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert landing.resolve_data_dir() == tmp_path / "data"
    monkeypatch.setenv("FINTECH_DATA_DIR", str(tmp_path / "elsewhere"))
    assert landing.resolve_data_dir() == tmp_path / "elsewhere"
    assert landing.resolve_data_dir(tmp_path / "explicit") == tmp_path / "explicit"
