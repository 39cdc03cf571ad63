import gc
import time
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.realtime.engine_host import EngineHost
from fintech_dataops.lib.realtime.gc_tuning import HeapKeeper
from fintech_dataops.lib.realtime.scoring_thread import DecisionPipeline, ScoreJob, iso_utc, iso_utc_array
from fintech_dataops.lib.realtime.records import classify
from fintech_dataops.lib.realtime.wal import DurableLog
from fintech_dataops_tests.lib.realtime.helpers import tx

START = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def _records() -> list[dict]:
    burst = [tx(f"V{i}", "C-burst", 20.0, at=START, seconds=i) for i in range(5)]
    big = [tx("BIG", "C-big", 950.0, at=START, seconds=1)]
    calm = [{**tx(f"Q{i}", f"C{i % 3}", 12.5 + i, at=START, seconds=2 * i), "device_id": f"D{i % 2}"}
            for i in range(12)]
    calm[0]["device_id"] = None  # a null device is "", as in the batch path
    return burst + big + calm


def test_the_service_path_decides_exactly_as_the_batch_engine(tmp_path):
    records = _records()
    accepted, rejected = classify(records, now=START.replace(hour=13))
    assert not rejected
    host = EngineHost(FraudEngine(), tmp_path / "models")
    pipeline = DecisionPipeline(host, DurableLog(tmp_path), tmp_path / "alerts.jsonl")
    online = pipeline.process([ScoreJob(accepted=accepted[:9]), ScoreJob(accepted=accepted[9:])])
    decided = {d["transaction_id"]: d for job in online for d in job}
    batch = FraudEngine().score_frame(pd.DataFrame(records)).set_index("transaction_id")
    assert set(decided) == set(batch.index)
    for tid, row in batch.iterrows():
        assert decided[tid]["decision"] == row["decision"], tid
        assert decided[tid]["rule_ids"] == list(row["rule_ids"]), tid
        assert decided[tid]["risk_score"] == round(float(row["risk_score"]), 6), tid
    assert decided["BIG"]["decision"] != "approve" and "VELOCITY" in decided["V4"]["rule_ids"]
    # The window carries each record's device (the device feature is the one the model learnt).
    assert {e[3] for e in host.engine.window_entries("C1")} == {"D0", "D1"}
    assert {e[3] for e in host.engine.window_entries("C0")} == {"", "D0", "D1"}
    assert pipeline.decision_counts["approve"] + pipeline.decision_counts["review"] \
        + pipeline.decision_counts["block"] == len(records)
    pipeline.wal.close()
    pipeline.close()


