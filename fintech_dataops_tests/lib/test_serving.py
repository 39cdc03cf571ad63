"""lib/serving.py: stop requests survive code that swallows an interrupt."""

from __future__ import annotations

import os
import signal
import time

from fintech_dataops.lib.serving import insist_on_interrupts


def test_a_swallowed_interrupt_is_delivered_again_until_the_block_ends():
    seen: list[int] = []

    def swallow(signum, frame):  # like an interrupt turned into an ordinary, handled error
        seen.append(signum)

    previous = {sig: signal.signal(sig, swallow) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with insist_on_interrupts(period=0.05):
            os.kill(os.getpid(), signal.SIGTERM)
            deadline = time.monotonic() + 60
            while seen.count(signal.SIGINT) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
        after = len(seen)
        time.sleep(0.3)  # (no assertion on durations: only that nothing more arrives once the block is left)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert seen[0] == signal.SIGTERM and seen.count(signal.SIGINT) >= 3
    assert len(seen) == after


def test_nothing_is_redelivered_without_a_signal():
    seen: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        with insist_on_interrupts(period=0.01):
            time.sleep(0.2)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == []
