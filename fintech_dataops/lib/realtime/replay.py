"""Load generator: stream simulator transactions into the decision service at a steady rate.

Open loop: request ``i`` is due at ``start + i * batch_size / eps`` whatever the
previous answers did, so a slow service shows up as latency (measured from the
moment a request was *due*, not from when the client got round to it — no
coordinated omission). Each replayed record gets ``event_time`` = its send time,
a fresh ``transaction_id`` and, from the second pass over the simulated day on,
fresh customer ids, so velocity windows behave like live traffic rather than a
compressed day (the first pass keeps the simulated ids, whose history a
warm-started service holds). With ``laps="warm"`` every pass goes to the day's real
customers instead, rotated (pass k gives a customer's transactions to the customer k
places on in the day's sorted list), so every event is scored against a warm-started
history — the production-like benchmark's setting: a customer with a history costs more
to score than a new one.
"""

from __future__ import annotations

import asyncio
import gc
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit

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
    laps: str = "fresh"  # customers of the passes after the first: "fresh" ids, or the day's "warm" ones rotated
    event_times: str = "send"  # each record's event_time: its "send" time, or its own "simulated" time
    first_event: int = 0  # where in the endless stream to start: a run continuing an earlier one passes its sent_events

    def __post_init__(self) -> None:
        if self.laps not in LAPS:
            raise ValueError(f"laps must be one of {', '.join(LAPS)}, not {self.laps!r}")
        if self.first_event < 0:
            raise ValueError(f"first_event must be >= 0, not {self.first_event}")
        if self.event_times not in EVENT_TIMES:
            raise ValueError(f"event_times must be one of {', '.join(EVENT_TIMES)}, not {self.event_times!r}")


LAPS = ("fresh", "warm", "repeat")  # "repeat": every pass keeps the day's own customers (with simulated times)
# "send": event_time = the moment the request goes out, so a simulated day is compressed into
# seconds of wall clock and each customer's payments arrive seconds apart (velocity and 1-hour
# windows see a day at once: most decisions become reviews). "simulated": each record keeps
# its simulated event time, pass k of the day shifted k days on, so every customer's windows
# see their real spacing while the service is offered the same rate — event time runs faster
# than the wall clock, as in a catch-up, and the decision mix is the simulated day's.
EVENT_TIMES = ("send", "simulated")


def _total_requests(config: ReplayConfig) -> int:
    return max(1, int(round(config.eps * config.seconds / config.batch_size)))