def test_event_times_are_written_as_the_service_writes_them():
    moments = [START, START.replace(microsecond=123456), datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)]
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    us = np.array([(m - epoch) // pd.Timedelta(microseconds=1) for m in moments], dtype="int64")
    assert iso_utc_array(us) == [iso_utc(m) for m in moments]


def test_the_heap_keeper_freezes_long_lived_state_and_still_runs_full_collections():
    keeper = HeapKeeper(full_every_seconds=0.0)
    try:
        keeper.settle()
        assert gc.get_freeze_count() > 0
        assert keeper.full_collections == 1 and keeper.last_full_ms is not None
        keeper.full_every_seconds = 3600.0
        keeper.settle()
        assert keeper.full_collections == 1  # within the period: only a freeze
        keeper.release()
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()


def test_a_pipeline_without_a_heap_keeper_leaves_the_collector_alone(tmp_path):
    gc.unfreeze()
    pipeline = DecisionPipeline(EngineHost(FraudEngine(), tmp_path / "models"), DurableLog(tmp_path),
                                tmp_path / "alerts.jsonl")
    accepted, _ = classify([tx("T1", at=START)], now=START.replace(hour=13))
    pipeline.process([ScoreJob(accepted=accepted)])
    pipeline.wal.close()
    pipeline.close()
    assert gc.get_freeze_count() == 0


def test_the_alert_stream_rotates_by_size_and_keeps_the_newest_files(tmp_path):
    host = EngineHost(FraudEngine(), tmp_path / "models")
    pipeline = DecisionPipeline(host, DurableLog(tmp_path), tmp_path / "alerts_stream.jsonl",
                                alerts_max_bytes=2_000, alerts_keep=2)
    for i in range(12):  # every one a HIGH_VALUE alert of a few hundred bytes
        accepted, _ = classify([tx(f"BIG{i}", f"C{i}", 950.0, at=START)], now=START.replace(hour=13))
        pipeline.process([ScoreJob(accepted=accepted)])
    pipeline.close()
    pipeline.wal.close()
    rotated = sorted(tmp_path.glob("alerts_stream.*.jsonl"))
    assert len(rotated) == 2
    assert all(p.stat().st_size >= 2_000 for p in rotated)
    assert (tmp_path / "alerts_stream.jsonl").stat().st_size < 2_000
    assert pipeline.alerts == 12


def test_the_service_freezes_its_state_while_up_and_hands_it_back_on_shutdown(data_dir):
    from fastapi.testclient import TestClient

    from fintech_dataops.lib.realtime.app import ServiceConfig, create_app

    config = ServiceConfig(data_dir=data_dir, batch_window_ms=1.0, rotate_seconds=0.2, warm_start=False)
    with TestClient(create_app(config, engine=FraudEngine())) as client:
        assert client.post("/v1/transactions", json=tx("G1")).status_code == 200
        health = client.get("/health").json()
        assert health["gc"]["frozen_objects"] > 0
    assert gc.get_freeze_count() == 0


def test_past_the_queue_bound_a_request_is_refused_with_503_and_not_landed(data_dir):
    """Load shedding: an overloaded scorer answers 503 + Retry-After at once instead of minutes later."""
    import threading

    from fastapi.testclient import TestClient

    from fintech_dataops.lib.realtime.app import ServiceConfig, create_app

    release, entered = threading.Event(), threading.Event()

    class SlowEngine(FraudEngine):
        def score_arrays(self, c):
            entered.set()
            release.wait(60)  # the scorer is stuck on the first micro-batch
            return super().score_arrays(c)

    config = ServiceConfig(data_dir=data_dir, batch_window_ms=1.0, rotate_seconds=0.2, warm_start=False,
                           max_queued_events=150)
    with TestClient(create_app(config, engine=SlowEngine())) as client:
        results: dict[int, object] = {}

        def send(i: int) -> None:
            results[i] = client.post("/v1/transactions/batch", json=[tx(f"L{i}-{j}") for j in range(100)])

        first = threading.Thread(target=send, args=(0,))
        first.start()
        assert entered.wait(60)  # taken by the scorer, which blocks
        deadline = time.monotonic() + 60  # waits for an event, ends as soon as it happens
        second = threading.Thread(target=send, args=(1,))
        second.start()  # queued: 100 events waiting
        while time.monotonic() < deadline and client.get("/health").json()["queued_events"] < 100:
            time.sleep(0.01)
        send(2)  # 100 more would make 200 > 150: shed
        release.set()
        first.join(60)
        second.join(60)
        health = client.get("/health").json()
    assert results[2].status_code == 503 and results[2].headers["retry-after"] == "1"
    assert results[2].json()["landed"] is False and "overloaded" in results[2].json()["error"]
    assert results[0].status_code == 200 and results[1].status_code == 200
    assert health["shed_requests"] == 1
    landed = [line for f in (data_dir / "landing" / "transactions").rglob("*.jsonl") for line in f.read_text().splitlines()]
    assert len(landed) == 200 and not any('"L2-' in line for line in landed)


def test_each_micro_batch_reports_its_phases(tmp_path):
    from fintech_dataops.lib.realtime.scoring_thread import PhaseTimes

    assert PhaseTimes().summary() == {"micro_batches": 0}
    accepted, _ = classify(_records(), now=START.replace(hour=13))
    pipeline = DecisionPipeline(EngineHost(FraudEngine(), tmp_path / "models"), DurableLog(tmp_path),
                                tmp_path / "alerts.jsonl")
    pipeline.process([ScoreJob(accepted=accepted[:9])])
    pipeline.process([ScoreJob(accepted=accepted[9:]), ScoreJob(accepted=[])])
    summary = pipeline.phases.summary()
    assert summary["micro_batches"] == 2 and summary["events_p50"] == 9.0
    for phase in ("score", "wal", "after"):
        assert 0.0 <= summary[phase]["p50"] <= summary[phase]["p99"] <= summary[phase]["max"]
    pipeline.wal.close()
    pipeline.close()
    kept = PhaseTimes(keep=3)
    for i in range(5):
        kept.add(i, 0.001 * i, 0.0, 0.0)
    assert kept.summary()["micro_batches"] == 3 and kept.summary()["score"]["max"] == 4.0
