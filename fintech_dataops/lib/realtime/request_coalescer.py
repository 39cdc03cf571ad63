"""Micro-batching: requests arriving within a few milliseconds share one scoring call.

A model call costs about the same for 1 or 1,000 rows, so the service queues
requests and a single worker scores whatever has arrived: when idle it waits at
most ``window_ms`` for company; under load the queue fills while the previous
batch is being scored, so batches grow with the load and latency stays flat.
One worker thread does all scoring and WAL writes, which keeps the per-customer
window state single-threaded and the WAL in arrival order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np


class Overloaded(RuntimeError):
    """More events are waiting than ``max_queued_events``: the request is refused, not queued."""

    def __init__(self, queued_events: int, limit: int):
        super().__init__(f"{queued_events:,} events are waiting to be scored (limit {limit:,})")
        self.queued_events = queued_events


@dataclass
class Submission:
    """One request's share of a micro-batch; ``payload`` is what ``process`` understands."""

    payload: object
    size: int
    future: asyncio.Future = field(repr=False, default=None)
    queued_at: float = 0.0  # loop time when submitted


@dataclass
class BatcherStats:
    batches: int = 0
    submissions: int = 0
    events: int = 0
    largest_batch: int = 0
    # per submission of the last 2,000: waiting (queued → its micro-batch starts) and scoring + logging
    # (that start → result); with the batch's phases this is where a request's time goes (/health)
    timings: deque = field(default_factory=lambda: deque(maxlen=2_000), repr=False)

    def timings_ms(self) -> dict:
        rows = list(self.timings)
        if not rows:
            return {"submissions": 0}
        table = np.asarray(rows, dtype="float64") * 1000.0
        out: dict = {"submissions": len(rows)}
        for k, name in enumerate(("queued", "processing")):
            p50, p99 = np.percentile(table[:, k], [50, 99])
            out[name] = {"p50": round(float(p50), 2), "p99": round(float(p99), 2), "max": round(float(table[:, k].max()), 2)}
        return out


class MicroBatcher:
    """Collects submissions and hands them to ``process(list[payload]) -> list[result]`` in one thread."""

    def __init__(self, process: Callable[[list], list], *, window_ms: float = 2.0, max_events: int = 20_000,
                 max_queued: int = 10_000, max_queued_events: int | None = None,
                 initializer: Callable[[], None] | None = None):
        self._process = process
        self.window_s = window_ms / 1000.0
        self.max_events = max_events
        self._queue: asyncio.Queue[Submission | None] | None = None
        self._max_queued = max_queued
        # Load shedding: past this many waiting events a request gets Overloaded (the service answers
        # 503 + Retry-After, nothing acknowledged) instead of a queue that grows into minutes of latency.
        self.max_queued_events = max_queued_events
        self.queued_events = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scorer", initializer=initializer)
        self._task: asyncio.Task | None = None
        self.stats = BatcherStats()

    def start(self) -> None:
        self._queue = asyncio.Queue(maxsize=self._max_queued)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    @property
    def queued(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    async def submit(self, payload: object, size: int = 1):
        """Queue ``payload`` and wait for its result (raises what ``process`` raised for its batch)."""
        if self._queue is None or self._task is None or self._task.done():
            raise RuntimeError("the scorer is not running (the service is shutting down)")
        if self.max_queued_events is not None and self.queued_events + size > self.max_queued_events \
                and self.queued_events > 0:
            raise Overloaded(self.queued_events, self.max_queued_events)
        loop = asyncio.get_running_loop()
        submission = Submission(payload=payload, size=size, future=loop.create_future(), queued_at=loop.time())
        self.queued_events += size
        await self._queue.put(submission)
        return await submission.future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            self.queued_events -= first.size
            batch, events = [first], first.size
            deadline = loop.time() + self.window_s
            while events < self.max_events:
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(self._queue.get(), remaining)
                    except asyncio.TimeoutError:
                        break
                if item is None:
                    stopping = True
                    break
                self.queued_events -= item.size
                batch.append(item)
                events += item.size
            await self._dispatch(loop, batch, events)

    async def _dispatch(self, loop, batch: list[Submission], events: int) -> None:
        started = loop.time()
        try:
            results = await loop.run_in_executor(self._executor, self._process, [s.payload for s in batch])
        except Exception as exc:  # the whole batch failed (e.g. the WAL disk): every caller gets the error
            for s in batch:
                if not s.future.done():
                    s.future.set_exception(exc)
            return
        finished = loop.time()
        for s, result in zip(batch, results):
            if not s.future.done():
                s.future.set_result(result)
            self.stats.timings.append((started - s.queued_at, finished - started))
        self.stats.batches += 1
        self.stats.submissions += len(batch)
        self.stats.events += events
        self.stats.largest_batch = max(self.stats.largest_batch, events)

    async def drain_and_stop(self) -> None:
        """Finish everything queued (graceful shutdown), then stop the worker."""
        if self._queue is None or self._task is None:
            return
        await self._queue.put(None)
        await self._task
        # Anything queued behind the stop marker was never scored, logged or acknowledged: say so.
        while not self._queue.empty():
            late = self._queue.get_nowait()
            if late is not None and not late.future.done():
                late.future.set_exception(RuntimeError("the service is shutting down: resend"))
        self._executor.shutdown(wait=True)

    def run_in_worker(self, func: Callable, *args):
        """Run ``func`` between batches, on the scoring thread (e.g. swap the model)."""
        return asyncio.get_running_loop().run_in_executor(self._executor, func, *args)