def passes_needed(config: ReplayConfig, day_records: int) -> int:
    """How many passes over a day of ``day_records`` records the replay sends (the first included)."""
    total = _total_requests(config) * config.batch_size
    return -(-(config.first_event + total) // max(1, day_records))


def simulated_records(customers: int, seed: int, days_back: int = 1) -> list[dict]:
    """One simulated day of transactions, ``days_back`` days ago (clean records, event-time order, with
    their simulated ``event_time``). Replayed at simulated event times, pass k is that day + k: keep
    ``days_back`` at least the number of passes so no event is ahead of the clock (which the service refuses)."""
    from fintech_dataops.lib.simulator.world import SimulationConfig, simulate

    sim = simulate(SimulationConfig(start=date.today() - timedelta(days=days_back), days=1, customers=customers,
                                    seed=seed, malformed_rate=0.0))
    frame = sim.feeds["transactions"].sort_values("event_time", kind="stable")
    records = frame.to_dict("records")
    if not records:
        raise ValueError("the simulator produced no transactions: raise --customers")
    return records


_NOW = b"@@REPLAY-SEND-TIME@@"  # in a pre-encoded body: replaced by the send time (iso_utc) as it goes out


class _Stream:
    """Endless supply of distinct records cycling over the simulated day, as pre-encoded request bodies."""

    def __init__(self, records: list[dict], run_tag: str, laps: str = "fresh", event_times: str = "send",
                 first_event: int = 0):
        self.records = records
        self.run_tag = run_tag
        self.position = first_event
        self._times = None
        self._repeat = laps == "repeat"
        if event_times == "simulated":
            if any(r.get("event_time") is None for r in records):
                raise ValueError("event_times='simulated' needs an event_time on every record")
            self._times = [_utc(r["event_time"]) for r in records]
        self._customers = sorted({r["customer_id"] for r in records}) if laps == "warm" else None
        self._place = {c: i for i, c in enumerate(self._customers or ())}

    def take_body(self, n: int, *, batch: bool) -> bytes:
        """The JSON body of the next ``n`` records, ``event_time`` still :data:`_NOW` (set when sent)."""
        chunk = self._next(n)
        return orjson.dumps(chunk if batch else chunk[0])

    def _next(self, n: int) -> list[dict]:
        out = []
        records, count = self.records, len(self.records)
        for _ in range(n):
            lap, index = divmod(self.position, count)
            record = dict(records[index])
            record["transaction_id"] = f"{record['transaction_id']}-{self.run_tag}-{lap}"
            # The first pass keeps the real ids (warm-started history); "repeat" laps keep them on every pass.
            if lap and self._customers is not None:  # "warm" laps: another real customer, k places on
                customers = self._customers
                record["customer_id"] = customers[(self._place[record["customer_id"]] + lap) % len(customers)]
            elif lap and not self._repeat:  # "fresh" laps: new customers
                record["customer_id"] = f"{record['customer_id']}-{lap}"
            record["event_time"] = _NOW_TEXT if self._times is None else \
                iso_utc(self._times[index] + timedelta(days=lap))
            out.append(record)
            self.position += 1
        return out


_NOW_TEXT = _NOW.decode()


def _utc(value) -> datetime:
    """A record's event time (datetime, pandas Timestamp or ISO text) as an aware UTC datetime."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    if hasattr(moment, "to_pydatetime"):
        moment = moment.to_pydatetime()
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


class _HttpError(Exception):
    """The answer could not be read as HTTP/1.1."""


class _Connections:
    """A lean HTTP/1.1 keep-alive client on asyncio streams: one request at a time per connection.

    The load generator shares the cores with the service it measures; httpx spent about as
    much CPU per request as the service's own HTTP layer, so this sends pre-built request
    heads and reads ``Content-Length`` answers (or chunked ones) with no more work than that.
    """

    def __init__(self, url: str, path: str, headers: dict[str, str], timeout_s: float):
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"replay speaks plain HTTP/1.1 to the service: {url!r} is not an http:// URL")
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout_s = timeout_s
        lines = [f"POST {parts.path.rstrip('/')}{path} HTTP/1.1", f"Host: {parts.netloc}",
                 *(f"{k}: {v}" for k, v in headers.items())]
        self._head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._all: set[asyncio.StreamWriter] = set()

    async def post(self, body: bytes) -> tuple[int, bytes]:
        connection = self._idle.pop() if self._idle else await self._open()
        reader, writer = connection
        try:
            writer.write(self._head + str(len(body)).encode() + b"\r\n\r\n" + body)
            status, content, keep = await asyncio.wait_for(self._answer(reader), self.timeout_s)
        except BaseException:
            self._close(writer)
            raise
        if keep:
            self._idle.append(connection)
        else:
            self._close(writer)
        return status, content

    async def _open(self):
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout_s)
        self._all.add(writer)
        return reader, writer

    @staticmethod
    async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, _, header_block = head.partition(b"\r\n")
        fields = status_line.split(b" ", 2)
        if len(fields) < 2 or not fields[0].startswith(b"HTTP/1.") or not fields[1].isdigit():
            raise _HttpError(f"not an HTTP/1.1 answer: {status_line[:80]!r}")
        headers = {}
        for line in header_block.split(b"\r\n"):
            name, sep, value = line.partition(b":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # no trailers from the service
                    break
                parts.append(await reader.readexactly(size + 2))
            content = b"".join(p[:-2] for p in parts)
        else:
            length = headers.get(b"content-length")
            if length is None or not length.isdigit():
                raise _HttpError("answer without Content-Length")
            content = await reader.readexactly(int(length))
        keep = headers.get(b"connection", b"").lower() != b"close"
        return int(fields[1]), content, keep

    def _close(self, writer: asyncio.StreamWriter) -> None:
        self._all.discard(writer)
        writer.close()

    async def aclose(self) -> None:
        writers, self._all, self._idle = list(self._all), set(), []
        for writer in writers:
            writer.close()
        for writer in writers:
            with suppress(OSError, asyncio.TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)


def percentiles(values_ms: list[float] | np.ndarray) -> dict:
    if len(values_ms) == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    arr = np.asarray(values_ms, dtype="float64")
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3), "p99": round(float(p99), 3),
            "max": round(float(arr.max()), 3), "mean": round(float(arr.mean()), 3)}


async def _replay(config: ReplayConfig, records: list[dict], stop=None) -> dict:
    batch = config.batch_size > 1
    path = "/v1/transactions/batch" if batch else "/v1/transactions"
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["X-API-Key"] = config.api_key
    interval = config.batch_size / config.eps
    total_requests = _total_requests(config)
    stream = _Stream(records, run_tag=f"{int(time.time() * 1000):x}", laps=config.laps,
                     event_times=config.event_times, first_event=config.first_event)
    latencies: list[float] = []
    event_latencies: list[tuple[float, int]] = []
    decisions = {"approve": 0, "review": 0, "block": 0}
    errors: dict[str, int] = {}
    acked = sent = late_sends = 0
    gate = asyncio.Semaphore(config.max_in_flight)
    timeline: list[tuple[float, float]] = []  # (due, latency ms) per answered request
    client = _Connections(config.url, path, headers, config.timeout_s)

    async def send(due: float, body: bytes, n: int) -> None:
        nonlocal acked
        try:
            status, content = await client.post(body)
            finished = time.perf_counter()
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1
                return
            payload = orjson.loads(content)
            results = payload["results"] if batch else [payload]
            for r in results:
                decisions[r["decision"]] = decisions.get(r["decision"], 0) + 1
            acked += len(results)
            latency = (finished - due) * 1000.0
            latencies.append(latency)
            event_latencies.append((latency, len(results)))
            timeline.append((due, latency))
        except (OSError, EOFError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError, KeyError, TypeError, _HttpError) as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        finally:
            gate.release()

    tasks = []
    cpu_start = time.process_time()  # the client shares the machine: report what it cost
    start = time.perf_counter() + 0.05
    try:
        for i in range(total_requests):
            due = start + i * interval
            # Built before its due time (only the send time is filled in when it goes out), so
            # encoding is not counted as the service's latency.
            body = stream.take_body(config.batch_size, batch=batch)
            delay = due - time.perf_counter()
            while delay > 0 and not (stop is not None and stop.is_set()):
                await asyncio.sleep(min(delay, 0.1))  # a stop request is seen within 0.1 s
                delay = due - time.perf_counter()
            if stop is not None and stop.is_set():
                break  # stopped early: no new request; those in flight are awaited below
            if delay < -interval:
                late_sends += 1
            await gate.acquire()
            body = body.replace(_NOW, iso_utc(datetime.now(timezone.utc)).encode())
            sent += config.batch_size if batch else 1
            tasks.append(asyncio.create_task(send(due, body, config.batch_size)))
        await asyncio.gather(*tasks)
    finally:
        await client.aclose()
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
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(_replay(config, records, stop))
    finally:
        gc.unfreeze()


def _loop_factory():
    """uvloop when installed (uvicorn's own choice for the service): less CPU per request for the client too."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
