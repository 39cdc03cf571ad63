"""The replay's lean HTTP/1.1 client: what it sends and how it reads the answers (a loopback server)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from fintech_dataops.lib.realtime.replay import ReplayConfig, _Connections, _Stream, replay


async def _server(answers: list[bytes], seen: list[bytes]):
    """Answers each request on a connection with the next of ``answers``; records what it read."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                seen.append(head + await reader.readexactly(length))
                answer = answers.pop(0)
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    break
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


def test_content_length_chunked_and_closed_answers_on_kept_alive_connections():
    answers = [
        b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\ncontent-type: application/json\r\n\r\n{\"a\":1}",
        b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"b\"\r\n3\r\n:2}\r\n0\r\n\r\n",
        b"HTTP/1.1 409 Conflict\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    ]
    seen: list[bytes] = []

    async def scenario():
        server = await _server(answers, seen)
        port = server.sockets[0].getsockname()[1]
        client = _Connections(f"http://127.0.0.1:{port}", "/v1/transactions/batch",
                              {"Content-Type": "application/json", "X-API-Key": "k"}, timeout_s=5)
        try:
            out = [await client.post(b'[{"x":1}]') for _ in range(3)]
            idle_after = len(client._idle)
        finally:
            await client.aclose()
            server.close()
            await server.wait_closed()
        return out, idle_after

    out, idle_after = asyncio.run(scenario())
    assert out == [(200, b'{"a":1}'), (503, b'{"b":2}'), (409, b"{}")]
    assert idle_after == 0  # the connection the server closed is not reused
    first = seen[0]
    assert first.startswith(b"POST /v1/transactions/batch HTTP/1.1\r\n")
    assert b"\r\nX-API-Key: k\r\n" in first and b"\r\nContent-Length: 9\r\n\r\n" in first
    assert first.endswith(b'[{"x":1}]')


def test_bodies_are_distinct_records_stamped_when_sent():
    stream = _Stream([{"transaction_id": "T1", "customer_id": "C1", "amount": 1.5},
                      {"transaction_id": "T2", "customer_id": "C2", "amount": 2.5}], run_tag="r")
    body = stream.take_body(3, batch=True)
    stamped = orjson.loads(body.replace(b"@@REPLAY-SEND-TIME@@", b"2026-01-01T00:00:00.000000Z"))
    assert [r["transaction_id"] for r in stamped] == ["T1-r-0", "T2-r-0", "T1-r-1"]
    assert [r["customer_id"] for r in stamped] == ["C1", "C2", "C1-1"]  # the second lap: new customers
    assert {r["event_time"] for r in stamped} == {"2026-01-01T00:00:00.000000Z"}
    single = orjson.loads(stream.take_body(1, batch=False).replace(b"@@REPLAY-SEND-TIME@@", b"t"))
    assert single["transaction_id"] == "T2-r-1" and single["event_time"] == "t"


def test_warm_laps_give_each_pass_to_the_days_real_customers_rotated():
    records = [{"transaction_id": f"T{i}", "customer_id": c, "amount": 1.0} for i, c in enumerate(["C2", "C1", "C3"])]
    stream = _Stream(records, run_tag="r", laps="warm")
    stamped = orjson.loads(stream.take_body(9, batch=True).replace(b"@@REPLAY-SEND-TIME@@", b"t"))
    customers = [r["customer_id"] for r in stamped]
    assert customers[:3] == ["C2", "C1", "C3"]  # the first pass: the real customers
    assert customers[3:6] == ["C3", "C2", "C1"]  # then each record goes to the next customer in sorted order
    assert customers[6:] == ["C1", "C3", "C2"]
    assert len({r["transaction_id"] for r in stamped}) == 9


def test_simulated_event_times_keep_each_records_time_and_shift_each_pass_a_day():
    import pandas as pd

    records = [{"transaction_id": "T1", "customer_id": "C1", "amount": 1.0,
                "event_time": pd.Timestamp("2026-03-01 08:00:00.25", tz="UTC")},
               {"transaction_id": "T2", "customer_id": "C2", "amount": 2.0, "event_time": "2026-03-01T21:30:00Z"}]
    stream = _Stream(records, run_tag="r", laps="warm", event_times="simulated")
    body = stream.take_body(5, batch=True)
    assert b"@@REPLAY-SEND-TIME@@" not in body  # nothing is stamped at send time
    sent = orjson.loads(body)
    assert [r["event_time"] for r in sent] == [
        "2026-03-01T08:00:00.250000Z", "2026-03-01T21:30:00.000000Z",
        "2026-03-02T08:00:00.250000Z", "2026-03-02T21:30:00.000000Z", "2026-03-03T08:00:00.250000Z"]
    assert [r["customer_id"] for r in sent] == ["C1", "C2", "C2", "C1", "C1"]
    with pytest.raises(ValueError, match="event_time"):
        _Stream([{"transaction_id": "T1", "customer_id": "C1"}], run_tag="r", event_times="simulated")
    with pytest.raises(ValueError, match="event_times"):
        ReplayConfig(url="http://127.0.0.1:1", event_times="wall")


def test_repeat_laps_keep_each_customer_and_move_their_day_on():
    records = [{"transaction_id": "T1", "customer_id": "C2", "amount": 1.0, "event_time": "2026-03-01T10:00:00Z"},
               {"transaction_id": "T2", "customer_id": "C1", "amount": 1.0, "event_time": "2026-03-01T11:00:00Z"}]
    stream = _Stream(records, run_tag="r", laps="repeat", event_times="simulated", first_event=3)
    sent = orjson.loads(stream.take_body(3, batch=True))
    assert [r["customer_id"] for r in sent] == ["C1", "C2", "C1"]
    assert [r["event_time"][:13] for r in sent] == ["2026-03-02T11", "2026-03-03T10", "2026-03-03T11"]
    assert [r["transaction_id"] for r in sent] == ["T2-r-1", "T1-r-2", "T2-r-2"]


def test_passes_needed_counts_the_passes_a_replay_sends_and_the_day_goes_that_far_back():
    from datetime import date, timedelta

    from fintech_dataops.lib.realtime.replay import passes_needed, simulated_records

    config = ReplayConfig(url="http://127.0.0.1:1", eps=1000, seconds=10, batch_size=100)  # 10,000 events
    assert passes_needed(config, 10_000) == 1 and passes_needed(config, 9_999) == 2
    assert passes_needed(ReplayConfig(url="http://127.0.0.1:1", eps=1000, seconds=10, first_event=5_000), 5_000) == 3
    records = simulated_records(200, seed=3, days_back=4)
    assert {r["event_time"].date() for r in records} == {date.today() - timedelta(days=4)}
    times = [r["event_time"] for r in records]
    assert times == sorted(times)


def test_replay_laps_must_be_known():
    import pytest

    from fintech_dataops.lib.realtime.replay import ReplayConfig

    with pytest.raises(ValueError, match="laps"):
        ReplayConfig(url="http://127.0.0.1:1", laps="tepid")


def test_refused_connections_are_counted_as_errors_not_raised():
    import socket

    with socket.socket() as unused:  # a loopback port nothing listens on
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}"
        report = replay(ReplayConfig(url=url, eps=200, seconds=0.05, batch_size=5),
                        [{"transaction_id": "T1", "customer_id": "C1"}])
    assert report["acknowledged_events"] == 0 and report["sent_events"] == report["requests"] * 5
    assert sum(report["errors"].values()) == report["requests"] >= 1


def test_only_plain_http_urls():
    with pytest.raises(ValueError, match="http://"):
        _Connections("https://example.org", "/v1/transactions", {}, timeout_s=1)
