"""The engine in child processes (``serve --scoring-processes N``): same decisions, same guarantees."""

import os
import signal
from datetime import datetime, timedelta, timezone

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from fintech_dataops.lib.realtime.app import ServiceConfig, create_app, revive_scoring
from fintech_dataops.lib.realtime.engine_host import EngineHost, engine_for
from fintech_dataops.lib.realtime.records import classify, read_body
from fintech_dataops.lib.realtime.scoring_thread import engine_columns
from fintech_dataops.lib.realtime.scoring_process import ScoringProcesses, ScoringProcessError, customer_shards
from fintech_dataops_tests.lib.realtime.helpers import tx
from fintech_dataops_tests.lib.realtime.test_engine_host import _warehouse_with

START = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _columns(records: list[dict]) -> dict:
    """What the service's scoring thread sends: the contract-checked micro-batch as columns."""
    parsed, repeated = read_body(orjson.dumps(records), batch=True)
    accepted, rejected = classify(parsed, datetime.now(timezone.utc), repeated)
    assert not rejected
    return engine_columns(accepted)


def _batches() -> list[list[dict]]:
    return [
        [tx(f"B{i}", "C-burst", 10.0, at=START, seconds=i) for i in range(3)],
        [tx("B3", "C-burst", 10.0, at=START, seconds=3), tx("HV", "C-high", 950.0, at=START, seconds=3)],
        [tx("CALM", "C-calm", 12.0, at=START, seconds=4), tx("B4", "C-burst", 10.0, at=START, seconds=5)],
    ]


def _decided(scored: dict) -> list[tuple]:
    return [(str(d), round(float(r), 6), list(ids), [str(x) for x in reasons]) for d, r, ids, reasons in
            zip(scored["decision"], scored["risk_score"], scored["rule_ids"], scored["reasons"])]


@pytest.fixture(params=[1, 2], ids=["one-process", "two-shards"])
def remote(tmp_path, request):
    host = ScoringProcesses(tmp_path / "models", count=request.param)
    yield host
    host.close()


def test_the_child_decides_exactly_as_the_in_process_host(tmp_path, remote):
    local = EngineHost(engine_for(tmp_path / "models"), tmp_path / "models")
    for batch in _batches():
        assert _decided(remote.score_arrays(_columns(batch))) == _decided(local.score_arrays(_columns(batch)))
    last = _decided(remote.score_arrays(_columns([tx("B5", "C-burst", 10.0, at=START, seconds=6)])))
    assert last[0][2] == ["VELOCITY"]  # the child's windows carried the burst across micro-batches
    size = remote.state_size
    assert size["customers"] == 3 and all(p["alive"] for p in size["scoring_processes"])
    assert remote.model_version is None and remote.fx_status["reporting_currency"]


def test_warm_start_fills_the_childs_windows_from_the_warehouse(tmp_path, remote):
    database = _warehouse_with(tmp_path, [tx(f"H{i}", "C-burst", 10.0, at=START, seconds=i) for i in range(3)])
    report = remote.warm_start(database)
    assert report.transactions_kept == 3 and report.source.startswith("core.transactions")
    decided = _decided(remote.score_arrays(_columns([tx("NEXT", "C-burst", 10.0, at=START, seconds=4)])))
    assert decided[0][2] == ["VELOCITY"]


def test_a_broken_model_is_reported_through_the_control_channel(tmp_path, remote):
    models = tmp_path / "models"
    (models / "fraud" / "v9").mkdir(parents=True)
    (models / "fraud" / "CURRENT").write_text("v9\n")
    assert remote.prepare_reload() is None
    assert "v9" in remote.last_reload_error
    remote.adopt_pending()
    assert _decided(remote.score_arrays(_columns([tx("X", amount=900.0, at=START)])))[0][0] == "review"


def test_an_error_in_the_child_is_raised_in_the_service_and_the_child_goes_on(remote):
    with pytest.raises(ScoringProcessError, match="KeyError"):
        remote.score_arrays({"customer_id": np.array(["C1"], dtype=object), "merchant_id": np.array(["M1"], dtype=object),
                             "event_us": np.array([0])})  # columns missing: the engine refuses
    assert _decided(remote.score_arrays(_columns([tx("OK", at=START)])))[0][0] == "approve"


def test_a_dead_child_fails_every_later_micro_batch_loudly(remote):
    os.kill(remote.process_status["processes"][-1]["pid"], signal.SIGKILL)
    with pytest.raises(ScoringProcessError, match="exited"):
        remote.score_arrays(_columns([tx("LOST", at=START), tx("LOST2", "C2", at=START)]))
    status = remote.process_status
    dead = status["processes"][-1]
    assert status["alive"] is False and dead["exit_code"] == -signal.SIGKILL and "exited" in dead["error"]
    with pytest.raises(ScoringProcessError):  # and the next one too: no shard scores alone
        remote.score_arrays(_columns([tx("LOST3", at=START)]))


