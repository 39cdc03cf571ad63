"""The fraud engine in a process of its own, beside the HTTP process: scoring off its GIL.

In one process, the HTTP loop (parse, validate, acknowledge, answer) and the scoring thread
(windows, rules, model) share one interpreter lock, so the service can never use more than one
core: measured on a 2-vCPU AMD EPYC VM at 10k EPS of production-like traffic, 101-104 µs of CPU
per event, the lock saturated and the queue grew through each run (README, "Online service").
Here the engine, its window state and the model live in a child process; the service process
keeps everything that acknowledges (HTTP, the contract, the WAL and its fsync, the answers), so
nothing about durability changes: a micro-batch is answered only after its WAL fsync, in the
service process, exactly as before.

The child is ``python -m fintech_dataops.lib.realtime.scoring_process`` started with two
socket pairs (no ``multiprocessing`` start method re-importing the caller's ``__main__``):

- the **scoring** channel, used by the scoring thread only and served by the child's main
  thread, in order: ``score`` (a micro-batch's columns → its decision arrays), ``adopt_pending``,
  ``enforce_bounds``, ``warm_start`` (at start-up, before any scoring);
- the **control** channel, served by a thread of the child: ``prepare_reload`` and
  ``prepare_fx_reload`` load a new model / new reference rates while scoring goes on, as the
  in-process :class:`~.engine_host.EngineHost` does in a background thread.

Every answer carries the engine's status (model version, reloads, reference rates, window
state), so ``/health`` reads it without a round trip. The child ignores SIGINT/SIGTERM (the
service drains its queue through it on shutdown) and exits when its channels close — also when
the service process is killed. If a child dies, every later micro-batch fails with a
:class:`ScoringProcessError` (a ``RuntimeError``: the service answers 503, nothing is
acknowledged) and ``/health`` says so, until the service's reload loop replaces it
(:meth:`ScoringProcesses.revive`: a new child, warm-started from the warehouse as a restarted
service is); it never scores with an empty state in between.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
import zlib
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from fintech_dataops.lib.realtime.engine_host import WarmStartReport

# What the service's decision path reads of the engine's output (DecisionPipeline._decide); the
# columns it sent are not echoed back. ``model_version`` is per row: shards adopt a new model one
# after the other, and each decision names the model that made it.
DECISION_KEYS = ("decision", "risk_score", "model_score", "rule_ids", "reasons", "amount_reporting", "model_version")
START_TIMEOUT_SECONDS = 120.0
US_PER_DAY = 86_400_000_000


class ScoringProcessError(RuntimeError):
    """A scoring process failed an operation, or is gone."""


def customer_shards(customers: np.ndarray, count: int) -> np.ndarray:
    """Each customer's shard: CRC-32 of its id modulo ``count`` (the same in every process and after a
    restart, unlike Python's salted ``hash``)."""
    return np.fromiter((zlib.crc32(c.encode()) % count for c in customers.tolist()), dtype=np.int64,
                       count=len(customers))


class _Child:
    """One scoring process and its two channels."""

    def __init__(self, models_dir: Path, max_customers: int, shard: int, shards: int):
        parent_score, child_score = socket.socketpair()
        parent_control, child_control = socket.socketpair()
        fds = (child_score.fileno(), child_control.fileno())
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fintech_dataops.lib.realtime.scoring_process", str(fds[0]), str(fds[1]),
             str(models_dir), str(int(max_customers)), str(shard), str(shards)],
            pass_fds=fds, env=env, stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to the terminal's process group is the service's to handle
        )
        child_score.close()
        child_control.close()
        self.score = Connection(parent_score.detach())
        self.control = Connection(parent_control.detach())
        self.control_lock = threading.Lock()
        self.status: dict = {}
        self.error: str | None = None
        self.closed = False

    def gone(self) -> str:
        """The channel broke: the child is exiting (its sockets close before it is reaped)."""
        if self.error is None:
            try:
                code = self.process.wait(5.0)
            except subprocess.TimeoutExpired:
                code = None
            self.error = (f"the scoring process exited (code {code})" if code is not None else
                          "the scoring process closed its channel")
        return self.error

    def send(self, conn: Connection, op: str, *args) -> None:
        if self.closed:
            raise ScoringProcessError("the scoring process is stopped")
        try:
            conn.send((op, args))
        except OSError as exc:
            raise ScoringProcessError(self.gone()) from exc

    def receive(self, conn: Connection):
        try:
            kind, result, status = conn.recv()
        except (EOFError, OSError) as exc:
            raise ScoringProcessError(self.gone()) from exc
        if status is not None:
            self.status = status
        if kind == "error":
            raise ScoringProcessError(f"scoring process: {result}")
        return result

    @property
    def process_status(self) -> dict:
        code = self.process.poll()
        return {"pid": self.process.pid, "alive": code is None and self.error is None, "exit_code": code,
                "error": self.error}

    def stop(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.score.send(("stop", ()))
        except OSError:
            pass
        for conn in (self.score, self.control):
            conn.close()

    def wait(self, timeout_seconds: float) -> None:
        try:
            self.process.wait(timeout_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class ScoringProcesses:
    """:class:`~.engine_host.EngineHost`'s interface, served by ``count`` child processes.

    With more than one, each child holds the windows of the customers of its shard
    (:func:`customer_shards`) and scores them; a micro-batch is split by customer, its parts scored
    at the same time and the decisions put back in request order. Every child counts every row for
    the merchant windows (they are per merchant, across customers) and reads every label, so a
    decision is the one a single engine makes (``test_scoring_process``).

    ``score_arrays`` / ``adopt_pending`` / ``enforce_bounds`` / ``warm_start`` on the scoring
    thread (one caller at a time), ``prepare_reload`` / ``prepare_fx_reload`` from one other thread.
    """

    def __init__(self, models_dir: Path, *, count: int = 1, max_customers: int = 1_000_000,
                 start_timeout_seconds: float = START_TIMEOUT_SECONDS):
        if count < 1:
            raise ValueError(f"scoring processes must be at least 1, not {count}")
        self.models_dir = Path(models_dir)
        self._per_child_customers = -(-max_customers // count)
        self._start_timeout = start_timeout_seconds
        self._children: list[_Child] = []
        self._lock = threading.Lock()
        self.revived = 0  # dead children replaced (revive)
        try:
            for shard in range(count):
                self._children.append(_Child(self.models_dir, self._per_child_customers, shard, count))
            for child in self._children:
                self._await_start(child)
        except BaseException:
            self.close()
            raise

    def _await_start(self, child: _Child) -> None:
        if not child.score.poll(self._start_timeout):
            raise ScoringProcessError(f"a scoring process did not start within {self._start_timeout:g} s")
        child.receive(child.score)  # its first message: the status once the engine is built

    @property
    def needs_revival(self) -> bool:
        return any(not child.process_status["alive"] for child in self._children)

    def revive(self, database: Path, *, warm: bool = True, lookback_seconds: float | None = None,
               max_rows: int = 2_000_000) -> int:
        """Replace every dead child by a new one, warm-started from the warehouse as a restarted service
        is (the events acknowledged since the warehouse's last load are not in its windows until
        they reach core, as after a restart); returns how many. On the scoring thread, between
        micro-batches: until it returns, requests are answered 503 or wait."""
        revived = 0
        with self._lock:
            for shard, child in enumerate(self._children):
                if child.process_status["alive"]:
                    continue
                child.stop()
                child.wait(5.0)
                fresh = _Child(self.models_dir, self._per_child_customers, shard, len(self._children))
                try:
                    self._await_start(fresh)
                    if warm:
                        fresh.send(fresh.score, "warm_start", str(database), lookback_seconds, int(max_rows), 2.0)
                        fresh.receive(fresh.score)
                except BaseException:
                    fresh.stop()
                    fresh.wait(5.0)
                    raise
                self._children[shard] = fresh
                revived += 1
        self.revived += revived
        return revived

    # -- fan-out ---------------------------------------------------------------------------
    def _all(self, op: str, *args, control: bool = False, per_child=None) -> list:
        """``op`` on every child at once (each works in parallel), then every answer; raises the first
        failure after all answers are in, so no channel is left with an unread answer."""
        results, failure = [], None
        locks = [child.control_lock for child in self._children] if control else [self._lock]
        for lock in locks:
            lock.acquire()
        try:
            sent = []
            for k, child in enumerate(self._children):
                conn = child.control if control else child.score
                try:
                    child.send(conn, op, *(per_child(k) if per_child else args))
                    sent.append((child, conn))
                except ScoringProcessError as exc:
                    failure = failure or exc
                    sent.append((None, None))
            for child, conn in sent:
                if child is None:
                    results.append(None)
                    continue
                try:
                    results.append(child.receive(conn))
                except ScoringProcessError as exc:
                    failure = failure or exc
                    results.append(None)
        finally:
            for lock in locks:
                lock.release()
        if failure is not None:
            raise failure
        return results

    # -- EngineHost's interface -------------------------------------------------------------
    def score_arrays(self, columns: dict) -> dict:
        columns = dict(columns)
        count = len(self._children)
        if count == 1:
            return self._all("score", columns, None, None)[0]
        n = len(columns["customer_id"])
        shard = customer_shards(columns["customer_id"], count)
        day = columns["event_us"] // US_PER_DAY
        rows = [np.flatnonzero(shard == k) for k in range(count)]

        def part(k: int):
            others = shard != k
            return ({key: value[rows[k]] for key, value in columns.items()},
                    columns["merchant_id"][others], day[others])

        return _merge(n, rows, self._all("score", per_child=part))

    def warm_start(self, database: Path, *, lookback_seconds: float | None = None, max_rows: int = 2_000_000,
                   lock_wait_seconds: float = 2.0) -> WarmStartReport:
        reports = self._all("warm_start", str(database), lookback_seconds, int(max_rows), lock_wait_seconds)
        first = reports[0]
        return WarmStartReport(
            transactions_read=first.transactions_read, labels_read=first.labels_read,
            transactions_kept=sum(r.transactions_kept for r in reports), seconds=max(r.seconds for r in reports),
            source=first.source, error=next((r.error for r in reports if r.error), None))

    def prepare_reload(self) -> str | None:
        versions = self._all("prepare_reload", control=True)
        return next((v for v in versions if v), None)

    def prepare_fx_reload(self, database: Path, *, lock_wait_seconds: float = 0.5) -> tuple | None:
        stamps = self._all("prepare_fx_reload", str(database), lock_wait_seconds, control=True)
        return next((s for s in stamps if s), None)

    def adopt_pending(self) -> None:
        self._all("adopt_pending")

    def enforce_bounds(self) -> int:
        return sum(self._all("enforce_bounds"))

    # -- status, from each child's last answer ------------------------------------------------
    @property
    def _first(self) -> dict:
        return self._children[0].status if self._children else {}

    @property
    def model_version(self) -> str | None:
        return self._first.get("model_version")

    @property
    def reloads(self) -> int:
        return min((c.status.get("reloads", 0) for c in self._children), default=0)

    @property
    def last_reload_error(self) -> str | None:
        return next((c.status["last_reload_error"] for c in self._children if c.status.get("last_reload_error")), None)

    @property
    def fx_status(self) -> dict:
        return self._first.get("fx_status") or {"reporting_currency": None, "latest_rate_day": None, "reloads": 0}

    @property
    def evicted_customers(self) -> int:
        return sum(c.status.get("evicted_customers", 0) for c in self._children)

    @property
    def state_size(self) -> dict:
        """Customers and their rows summed over the shards; merchant days and labels are every
        shard's (each holds them all)."""
        sizes = [c.status.get("state_size") or {} for c in self._children]
        out = dict(sizes[0]) if sizes else {}
        for key in ("customers", "customer_transactions"):
            if any(key in size for size in sizes):
                out[key] = sum(size.get(key, 0) for size in sizes)
        out["scoring_processes"] = [c.process_status for c in self._children]
        out["scoring_processes_revived"] = self.revived
        return out

    @property
    def process_status(self) -> dict:
        statuses = [c.process_status for c in self._children]
        return {"alive": bool(statuses) and all(s["alive"] for s in statuses), "processes": statuses}

    def close(self, timeout_seconds: float = 10.0) -> None:
        """Ask every child to stop (each finishes the operation in hand), then make sure they have."""
        with self._lock:
            for child in self._children:
                child.stop()
        for child in self._children:
            child.wait(timeout_seconds)


def _merge(n: int, rows: list[np.ndarray], parts: list[dict]) -> dict:
    """The shards' decision columns back in the micro-batch's order."""
    present = [(own, part) for own, part in zip(rows, parts) if len(own)]
    out: dict = {}
    for key in DECISION_KEYS:
        values = [(own, part[key]) for own, part in present if key in part]
        if not values:
            continue
        if all(isinstance(v, np.ndarray) for _, v in values):
            merged = np.empty(n, dtype=np.result_type(*(v.dtype for _, v in values)))
            for own, v in values:
                merged[own] = v
        else:
            merged = [None] * n
            for own, v in values:
                for i, x in zip(own.tolist(), v):
                    merged[i] = x
        out[key] = merged
    return out


# -- the child ---------------------------------------------------------------------------
def _status(host) -> dict:
    return {"model_version": host.model_version, "reloads": host.reloads,
            "last_reload_error": host.last_reload_error, "fx_status": host.fx_status,
            "evicted_customers": host.evicted_customers, "state_size": host.state_size}


def _score(host, columns: dict, merchants, days) -> dict:
    """Count the other shards' rows for the merchant windows, then score this shard's rows.

    The engine's own ``score_arrays``, not the host's: a new model is adopted only when the
    service says so (``adopt_pending``), between two micro-batches.
    """
    if merchants is not None and len(merchants):
        host.engine.count_merchant_days(merchants, days)
    if not len(columns["customer_id"]):
        return {}
    scored = host.engine.score_arrays(columns)
    return {key: scored[key] for key in DECISION_KEYS if key in scored}


def _warm_start(host, heap, database: str, lookback_seconds, max_rows: int, lock_wait_seconds: float):
    report = host.warm_start(Path(database), lookback_seconds=lookback_seconds, max_rows=max_rows,
                             lock_wait_seconds=lock_wait_seconds)
    heap.settle()  # the warm-started window state leaves the collector's sight (lib/realtime/gc_tuning)
    return report


def _serve(conn: Connection, host, ops: dict, *, after=None) -> None:
    while True:
        try:
            op, args = conn.recv()
        except (EOFError, OSError):
            return  # the service closed the channel, or is gone
        if op == "stop":
            return
        try:
            result = ops[op](*args)
        except Exception as exc:  # the caller raises it; the child goes on serving
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}", _status(host)))
            continue
        conn.send(("ok", result, _status(host)))
        if after is not None:
            after()


def main(argv: list[str]) -> int:
    score_fd, control_fd, models_dir, max_customers = int(argv[0]), int(argv[1]), Path(argv[2]), int(argv[3])
    shard, shards = int(argv[4]), int(argv[5])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the service stops it through the channel, after draining
    score, control = Connection(score_fd), Connection(control_fd)
    try:
        from threadpoolctl import threadpool_limits

        from fintech_dataops.lib.realtime.engine_host import EngineHost, engine_for
        from fintech_dataops.lib.realtime.gc_tuning import HeapKeeper

        threadpool_limits(limits=1)  # one core's worth of native threads (see app.single_threaded_native_code)
        keep = None if shards == 1 else (lambda customers: customer_shards(customers, shards) == shard)
        host = EngineHost(engine_for(models_dir), models_dir, max_customers=max_customers, keep_customers=keep)
        heap = HeapKeeper()
    except Exception as exc:
        score.send(("error", f"cannot build the fraud engine: {type(exc).__name__}: {exc}", None))
        return 1
    score.send(("ok", None, _status(host)))
    control_ops = {"prepare_reload": host.prepare_reload,
                   "prepare_fx_reload": lambda database, wait: host.prepare_fx_reload(Path(database),
                                                                                     lock_wait_seconds=wait)}
    threading.Thread(target=_serve, args=(control, host, control_ops), name="reload-control", daemon=True).start()
    scoring_ops = {
        "score": lambda columns, merchants, days: _score(host, columns, merchants, days),
        "adopt_pending": host.adopt_pending,
        "enforce_bounds": host.enforce_bounds,
        "warm_start": lambda *args: _warm_start(host, heap, *args),
    }
    _serve(score, host, scoring_ops, after=heap.tick)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
