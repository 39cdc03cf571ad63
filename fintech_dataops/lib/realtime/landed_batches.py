"""Which landed micro-batches are new: the cursor logic behind the near-real-time sensor.

A batch is one closed file ``landing/transactions/date=D/<batch>.jsonl`` written
by the decision service (``rt-`` prefix). Files appear by atomic rename, so a
visible file is complete. Batch ids sort by the time their WAL segment opened,
which is *not* the order they land (a segment recovered after a crash lands
late with an old id), so the cursor follows the landing order instead:
``(mtime_ns, key)`` of the files, with

- ``watermark_ns``: the newest landed file already requested, and
- ``recent``: the keys already requested whose mtime lies within ``grace_ns``
  below the watermark.

A file is new when its mtime is above ``watermark - grace`` and its key is not in
``recent``. The grace absorbs the gap between a file's last write (its mtime)
and its rename into view, so a slow rename is not missed; ``recent`` makes sure
nothing inside the grace window is requested twice. The cursor is small (the
files of one grace window) and only day folders modified within the window are
scanned. ``run_key`` = the batch key, so even a lost cursor cannot launch a
batch twice.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from fintech_dataops.lib.realtime.wal import BATCH_PREFIX, EVENTS_FEED

SERVICE_BATCH_PREFIX = BATCH_PREFIX
DEFAULT_GRACE_NS = 60 * 1_000_000_000


@dataclass(frozen=True)
class LandedBatchFile:
    key: str          # "date=YYYY-MM-DD/<batch id>.jsonl", relative to landing/<feed>
    path: Path
    day: str
    batch_id: str
    mtime_ns: int


@dataclass
class BatchCursor:
    watermark_ns: int = 0
    recent: dict[str, int] = field(default_factory=dict)  # key → mtime_ns

    def to_json(self) -> str:
        return json.dumps({"watermark_ns": self.watermark_ns, "recent": self.recent}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> BatchCursor:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(watermark_ns=int(data.get("watermark_ns", 0)),
                   recent={str(k): int(v) for k, v in (data.get("recent") or {}).items()})


def batch_key(day: str, batch_id: str) -> str:
    return f"date={day}/{batch_id}.jsonl"


def parse_batch_key(key: str) -> tuple[str, str]:
    """``date=D/<id>.jsonl`` → (D, id); raises ValueError for anything else."""
    folder, _, name = key.partition("/")
    if not folder.startswith("date=") or not name.endswith(".jsonl") or "/" in name or ".." in key:
        raise ValueError(f"not a micro-batch key: {key!r} (expected date=YYYY-MM-DD/<batch>.jsonl)")
    return folder[5:], name[: -len(".jsonl")]


def scan_batches(landing_dir: Path, *, since_ns: int = 0, feed: str = EVENTS_FEED,
                 prefix: str = SERVICE_BATCH_PREFIX) -> list[LandedBatchFile]:
    """Closed service batches with mtime >= ``since_ns``, in landing order (mtime, key)."""
    root = Path(landing_dir) / feed
    if not root.is_dir():
        return []
    found = []
    with os.scandir(root) as days:
        for day_entry in days:
            if not day_entry.is_dir() or not day_entry.name.startswith("date="):
                continue
            # A rename into the folder updates its mtime: untouched folders hold no new batch.
            if day_entry.stat().st_mtime_ns < since_ns:
                continue
            with os.scandir(day_entry.path) as files:
                for entry in files:
                    name = entry.name
                    if not (name.startswith(prefix) and name.endswith(".jsonl")) or not entry.is_file():
                        continue
                    mtime = entry.stat().st_mtime_ns
                    if mtime >= since_ns:
                        found.append(LandedBatchFile(
                            key=f"{day_entry.name}/{name}", path=Path(entry.path), day=day_entry.name[5:],
                            batch_id=name[: -len(".jsonl")], mtime_ns=mtime,
                        ))
    found.sort(key=lambda b: (b.mtime_ns, b.key))
    return found


def new_batches(landing_dir: Path, cursor: BatchCursor, *, grace_ns: int = DEFAULT_GRACE_NS,
                max_batches: int = 500) -> tuple[list[LandedBatchFile], BatchCursor]:
    """The batches not yet requested (oldest landed first, at most ``max_batches``) and the next cursor."""
    floor = max(0, cursor.watermark_ns - grace_ns)
    fresh = [b for b in scan_batches(landing_dir, since_ns=floor) if b.key not in cursor.recent]
    chosen = fresh[:max_batches]
    if not chosen:
        return [], cursor
    return chosen, advance(cursor, chosen, grace_ns=grace_ns)


def advance(cursor: BatchCursor, handled: list[LandedBatchFile], *, grace_ns: int = DEFAULT_GRACE_NS) -> BatchCursor:
    """The cursor past ``handled`` — a prefix, in landing order, of what :func:`new_batches` returned."""
    if not handled:
        return cursor
    watermark = max(cursor.watermark_ns, max(b.mtime_ns for b in handled))
    recent = {**cursor.recent, **{b.key: b.mtime_ns for b in handled}}
    keep_from = watermark - grace_ns
    recent = {k: m for k, m in recent.items() if m >= keep_from}
    return BatchCursor(watermark_ns=watermark, recent=recent)
