"""The warm near-real-time path: drain() processes landed micro-batches in-process, once each."""

import os

import orjson
import pytest

from fintech_dataops.lib import warehouse
from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.realtime import warm_path
from fintech_dataops.lib.realtime.landed_batches import BatchCursor
from fintech_dataops.lib.realtime.warm_path import EngineCache, WarmPathSettings, drain
from fintech_dataops_tests.lib.realtime.helpers import tx


class FakeClock:
    """Time that moves only when the code sleeps or a batch is processed (no wall-clock in tests)."""

    def __init__(self, per_batch: float = 0.0):
        self.now = 0.0
        self.per_batch = per_batch
        self.on_sleep = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        if self.on_sleep:
            self.on_sleep.pop(0)()


def _land(landing_dir, batch_id, records, day="2026-03-01", mtime_s=None):
    body = b"".join(orjson.dumps(r) + b"\n" for r in records)
    path = landing.land_batch(landing_dir, "transactions", day, batch_id, body)
    if mtime_s is not None:
        os.utime(path, ns=(int(mtime_s * 1e9),) * 2)
        os.utime(path.parent, ns=(int(mtime_s * 1e9),) * 2)
    return path


def _drain(data_dir, cursor=BatchCursor(), clock=None, **settings):
    clock = clock or FakeClock()
    return drain(data_dir / "warehouse.duckdb", data_dir / "landing", data_dir / "models", cursor,
                 settings=WarmPathSettings(**{"watch_seconds": 0.0, **settings}), engines=EngineCache(),
                 clock=clock, sleep=clock.sleep)


def _latency_rows(data_dir):
    with warehouse.connection(data_dir / "warehouse.duckdb", read_only=True) as con:
        return sorted(r[0] for r in con.execute("SELECT batch_id FROM realtime.batch_latency").fetchall())


def test_a_batch_landing_while_the_sensor_watches_is_processed_in_the_same_evaluation(data_dir, landing_dir):
    _land(landing_dir, "rt-0001", [tx("T1")], mtime_s=1_000)
    clock = FakeClock()
    clock.on_sleep.append(lambda: _land(landing_dir, "rt-0002", [tx("T2")], mtime_s=1_001))
    outcome = _drain(data_dir, clock=clock, watch_seconds=1.0, poll_seconds=0.25)
    assert [r.batch_id for r in outcome.processed] == ["date=2026-03-01/rt-0001.jsonl",
                                                       "date=2026-03-01/rt-0002.jsonl"]
    assert outcome.looks == 5  # at 0, 0.25, 0.5, 0.75 and 1.0 s: then the 1 s watch is spent
    assert _latency_rows(data_dir) == ["date=2026-03-01/rt-0001.jsonl", "date=2026-03-01/rt-0002.jsonl"]
    assert _drain(data_dir, outcome.cursor).processed == []


def test_over_budget_the_rest_waits_for_the_next_evaluation_and_nothing_is_lost(data_dir, landing_dir, monkeypatch):
    for i in range(3):
        _land(landing_dir, f"rt-000{i}", [tx(f"T{i}")], mtime_s=1_000 + i)
    clock = FakeClock()
    real = warm_path.process_batch

    def slow(*args, **kwargs):  # each batch "takes" 2 s of the fake clock
        clock.now += 2.0
        return real(*args, **kwargs)

    monkeypatch.setattr(warm_path, "process_batch", slow)
    first = _drain(data_dir, clock=clock, budget_seconds=3.0)
    assert len(first.processed) == 2  # the second started at 2 s (< 3 s); the third would start at 4 s
    second = _drain(data_dir, first.cursor)
    assert [r.batch_id for r in second.processed] == ["date=2026-03-01/rt-0002.jsonl"]
    assert len(_latency_rows(data_dir)) == 3


def test_a_failing_batch_is_handed_to_a_run_with_its_reason_and_the_others_still_go_warm(data_dir, landing_dir,
                                                                                       monkeypatch):
    _land(landing_dir, "rt-0001", [tx("T1")], mtime_s=1_000)
    _land(landing_dir, "rt-0002", [tx("T2")], mtime_s=1_001)
    real = warm_path.process_batch

    def flaky(database, landing, models, key, **kwargs):
        if key.endswith("rt-0001.jsonl"):
            raise OSError("disk hiccup")
        return real(database, landing, models, key, **kwargs)

    monkeypatch.setattr(warm_path, "process_batch", flaky)
    outcome = _drain(data_dir)
    assert [(b.key, reason) for b, reason in outcome.deferred] == [
        ("date=2026-03-01/rt-0001.jsonl", "OSError: disk hiccup")]
    assert [r.batch_id for r in outcome.processed] == ["date=2026-03-01/rt-0002.jsonl"]
    assert _drain(data_dir, outcome.cursor).deferred == []  # handed over once


def test_the_engine_is_loaded_once_and_again_only_for_a_new_model_version(data_dir, monkeypatch):
    from fintech_dataops.lib.fraud import model

    cache = EngineCache()
    version = {"v": None}
    monkeypatch.setattr(model, "current_version", lambda models_dir: version["v"])
    first = cache.get(data_dir / "models")
    assert cache.get(data_dir / "models") is first and cache.loads == 1
    version["v"] = "v2"  # a retrain published a new CURRENT (no model file here: rules only, but a new load)
    assert cache.get(data_dir / "models") is not first and cache.loads == 2


@pytest.mark.parametrize("env, message", [({"FINTECH_NEARLINE_PATH": "nope"}, "FINTECH_NEARLINE_PATH"),
                                          ({"FINTECH_NEARLINE_WATCH_SECONDS": "9"}, "0 to 4.5"),
                                          ({"FINTECH_NEARLINE_WATCH_SECONDS": "x"}, "expected seconds")])
def test_settings_from_the_environment_refuse_nonsense(monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        WarmPathSettings.from_env()


def test_settings_default_to_the_warm_path(monkeypatch):
    monkeypatch.delenv("FINTECH_NEARLINE_PATH", raising=False)
    monkeypatch.setenv("FINTECH_NEARLINE_WATCH_SECONDS", "1.5")
    assert WarmPathSettings.from_env() == WarmPathSettings(path="warm", watch_seconds=1.5)
