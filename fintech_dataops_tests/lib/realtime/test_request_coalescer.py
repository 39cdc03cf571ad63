"""The micro-batcher with a commit step: the next micro-batch is scored while the previous one's
commit (the service's WAL fsync) runs, commits keep micro-batch order, and nothing is answered
before its own commit returns."""

from __future__ import annotations

import asyncio
import threading

import pytest

from fintech_dataops.lib.realtime.request_coalescer import MicroBatcher

WAIT = 60.0  # bound on waiting for another thread; the test ends as soon as the event happens


async def until(condition) -> None:
    """Wait (bounded) until ``condition()`` holds: a step of another thread happened."""
    for _ in range(int(WAIT / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("timed out")


class Recorder:
    def __init__(self, fail: set[str] = frozenset()):
        self.scored: list[list[str]] = []
        self.committed: list[list[str]] = []
        self.release = {}  # payload -> threading.Event its commit waits for
        self.scoring_started = threading.Event()
        self.fail = fail

    def score(self, payloads: list[str]) -> list[str]:
        self.scored.append(list(payloads))
        if len(self.scored) >= 2:
            self.scoring_started.set()
        return list(payloads)

    def started_batcher(self, **options) -> MicroBatcher:
        """A running batcher that scores and commits through this recorder (call inside the loop)."""
        batcher = MicroBatcher(self.score, commit=self.commit, window_ms=0.0, **options)
        batcher.start()
        return batcher

    def commit(self, scored: list[str]) -> list[str]:
        for payload in scored:
            gate = self.release.get(payload)
            if gate is not None:
                assert gate.wait(WAIT)
        self.committed.append(scored)
        if self.fail & set(scored):
            raise OSError(28, "No space left on device")
        return [f"ok:{p}" for p in scored]


def test_the_next_batch_is_scored_while_the_previous_commit_waits_and_answers_wait_for_their_commit():
    recorder = Recorder()
    recorder.release["a"] = threading.Event()

    async def scenario():
        batcher = recorder.started_batcher()
        first = asyncio.ensure_future(batcher.submit("a"))
        await until(lambda: recorder.scored)  # "a" is its own micro-batch
        second = asyncio.ensure_future(batcher.submit("b"))
        # "b" is scored although "a"'s commit has not returned ...
        assert await asyncio.to_thread(recorder.scoring_started.wait, WAIT)
        assert not first.done() and not second.done()  # ... and nobody is answered before a commit
        recorder.release["a"].set()
        assert await first == "ok:a" and await second == "ok:b"
        await batcher.drain_and_stop()

    asyncio.run(scenario())
    assert recorder.scored == [["a"], ["b"]]
    assert recorder.committed == [["a"], ["b"]]  # commits in micro-batch order


def test_a_failed_commit_fails_only_its_batch_and_later_batches_are_answered():
    recorder = Recorder(fail={"bad"})

    async def scenario():
        batcher = recorder.started_batcher()
        with pytest.raises(OSError):
            await batcher.submit("bad")
        assert await batcher.submit("good") == "ok:good"
        await batcher.drain_and_stop()

    asyncio.run(scenario())


def test_shutdown_waits_for_every_scored_batch_to_be_committed():
    recorder = Recorder()
    recorder.release["slow"] = threading.Event()

    async def scenario():
        batcher = recorder.started_batcher()
        pending = asyncio.ensure_future(batcher.submit("slow"))
        await until(lambda: recorder.scored)
        stopping = asyncio.ensure_future(batcher.drain_and_stop())
        await asyncio.sleep(0.05)
        assert not stopping.done()  # held by the commit in flight
        recorder.release["slow"].set()
        await stopping
        assert await pending == "ok:slow"

    asyncio.run(scenario())
    assert recorder.committed == [["slow"]]


def test_at_most_max_uncommitted_batches_wait_for_the_wal():
    recorder = Recorder()
    for name in "abc":
        recorder.release[name] = threading.Event()

    async def scenario():
        batcher = recorder.started_batcher(max_uncommitted=2)
        answers = []
        for count, name in enumerate("ab", start=1):
            answers.append(asyncio.ensure_future(batcher.submit(name)))
            await until(lambda: len(recorder.scored) == count)
        answers.append(asyncio.ensure_future(batcher.submit("c")))
        await asyncio.sleep(0.1)
        # "a" committing, "b" scored and waiting: "c" is not scored until "a"'s commit returns.
        assert recorder.scored == [["a"], ["b"]]
        recorder.release["a"].set()
        await until(lambda: len(recorder.scored) == 3)
        recorder.release["b"].set()
        recorder.release["c"].set()
        assert [await a for a in answers] == ["ok:a", "ok:b", "ok:c"]
        await batcher.drain_and_stop()

    asyncio.run(scenario())
