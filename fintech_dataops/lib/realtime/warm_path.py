"""The warm near-real-time path: micro-batches processed where the code is already loaded.

A run per micro-batch pays, every time, a run queue, a process start, the import of
the code location and of scikit-learn, and the model load — seconds, before the
batch's own half second of work. This module does the same work
(:func:`nearline.process_batch`: raw stage, pandera quality gate, ``FraudEngine``,
idempotent writes) inside a long-lived process — the Dagster code server that
evaluates ``realtime_batch_sensor`` — with the engine loaded once and reused until a
new model version is published (:class:`EngineCache`).

:func:`drain` is one sensor evaluation: it processes the batches landed since the
cursor, oldest first, then keeps watching the landing zone (``watch_seconds``, well
inside the daemon's 5 s loop) so a batch that lands mid-evaluation is processed
within a poll interval instead of waiting for the next tick. The guarantees of the
per-run path hold:

- none missed: the cursor only moves past batches that were handled (processed, or
  handed to a run); a batch left when the time budget runs out is the next
  evaluation's first; an evaluation that crashes returns no cursor, so its batches
  are seen again;
- none twice: the writes are idempotent per batch (delete-then-insert on ``batch_id``),
  and with a fresh (lost) cursor the batches already in ``realtime.batch_latency``
  are skipped;
- when the warehouse is held by another writer for longer than ``lock_wait_seconds``
  (a daily run), or a batch fails, the batch is *deferred*: the sensor requests the
  per-run ``realtime_fraud_job`` for it (run key = batch key), which waits for its pool
  slot and shows any failure as a failed run.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fintech_dataops.lib import warehouse
from fintech_dataops.lib.realtime.landed_batches import (
    DEFAULT_GRACE_NS, BatchCursor, LandedBatchFile, advance, new_batches,
)
from fintech_dataops.lib.realtime.nearline import BatchResult, process_batch, processed_batches

log = logging.getLogger(__name__)

PATH_ENV = "FINTECH_NEARLINE_PATH"
WATCH_ENV = "FINTECH_NEARLINE_WATCH_SECONDS"
PATHS = ("warm", "run")


@dataclass(frozen=True)
class WarmPathSettings:
    """How one sensor evaluation drains the landing zone (defaults for ``realtime_batch_sensor``)."""

    path: str = "warm"            # "warm": processed in the sensor; "run": one realtime_fraud_job run per batch
    watch_seconds: float = 3.5    # keep watching for new batches this long (the daemon loops every 5 s)
    budget_seconds: float = 3.5   # start no new batch after this long (a backlog drains over several ticks)
    poll_seconds: float = 0.1     # landing-zone scan interval while watching
    lock_wait_seconds: float = 1.0  # then the batch goes to a run, which queues for the warehouse pool
    max_batches: int = 500        # scanned per look (the rest stay for the next one)

    @classmethod
    def from_env(cls) -> WarmPathSettings:
        """``FINTECH_NEARLINE_PATH=run`` switches back to one run per micro-batch (the benchmark's peer);
        ``FINTECH_NEARLINE_WATCH_SECONDS`` (0 = one look per tick; lower it when the daemon's
        sensors do not run on threads, ``sensors: use_threads``, so other sensors are not held up)."""
        path = os.environ.get(PATH_ENV, cls.path).strip().lower() or cls.path
        if path not in PATHS:
            raise ValueError(f"{PATH_ENV}={path!r}: expected one of {', '.join(PATHS)}")
        watch = os.environ.get(WATCH_ENV, "").strip()
        try:
            watch_seconds = float(watch) if watch else cls.watch_seconds
        except ValueError:
            raise ValueError(f"{WATCH_ENV}={watch!r}: expected seconds") from None
        if not 0 <= watch_seconds <= 4.5:
            raise ValueError(f"{WATCH_ENV}={watch_seconds}: expected 0 to 4.5 s (inside the daemon's 5 s loop)")
        return cls(path=path, watch_seconds=watch_seconds)


class EngineCache:
    """The ``FraudEngine`` with the CURRENT model, loaded once per (models dir, version).

    ``score_frame`` keeps no state between calls, so one engine serves every batch; a
    new CURRENT version (a retrain) is picked up at the next batch.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engines: dict[Path, tuple[str | None, object]] = {}
        self.loads = 0

    def get(self, models_dir: Path):
        from fintech_dataops.lib.fraud.model import current_version
        from fintech_dataops.lib.realtime.engine_host import engine_for

        key = Path(models_dir).resolve()
        version = current_version(key)
        with self._lock:
            cached = self._engines.get(key)
            if cached is not None and cached[0] == version:
                return cached[1]
            engine = engine_for(key)
            self._engines[key] = (version, engine)
            self.loads += 1
            return engine


ENGINES = EngineCache()


def prewarm(models_dir: Path, engines: EngineCache = ENGINES) -> None:
    """Load what a batch needs (the quality gate's pandera, the engine with its model) before the first
    batch lands, so no batch pays for the imports; a no-op (one small file read) once loaded."""
    import fintech_dataops.lib.quality.core_gate  # noqa: F401  (pandera and the schemas)

    engines.get(models_dir)


@dataclass
class DrainOutcome:
    processed: list[BatchResult] = field(default_factory=list)
    deferred: list[tuple[LandedBatchFile, str]] = field(default_factory=list)  # (batch, reason) → a run each
    skipped: list[str] = field(default_factory=list)  # already in realtime.batch_latency (fresh cursor)
    cursor: BatchCursor = field(default_factory=BatchCursor)
    looks: int = 0
    seconds: float = 0.0


def drain(database: str | Path, landing_dir: Path, models_dir: Path, cursor: BatchCursor, *,
          settings: WarmPathSettings = WarmPathSettings(), engines: EngineCache = ENGINES,
          grace_ns: int = DEFAULT_GRACE_NS, clock=time.monotonic, sleep=time.sleep) -> DrainOutcome:
    """Process the micro-batches landed since ``cursor`` (and those landing within ``watch_seconds``)."""
    started = clock()
    outcome = DrainOutcome(cursor=cursor)
    done: set[str] = set()
    if cursor.watermark_ns == 0:
        try:
            done = processed_batches(database, lock_wait_seconds=settings.lock_wait_seconds)
        except warehouse.WarehouseLockTimeout:
            done = set()  # the writes are idempotent: processing one again changes nothing
    warehouse_busy = False
    prewarm(models_dir, engines)
    while True:
        outcome.looks += 1
        fresh, _ = new_batches(landing_dir, outcome.cursor, grace_ns=grace_ns, max_batches=settings.max_batches)
        handled: list[LandedBatchFile] = []
        for batch in fresh:
            if clock() - started > settings.budget_seconds and handled:
                break  # over budget: the rest are the next evaluation's (never a batch half-handled)
            if batch.key in done:
                outcome.skipped.append(batch.key)
            elif warehouse_busy:
                outcome.deferred.append((batch, "warehouse busy"))
            else:
                try:
                    outcome.processed.append(process_batch(
                        database, landing_dir, models_dir, batch.key,
                        lock_wait_seconds=settings.lock_wait_seconds, engine=engines.get(models_dir)))
                except warehouse.WarehouseLockTimeout:
                    warehouse_busy = True  # no second wait in this evaluation: the rest go to runs
                    outcome.deferred.append((batch, "warehouse busy"))
                except Exception as exc:  # the run shows the failure in the UI with its stack trace
                    log.warning("micro-batch %s failed on the warm path (%s: %s): handed to a run",
                                batch.key, type(exc).__name__, exc)
                    outcome.deferred.append((batch, f"{type(exc).__name__}: {exc}"))
            handled.append(batch)
        outcome.cursor = advance(outcome.cursor, handled, grace_ns=grace_ns)
        if warehouse_busy or len(handled) < len(fresh) \
                or clock() - started + settings.poll_seconds > settings.watch_seconds:
            break
        sleep(settings.poll_seconds)
    outcome.seconds = clock() - started
    return outcome
