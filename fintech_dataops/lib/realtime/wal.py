"""Write-ahead log → landing-zone micro-batches: an acknowledged event is never lost.

The service appends every event (and its decision) to the open WAL segment and
fsyncs *before* it answers, so an acknowledged event survives a crash. At least
every ``rotate_seconds`` the open segment is closed and landed as immutable
micro-batch files — ``landing/transactions/date=D/<batch>.jsonl`` (the events
exactly as received, malformed ones included, for raw → core → quarantine) and
``landing/fraud_decisions/date=D/<batch>.jsonl`` (the decisions) — and only
then deleted. On start, segments left by a killed process are landed first
(a file already landed by the interrupted rotation is kept: landed files are
atomic, so one that exists is complete). A torn last line can only be an event
whose fsync never returned, i.e. one that was never acknowledged.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple
from datetime import datetime, timezone
from pathlib import Path

import orjson

from fintech_dataops.lib.ingestion import landing

EVENTS_FEED = "transactions"
DECISIONS_FEED = "fraud_decisions"
SEGMENT_SUFFIX = ".wal"
BATCH_PREFIX = "rt-"  # names the service's micro-batches in the landing zone (the sensor's filter)


class LogEntry(NamedTuple):
    """One received record: its exact line, its landing day and its decision (None if malformed)."""

    line: str
    day: str
    decision: dict | None = None


@dataclass
class LandedBatch:
    batch_id: str
    events: int = 0
    decisions: int = 0
    files: list[Path] = field(default_factory=list)
    already_landed: int = 0
    dropped_with_data_dir: int = 0  # lines of a segment whose data dir was deleted under the service


def new_batch_id(sequence: int, now: datetime | None = None) -> str:
    """Sortable, unique across restarts and processes: time, pid, sequence."""
    now = now or datetime.now(timezone.utc)
    return f"{BATCH_PREFIX}{now:%Y%m%dT%H%M%S%f}-p{os.getpid()}-{sequence:06d}"


# One WAL line per landed line: "<day> E <event line>" or "<day> D <decision JSON>". Landed
# lines never contain a newline (events are compact JSON or one line of a raw body), so
# rotation only splits and regroups bytes; nothing is parsed again.
_EVENT, _DECISION = b"E", b"D"


def encode_entries(entries: list[LogEntry],
                   grouped: dict[tuple[str, str], list[bytes]] | None = None) -> bytes:
    """The WAL bytes of ``entries``; also adds their landed lines to ``grouped`` (feed, day) if given."""
    grouped = {} if grouped is None else grouped
    parts = []
    per_day: dict[str, tuple[bytes, bytes, list[bytes], list[bytes]]] = {}
    for line, day, decision in entries:
        slot = per_day.get(day)
        if slot is None:
            slot = per_day[day] = (day.encode() + b" E ", day.encode() + b" D ",
                                   grouped.setdefault((EVENTS_FEED, day), []),
                                   grouped.setdefault((DECISIONS_FEED, day), []))
        event = line.encode("utf-8")
        slot[2].append(event)
        parts.append(slot[0] + event + b"\n")
        if decision is not None:
            decided = orjson.dumps(decision)
            slot[3].append(decided)
            parts.append(slot[1] + decided + b"\n")
    return b"".join(parts)


def read_segment(path: Path) -> dict[tuple[str, str], list[bytes]]:
    """Landed lines per (feed, day) of a segment; a torn last line (no newline) is skipped.

    A torn line is the tail of a write whose fsync never returned, i.e. never acknowledged.
    """
    grouped: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    lines = path.read_bytes().split(b"\n")
    for raw in lines[:-1]:  # the last element is b"" after a complete segment, or the torn tail
        parts = raw.split(b" ", 2)
        if len(parts) != 3 or parts[1] not in (_EVENT, _DECISION):
            continue  # cannot happen with whole appends; never let one bad line block recovery
        day, kind, payload = parts
        feed = EVENTS_FEED if kind == _EVENT else DECISIONS_FEED
        grouped[(feed, day.decode())].append(payload)
    return grouped


def land_segment_lines(landing_dir: Path, batch_id: str,
                       grouped: dict[tuple[str, str], list[bytes]]) -> LandedBatch:
    """Land one batch: one file per feed and day (idempotent on retry)."""
    result = LandedBatch(batch_id=batch_id)
    # Events first: a decision file never appears before the events it decides.
    for (feed, day), lines in sorted(grouped.items(), key=lambda item: (item[0][0] != EVENTS_FEED, item[0][1])):
        if not lines:
            continue
        try:
            result.files.append(landing.land_batch(landing_dir, feed, day, batch_id, b"\n".join(lines) + b"\n"))
        except FileExistsError:
            result.already_landed += 1  # an interrupted rotation landed it: files are atomic
        if feed == EVENTS_FEED:
            result.events += len(lines)
        else:
            result.decisions += len(lines)
    return result


class WalInUse(RuntimeError):
    """Another live writer (a second service on the same data dir) holds this WAL."""


WRITER_LOCK = "writer.lock"
_log = logging.getLogger(__name__)


class DurableLog:
    """The service's WAL. ``append`` is called by one writer thread; ``rotate`` by any thread.

    A service :meth:`claim` s the WAL for its lifetime (an exclusive ``flock`` on
    ``wal/realtime/writer.lock``, released by :meth:`close` or by the kernel when the process dies):
    :meth:`recover` lands *every* segment in the directory as a dead writer's leftovers, so a second
    live writer would land, and unlink, the first one's open segment — its events twice, its close
    failing. A second service on the same data dir is refused at start instead.
    """

    def __init__(self, data_dir: Path, rotate_seconds: float = 1.0, max_segment_events: int = 500_000):
        self.landing_dir = Path(data_dir) / "landing"
        self.wal_dir = Path(data_dir) / "wal" / "realtime"
        self.wal_dir.mkdir(parents=True, exist_ok=True)
        self.rotate_seconds = rotate_seconds
        self.max_segment_events = max_segment_events
        self._lock = threading.Lock()
        self._land_lock = threading.Lock()
        self._sequence = 0
        self._handle = None
        self._segment: Path | None = None
        self._segment_events = 0
        self._segment_lines: dict[tuple[str, str], list[bytes]] = {}  # the open segment, as it will land
        self._opened_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.landed_batches = 0
        self.landed_events = 0
        self.last_landed: LandedBatch | None = None
        self._claim_fd: int | None = None

    def claim(self) -> None:
        """Become this WAL's only writer, or raise :class:`WalInUse` (call before :meth:`recover`)."""
        import fcntl

        fd = os.open(self.wal_dir / WRITER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WalInUse(f"another decision service is writing {self.wal_dir} (one service per data dir: "
                           "stop it first, or give this one its own FINTECH_DATA_DIR)") from None
        self._claim_fd = fd

    def release_claim(self) -> None:
        """Give up :meth:`claim` (close does it; a service whose startup failed calls it)."""
        if self._claim_fd is not None:
            os.close(self._claim_fd)  # closing the descriptor drops the flock
            self._claim_fd = None

    # -- recovery -------------------------------------------------------------------------
    def recover(self) -> list[LandedBatch]:
        """Land the segments a previous process left behind (SIGKILL, power loss)."""
        recovered = []
        for path in sorted(self.wal_dir.glob(f"*{SEGMENT_SUFFIX}")):
            recovered.append(self._land_segment(path))
        return recovered

    # -- writing --------------------------------------------------------------------------
    def append(self, entries: list[LogEntry]) -> None:
        """Durably log ``entries`` (write + fsync). Returns only when they survive a crash."""
        if not entries:
            return
        with self._lock:
            if self._handle is None:
                self._open_segment()
            mark = {key: len(lines) for key, lines in self._segment_lines.items()}
            payload = encode_entries(entries, self._segment_lines)
            try:
                self._handle.write(payload)
                self._handle.flush()
                os.fsync(self._handle.fileno())
            except BaseException:
                # Not durable, not acknowledged: the lines must not land from memory either (the
                # segment file may hold a torn copy; recovery skips a torn tail).
                for key, lines in list(self._segment_lines.items()):
                    del lines[mark.get(key, 0):]
                raise
            self._segment_events += len(entries)
            full = self._segment_events >= self.max_segment_events
        if full:
            self.rotate()

    def _open_segment(self) -> None:
        self._sequence += 1
        self._segment = self.wal_dir / f"{new_batch_id(self._sequence)}{SEGMENT_SUFFIX}"
        self._handle = open(self._segment, "ab", buffering=0)
        # The new name must survive a crash too, or recovery would not find the segment.
        dir_fd = os.open(self.wal_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._segment_events = 0
        self._segment_lines = {}
        self._opened_at = time.monotonic()

    # -- rotation -------------------------------------------------------------------------
    def rotate(self) -> LandedBatch | None:
        """Close the open segment (if it holds events) and land it as micro-batch files."""
        with self._lock:
            if self._handle is None:
                return None
            self._handle.close()
            closed, self._handle, self._segment = self._segment, None, None
            lines, self._segment_lines = self._segment_lines, {}
        # The lines kept in memory are exactly the segment's (no re-read, no re-parse).
        return self._land_segment(closed, lines)

    def _land_segment(self, path: Path, lines: dict[tuple[str, str], list[bytes]] | None = None) -> LandedBatch:
        with self._land_lock:
            if not self.wal_dir.is_dir():
                # The data dir was deleted under a running service (a bank offboarded with
                # `tenant delete`): its events went with it on purpose, and landing them now would
                # bring the deleted tenant's files back.
                dropped = sum(len(v) for v in (lines or {}).values())
                _log.warning("WAL %s is gone (data dir deleted): %d line(s) of segment %s not landed",
                             self.wal_dir, dropped, path.name)
                return LandedBatch(batch_id=path.stem, dropped_with_data_dir=dropped)
            batch = land_segment_lines(self.landing_dir, path.stem, read_segment(path) if lines is None else lines)
            path.unlink()
            self.landed_batches += 1
            self.landed_events += batch.events
            self.last_landed = batch
            return batch

    def start(self) -> None:
        """Rotate in the background at least every ``rotate_seconds``."""
        self._thread = threading.Thread(target=self._rotate_loop, name="wal-rotate", daemon=True)
        self._thread.start()

    def _rotate_loop(self) -> None:
        while not self._stop.wait(min(0.1, self.rotate_seconds)):
            with self._lock:
                due = self._handle is not None and time.monotonic() - self._opened_at >= self.rotate_seconds
            if due:
                try:
                    self.rotate()
                except OSError:
                    # Landing failed (disk full?): the segment stays in the WAL and is retried on
                    # the next start; events already acknowledged are safe in it.
                    time.sleep(self.rotate_seconds)

    def close(self) -> None:
        """Stop rotating and land what is open (graceful shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.rotate()
        finally:
            self.release_claim()

    @property
    def pending_segments(self) -> int:
        return len(list(self.wal_dir.glob(f"*{SEGMENT_SUFFIX}")))
