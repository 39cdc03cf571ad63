"""Micro-batching: requests arriving within a few milliseconds share one scoring call.

A model call costs about the same for 1 or 1,000 rows, so the service queues
requests and a single worker scores whatever has arrived: when idle it waits at
most ``window_ms`` for company; under load the queue fills while the previous
batch is being scored, so batches grow with the load and latency stays flat.
One worker thread does all scoring, which keeps the per-customer window state
single-threaded. With a ``commit`` step (the service's WAL append + fsync), a
second thread commits the scored micro-batches one after the other, in order, while
the scorer goes on with the next: the fsync (about 1 ms, tens of ms when the disk
is busy) no longer holds up the scoring of what arrived meanwhile. A request is
answered only when its own micro-batch is committed; at most ``max_uncommitted``
scored micro-batches wait for their commit before the scorer waits too.
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
    """Collects submissions and hands them to ``process(list[payload])`` in one thread (the scorer);
    with ``commit``, its output goes on to ``commit`` in a second thread, micro-batch by micro-batch."""

    def __init__(self, process: Callable[[list], object], *, window_ms: float = 2.0, max_events: int = 20_000,
                 max_queued: int = 10_000, max_queued_events: int | None = None,
                 initializer: Callable[[], None] | None = None,
                 commit: Callable[[object], list] | None = None, max_uncommitted: int = 2):
        """``process(payloads)`` returns one result per payload, or, with ``commit``, what
        ``commit`` turns into them (on its own thread, in micro-batch order)."""
        if max_uncommitted < 1:
            raise ValueError("max_uncommitted must be at least 1")
        self._process = process
        self._commit = commit
        self.max_uncommitted = max_uncommitted
        self._uncommitted: deque[asyncio.Future] = deque()
        self._committer = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="wal-writer")
                           if commit is not None else None)
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
            await self._await_commits(self.max_uncommitted - 1)  # the WAL is behind: wait for it
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
        await self._await_commits(0)  # stopping: every scored micro-batch is committed (or failed) first

    async def _await_commits(self, at_most: int) -> None:
        """Until at most ``at_most`` scored micro-batches wait for their commit (they finish in order)."""
        while True:
            while self._uncommitted and self._uncommitted[0].done():
                self._uncommitted.popleft()
            if len(self._uncommitted) <= at_most:
                return
            await asyncio.wait([self._uncommitted[0]])

    def _score_then_commit(self, payloads: list):
        """On the scoring thread: score, then queue the commit on the WAL writer at once (a thread
        hand-off: the commit does not wait for the event loop to wake, which may be busy parsing
        a request). The WAL writer is one thread, so commits stay in micro-batch order."""
        return self._committer.submit(self._commit, self._process(payloads))

    async def _dispatch(self, loop, batch: list[Submission], events: int) -> None:
        started = loop.time()
        payloads = [s.payload for s in batch]
        try:
            if self._commit is None:
                results = await loop.run_in_executor(self._executor, self._process, payloads)
            else:
                handed_off = await loop.run_in_executor(self._executor, self._score_then_commit, payloads)
        except Exception as exc:  # the whole batch failed: every caller gets the error
            self._fail(batch, exc)
            return
        if self._commit is None:
            self._answer(loop, batch, events, started, results)
            return
        committing = asyncio.wrap_future(handed_off, loop=loop)
        self._uncommitted.append(committing)

        def committed(future: asyncio.Future) -> None:
            if future.cancelled():
                self._fail(batch, RuntimeError("the service is shutting down: resend"))
            elif future.exception() is not None:  # e.g. the WAL disk: nothing of the batch is acknowledged
                self._fail(batch, future.exception())
            else:
                self._answer(loop, batch, events, started, future.result())

        committing.add_done_callback(committed)

    @staticmethod
    def _fail(batch: list[Submission], exc: BaseException) -> None:
        for s in batch:
            if not s.future.done():
                s.future.set_exception(exc)

    def _answer(self, loop, batch: list[Submission], events: int, started: float, results: list) -> None:
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
        if self._committer is not None:
            self._committer.shutdown(wait=True)

    def run_in_worker(self, func: Callable, *args):
        """Run ``func`` between batches, on the scoring thread (e.g. swap the model)."""
        return asyncio.get_running_loop().run_in_executor(self._executor, func, *args)
