"""The online service's request rate bound: token buckets per client (lib/ingestion/limits.py)."""

from __future__ import annotations

import pytest

from fintech_dataops.lib.ingestion.limits import RateLimiter


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_sustained_rate_per_client():
    clock = FakeClock()
    limiter = RateLimiter(rate_per_second=10, burst=5, clock=clock)
    assert [limiter.allow("key-a") for _ in range(6)] == [True] * 5 + [False]
    assert limiter.allow("key-b")  # another client has its own bucket
    assert limiter.retry_after("key-a") == pytest.approx(0.1)
    clock.now += 0.1
    assert limiter.allow("key-a") and not limiter.allow("key-a")
    clock.now += 60
    assert sum(limiter.allow("key-a") for _ in range(20)) == 5  # idle time refills up to the burst only


def test_a_flood_of_clients_cannot_grow_memory_without_bound():
    limiter = RateLimiter(rate_per_second=1, burst=1, max_clients=100, clock=FakeClock())
    for i in range(10_000):
        limiter.allow(f"spoofed-{i}")
    assert len(limiter._buckets) == 100


def test_nonsense_limits_are_refused():
    with pytest.raises(ValueError):
        RateLimiter(rate_per_second=0, burst=1)


def test_online_service_answers_429_past_its_rate(data_dir):
    from fastapi.testclient import TestClient

    from fintech_dataops.lib.fraud.engine import FraudEngine
    from fintech_dataops.lib.realtime.app import ServiceConfig, create_app
    from fintech_dataops_tests.lib.realtime.helpers import tx

    config = ServiceConfig(data_dir=data_dir, batch_window_ms=1.0, rotate_seconds=0.2,
                           max_requests_per_second=1.0, request_burst=3)
    with TestClient(create_app(config, engine=FraudEngine())) as client:
        answers = [client.post("/v1/transactions", json=tx(f"R{i}")) for i in range(5)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert answers[3].status_code == 429 and float(answers[3].headers["retry-after"]) > 0


def test_made_up_api_keys_do_not_buy_a_fresh_bucket(data_dir):
    """A client cycling through invented keys is still one client (its address) and is limited."""
    from fastapi.testclient import TestClient

    from fintech_dataops.lib.fraud.engine import FraudEngine
    from fintech_dataops.lib.realtime.app import ServiceConfig, create_app
    from fintech_dataops_tests.lib.realtime.helpers import tx

    for api_key in (None, "the-real-key"):
        config = ServiceConfig(data_dir=data_dir, batch_window_ms=1.0, rotate_seconds=0.2, api_key=api_key,
                               max_requests_per_second=1.0, request_burst=3)
        with TestClient(create_app(config, engine=FraudEngine())) as client:
            statuses = [client.post("/v1/transactions", json=tx(f"K{api_key}{i}"),
                                    headers={"x-api-key": f"made-up-{i}"}).status_code for i in range(5)]
        rejected = 401 if api_key else 200
        assert statuses[:3] == [rejected] * 3 and statuses[3:] == [429, 429], (api_key, statuses)
