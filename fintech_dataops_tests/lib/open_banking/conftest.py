from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from fintech_dataops.lib.open_banking.emulator import SandboxEmulator
from fintech_dataops.lib.open_banking.emulator_data import EmulatorConfig
from fintech_dataops.lib.open_banking.retry import RetryPolicy
from fintech_dataops.lib.open_banking.state import SyncStateStore

START = date(2026, 9, 1)
PLAID_SECRET = "plaid-secret-Zq81xWv0Lm"
STRIPE_KEY = "sk_test_secretKey9f8e7d6c5b4a"


@pytest.fixture()
def config() -> EmulatorConfig:
    return EmulatorConfig(start=START, days=14, plaid_items=3, stripe_customers=15, stripe_charges_per_day=6,
                          plaid_client_id="client-ob-tests", plaid_secret=PLAID_SECRET, stripe_api_key=STRIPE_KEY)


@pytest.fixture()
def emulator(config: EmulatorConfig):
    with SandboxEmulator(config) as emu:
        yield emu


@pytest.fixture()
def ob_dirs(tmp_path: Path) -> tuple[Path, SyncStateStore]:
    landing = tmp_path / "landing"
    landing.mkdir()
    return landing, SyncStateStore(tmp_path / "state")


class SleepRecorder:
    def __init__(self):
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture()
def sleeps() -> SleepRecorder:
    return SleepRecorder()


FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.001, max_delay_s=0.01)


def at(day: date, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


def end_of(config: EmulatorConfig) -> datetime:
    return at(config.end) + timedelta(days=1)
