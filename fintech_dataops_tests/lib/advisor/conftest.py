from __future__ import annotations

from pathlib import Path

import pytest

from fintech_dataops_tests.lib.advisor.advisor_data import build_advisor_warehouse


@pytest.fixture()
def advisor_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    build_advisor_warehouse(data_dir)
    return data_dir
