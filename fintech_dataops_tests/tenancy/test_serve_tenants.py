"""``fintech-dataops serve --tenants all`` as a real process: one service, two banks, keys decide."""

from __future__ import annotations

import httpx
import pytest

from fintech_dataops_tests.commands.test_serve import Service, _landed_ids
from fintech_dataops_tests.lib.realtime.helpers import tx

pytestmark = pytest.mark.slow


def test_one_process_serves_every_registered_bank_by_its_key(data_dir, two_banks):
    registry, keys = two_banks
    service = Service(data_dir, "--tenants", "all", "--no-warm-start")
    try:
        assert sorted(service.ready["tenants"]) == ["acme", "globex"]
        with httpx.Client(base_url=service.url, timeout=10) as client:
            for name in ("acme", "globex"):  # the same transaction id at both banks
                answer = client.post("/v1/transactions", json=tx("T1", "C0000001"), headers={"X-API-Key": keys[name]})
                assert answer.status_code == 200, answer.text
            assert client.post("/v1/transactions", json=tx("T2", "C0000001")).status_code == 401
    finally:
        assert service.stop() == 0
    for name in ("acme", "globex"):
        assert _landed_ids(registry.root(name)) == ["T1"]
    assert _landed_ids(data_dir) == []
