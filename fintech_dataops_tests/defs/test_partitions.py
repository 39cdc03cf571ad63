"""Daily partitions start at the first day the platform has data for, or a configured day (issue 14)."""

import pytest

from fintech_dataops.defs.partitions import DEFAULT_PARTITIONS_START, PARTITIONS_START_ENV, partitions_start
from fintech_dataops.lib.ingestion import landing


def test_partitions_start_at_the_first_landed_day(data_dir, landing_dir, monkeypatch):
    monkeypatch.delenv(PARTITIONS_START_ENV)
    assert partitions_start() == DEFAULT_PARTITIONS_START  # nothing landed yet
    landing.land_lines(landing_dir, "transactions", "2026-10-05", "b1", ['{"transaction_id": "T1"}'])
    landing.land_lines(landing_dir, "customers", "2026-10-03", "b1", ['{"customer_id": "C1"}'])
    (landing_dir / "not a feed").mkdir()          # unroutable folders are not data days
    (landing_dir / "transactions" / "date=garbage").mkdir()
    assert partitions_start() == "2026-10-03"


def test_a_configured_first_day_wins(data_dir, landing_dir, monkeypatch):
    landing.land_lines(landing_dir, "transactions", "2026-10-05", "b1", ['{"transaction_id": "T1"}'])
    monkeypatch.setenv(PARTITIONS_START_ENV, "2026-01-01")
    assert partitions_start() == "2026-01-01"
    for wrong in ("January", "2019-01-01"):  # not a date; before the first day events are accepted
        monkeypatch.setenv(PARTITIONS_START_ENV, wrong)
        with pytest.raises(ValueError):
            partitions_start()