def test_the_service_with_a_scoring_process_acknowledges_lands_and_stops_its_child(data_dir):
    config = ServiceConfig(data_dir=data_dir, batch_window_ms=1.0, rotate_seconds=0.2, scoring_processes=2)
    now = datetime.now(timezone.utc) - timedelta(seconds=30)
    with TestClient(create_app(config)) as client:
        high = client.post("/v1/transactions", json=tx("HV1", "C-high", 950.0, at=now)).json()
        burst = client.post("/v1/transactions/batch",
                            json=[tx(f"V{i}", "C-burst", 10.0, at=now, seconds=i) for i in range(5)]).json()
        health = client.get("/health").json()
        children = health["window_state"]["scoring_processes"]
    assert high["decision"] == "review" and high["rule_ids"] == ["HIGH_VALUE"]
    assert [r["decision"] for r in burst["results"]] == ["approve"] * 3 + ["review"] * 2
    assert health["status"] == "ok" and len(children) == 2 and health["decided"] == 6
    assert all(child["alive"] for child in children)
    landed = [line for f in (data_dir / "landing" / "transactions").rglob("*.jsonl") for line in f.read_text().splitlines()]
    assert len(landed) == 6
    for child in children:
        with pytest.raises(ProcessLookupError):  # stopped with the service, and reaped
            os.kill(child["pid"], 0)


def test_a_dead_scoring_process_means_503_and_nothing_acknowledged_until_it_is_replaced(data_dir):
    # reload_seconds: the service's own loop would replace the child within 5 s; here the test does it
    config = ServiceConfig(data_dir=data_dir, batch_window_ms=1.0, rotate_seconds=0.2, scoring_processes=1,
                           reload_seconds=3600.0)
    with TestClient(create_app(config)) as client:
        before = client.post("/v1/transactions/batch",
                             json=[tx(f"B{i}", "C-burst", 10.0, seconds=i) for i in range(3)])
        pid = client.get("/health").json()["window_state"]["scoring_processes"][0]["pid"]
        os.kill(pid, signal.SIGKILL)
        answer = client.post("/v1/transactions", json=tx("LOST", "C1"))
        health = client.get("/health").json()
        again = client.post("/v1/transactions", json=tx("LOST", "C1"))  # not acknowledged: no 409 on resend
        state = client.app.state.service
        assert client.portal.call(revive_scoring, state) == 1
        revived = client.get("/health").json()
        resent = client.post("/v1/transactions", json=tx("LOST", "C1"))
        assert client.portal.call(revive_scoring, state) == 0  # nothing dead: nothing to do
    assert before.status_code == 200
    assert answer.status_code == 503 and answer.json()["landed"] is False
    assert again.status_code == 503
    assert health["status"] == "scoring_process_down"
    assert revived["status"] == "ok" and revived["window_state"]["scoring_processes_revived"] == 1
    assert revived["window_state"]["scoring_processes"][0]["pid"] != pid
    assert resent.status_code == 200 and resent.json()["decision"] == "approve"
    landed = [line for f in (data_dir / "landing" / "transactions").rglob("*.jsonl") for line in f.read_text().splitlines()]
    assert sum('"LOST"' in line for line in landed) == 1  # the two 503s landed nothing; the resend landed once


def test_serve_takes_the_number_of_scoring_processes():
    from fintech_dataops.cli import build_parser

    from fintech_dataops.commands.realtime import scoring_processes

    assert build_parser().parse_args(["serve", "--scoring-processes", "2"]).scoring_processes == 2
    assert scoring_processes(build_parser().parse_args(["serve", "--scoring-processes", "0"]).scoring_processes) == 0
    default = build_parser().parse_args(["serve"]).scoring_processes
    assert scoring_processes(default) == (1 if (os.cpu_count() or 1) >= 2 else 0)
    with pytest.raises(ValueError, match="scoring_processes"):
        ServiceConfig(data_dir=".", scoring_processes=-1)


def test_shards_split_customers_stably_and_evenly():
    customers = np.array([f"C{i:06d}" for i in range(10_000)], dtype=object)
    shard = customer_shards(customers, 2)
    assert set(shard.tolist()) == {0, 1} and abs(int(shard.sum()) - 5_000) < 300
    assert customer_shards(customers[::-1], 2).tolist() == shard[::-1].tolist()  # by id, not position
