"""Keep the cyclic garbage collector's full passes off the request path.

The window state is millions of long-lived objects (a window per customer, lists of its
remembered transactions, merchant counters). CPython's full (generation 2) collection walks every
one of them: measured here at 10k EPS, a pass every few seconds paused the scorer
for up to 115 ms, which is most of the p99. The state holds no reference cycles
(it is freed by reference counting when evicted), so :func:`gc.freeze` (cheap: it splices
lists) moves what exists into the permanent generation about every second, between
two micro-batches, and the collector only ever looks at young objects. A full collection (unfreeze → collect → freeze) still runs every
``full_every_seconds`` so cyclic garbage that was frozen is reclaimed; that bounds
any such garbage to one period's worth.
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass, field


@dataclass
class HeapKeeper:
    full_every_seconds: float = 600.0
    freeze_every_seconds: float = 1.0
    full_collections: int = 0
    last_full_ms: float | None = None
    _last_full: float = field(default_factory=time.monotonic)
    _last_freeze: float = 0.0

    def tick(self) -> None:
        """After each micro-batch: settle when a freeze period has passed."""
        if time.monotonic() - self._last_freeze >= self.freeze_every_seconds:
            self.settle()

    def settle(self) -> None:
        """Freeze what exists now (after start-up and warm start, and every bounds period)."""
        now = time.monotonic()
        if now - self._last_full >= self.full_every_seconds:
            started = time.perf_counter()
            gc.unfreeze()
            gc.collect()
            self.last_full_ms = round((time.perf_counter() - started) * 1000.0, 3)
            self.full_collections += 1
            self._last_full = now
        gc.freeze()
        self._last_freeze = time.monotonic()

    def release(self) -> None:
        """Hand everything back to the collector (service shutdown; in-process tests go on normally)."""
        gc.unfreeze()

    @property
    def stats(self) -> dict:
        return {"frozen_objects": gc.get_freeze_count(), "full_collections": self.full_collections,
                "last_full_collection_ms": self.last_full_ms, "full_every_s": self.full_every_seconds}


@dataclass
class GilSlices:
    """A shorter GIL switch interval while the service runs (CPython's default is 5 ms).

    The service has two busy Python threads, the HTTP loop (parse, validate, answer) and the
    scoring thread (features, model, WAL). When one is in pure-Python code the other waits for
    the GIL until the interval forces a switch, and a request crosses threads three times
    (submitted, scored, answered): at 5 ms that is up to ~15 ms of waiting, mostly in the tail.
    Measured here with one CPU-bound thread against a loop handing 3 ms tasks to a worker: the
    wait beyond the work was p50 9-10 ms / p99 89-117 ms at 5 ms and p50 3-8 ms / p99 54-56 ms at
    1 ms (a loaded machine, load 13). ``seconds=None`` leaves the interpreter's setting alone.
    """

    seconds: float | None = 0.001
    _previous: float | None = None

    def apply(self) -> None:
        if self.seconds is not None and self._previous is None:
            self._previous = sys.getswitchinterval()
            sys.setswitchinterval(self.seconds)

    def restore(self) -> None:
        if self._previous is not None:
            sys.setswitchinterval(self._previous)
            self._previous = None
