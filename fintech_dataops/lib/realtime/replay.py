"""Load generator: stream simulator transactions into the decision service at a steady rate.

Open loop: request ``i`` is due at ``start + i * batch_size / eps`` whatever the
previous answers did, so a slow service shows up as latency (measured from the
moment a request was *due*, not from when the client got round to it — no
coordinated omission). Each replayed record gets ``event_time`` = its send time,
a fresh ``transaction_id`` and, from the second pass over the simulated day on,
fresh customer ids, so velocity windows behave like live traffic rather than a
compressed day (the first pass keeps the simulated ids, whose history a
warm-started service holds).
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np
import orjson

from fintech_dataops.lib.realtime.scoring_thread import iso_utc


@dataclass(frozen=True)
class ReplayConfig:
    url: str
    eps: float = 1000.0
    seconds: float = 10.0
    batch_size: int = 100
    customers: int = 20_000
    seed: int = 7
    max_in_flight: int = 512
    api_key: str | None = None
    timeout_s: float = 30.0


def simulated_records(customers: int, seed: int) -> list[dict]:
    """One simulated day of transactions (clean records, event-time order)."""
    from fintech_dataops.lib.simulator.world import SimulationConfig, simulate

    sim = simulate(SimulationConfig(start=date.today() - timedelta(days=1), days=1, customers=customers,
                                    seed=seed, malformed_rate=0.0))
    frame = sim.feeds["transactions"].drop(columns=["event_time"])
    records = frame.to_dict("records")
    if not records:
        raise ValueError("the simulator produced no transactions: raise --customers")
    return records


class _Stream:
    """Endless supply of distinct records cycling over the simulated day."""

    def __init__(self, records: list[dict], run_tag: str):
        self.records = records
        self.run_tag = run_tag
        self.position = 0

    def take(self, n: int, now: datetime) -> list[dict]:
        stamp = iso_utc(now)
        out = []
        for _ in range(n):
            lap, index = divmod(self.position, len(self.records))
            record = dict(self.records[index])
            record["transaction_id"] = f"{record['transaction_id']}-{self.run_tag}-{lap}"
            if lap:  # the first pass keeps the real ids: a warm-started service knows their history
                record["customer_id"] = f"{record['customer_id']}-{lap}"
            record["event_time"] = stamp
            out.append(record)
            self.position += 1
        return out


def percentiles(values_ms: list[float] | np.ndarray) -> dict:
    if len(values_ms) == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    arr = np.asarray(values_ms, dtype="float64")
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3), "p99": round(float(p99), 3),
            "max": round(float(arr.max()), 3), "mean": round(float(arr.mean()), 3)}


async def _replay(config: ReplayConfig, records: list[dict], stop=None) -> dict:
    import httpx

    batch = config.batch_size > 1
    path = "/v1/transactions/batch" if batch else "/v1/transactions"
    headers = {"content-type": "application/json"}
    if config.api_key:
        headers["x-api-key"] = config.api_key
    interval = config.batch_size / config.eps
    total_requests = max(1, int(round(config.eps * config.seconds / config.batch_size)))
    stream = _Stream(records, run_tag=f"{int(time.time() * 1000):x}")
    latencies: list[float] = []
    event_latencies: list[tuple[float, int]] = []
    decisions = {"approve": 0, "review": 0, "block": 0}
    errors: dict[str, int] = {}
    acked = sent = late_sends = 0
    gate = asyncio.Semaphore(config.max_in_flight)
    timeline: list[tuple[float, float]] = []  # (due, latency ms) per answered request

    async def send(client, due: float, body: bytes, n: int) -> None:
        nonlocal acked
        try:
            response = await client.post(path, content=body, headers=headers)
            finished = time.perf_counter()
            if response.status_code != 200:
                errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
                return
            payload = orjson.loads(response.content)
            results = payload["results"] if batch else [payload]
            for r in results:
                decisions[r["decision"]] = decisions.get(r["decision"], 0) + 1
            acked += len(results)
            latency = (finished - due) * 1000.0
            latencies.append(latency)
            event_latencies.append((latency, len(results)))
            timeline.append((due, latency))
        except httpx.HTTPError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        finally:
            gate.release()

    limits = httpx.Limits(max_connections=config.max_in_flight, max_keepalive_connections=config.max_in_flight)
    async with httpx.AsyncClient(base_url=config.url, limits=limits, timeout=config.timeout_s) as client:
        tasks = []
        cpu_start = time.process_time()  # the client shares the machine: report what it cost
        start = time.perf_counter() + 0.05
        for i in range(total_requests):
            due = start + i * interval
            delay = due - time.perf_counter()
            while delay > 0 and not (stop is not None and stop.is_set()):
                await asyncio.sleep(min(delay, 0.1))  # a stop request is seen within 0.1 s
                delay = due - time.perf_counter()
            if stop is not None and stop.is_set():
                break  # stopped early: no new request; those in flight are awaited below
            if delay < -interval:
                late_sends += 1
            await gate.acquire()
            chunk = stream.take(config.batch_size, datetime.now(timezone.utc))
            body = orjson.dumps(chunk if batch else chunk[0])
            sent += len(chunk)
            tasks.append(asyncio.create_task(send(client, due, body, len(chunk))))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        client_cpu_s = time.process_time() - cpu_start
    per_event = np.repeat([lat for lat, _ in event_latencies], [n for _, n in event_latencies]) \
        if event_latencies else np.array([])
    return {
        "url": config.url, "target_eps": config.eps, "seconds": config.seconds, "batch_size": config.batch_size,
        "requests": len(tasks), "sent_events": sent, "stopped_early": bool(stop is not None and stop.is_set()), "acknowledged_events": acked,
        "elapsed_s": round(elapsed, 3), "sustained_eps": round(acked / elapsed, 1) if elapsed > 0 else 0.0,
        "late_sends": late_sends, "client_cpu_s": round(client_cpu_s, 3),
        "client_cpu_share_of_one_core": round(client_cpu_s / elapsed, 3) if elapsed > 0 else None, "errors": errors, "decisions": decisions,
        "latency_ms": percentiles(per_event),
        "request_latency_ms": percentiles(latencies),
        "p99_ms_per_5s": _timeline(timeline, start, 5.0),
        "percentiles_ms_per_5s": _timeline_percentiles(timeline, start, 5.0),
    }


def _timeline_percentiles(points: list[tuple[float, float]], start: float, bucket_s: float) -> list[dict | None]:
    """p50/p95/p99 request latency per ``bucket_s`` of send schedule (``None``: nothing answered in it)."""
    buckets: dict[int, list[float]] = {}
    for due, latency in points:
        buckets.setdefault(int(max(due - start, 0.0) // bucket_s), []).append(latency)
    out: list[dict | None] = []
    for b in range(max(buckets) + 1 if buckets else 0):
        if b not in buckets:
            out.append(None)
            continue
        p50, p95, p99 = np.percentile(buckets[b], [50, 95, 99])
        out.append({"p50": round(float(p50), 1), "p95": round(float(p95), 1), "p99": round(float(p99), 1)})
    return out


def _timeline(points: list[tuple[float, float]], start: float, bucket_s: float) -> list[float | None]:
    """p99 request latency per ``bucket_s`` of send schedule: shows when a run degrades, not only that it did."""
    if not points:
        return []
    buckets: dict[int, list[float]] = {}
    for due, latency in points:
        buckets.setdefault(int(max(due - start, 0.0) // bucket_s), []).append(latency)
    return [round(float(np.percentile(buckets[b], 99)), 1) if b in buckets else None
            for b in range(max(buckets) + 1)]


def replay(config: ReplayConfig, records: list[dict] | None = None, stop=None) -> dict:
    """Run the replay and return its report (sustained EPS, latency percentiles send → decision).

    ``stop`` (a ``threading.Event``): once set, no new request is sent; the ones in flight are
    awaited and the report covers what was sent (``stopped_early``).
    """
    if config.eps <= 0 or config.seconds <= 0 or config.batch_size < 1:
        raise ValueError("eps and seconds must be > 0 and batch_size >= 1")
    records = records if records is not None else simulated_records(config.customers, config.seed)
    # The client measures from each request's due time, so its own pauses count as latency: keep
    # the cyclic collector off what exists now (the records, whatever the caller holds).
    gc.collect()
    gc.freeze()
    try:
        return asyncio.run(_replay(config, records, stop))
    finally:
        gc.unfreeze()
