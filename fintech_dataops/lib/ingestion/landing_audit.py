"""Every entry of the landing zone is loaded or reported: the scan behind ``quality.unroutable_files``.

The loaders read exactly ``landing/<feed>/date=YYYY-MM-DD/<batch>.jsonl|.parquet`` (and report
symlinks there as raw rows). Anything else a partner or a script drops under ``landing/`` would be
skipped by them without a trace: a ``.json`` or ``.JSONL`` file, a hidden file, a directory named
``x.jsonl``, a folder ``date=2026-13-45`` or ``date=2026-11-04T00``, a feed nobody declared, a day
outside the pipeline's partitions. :func:`scan_unroutable` finds each of them and says why, so the
quality asset can store them, the DQ score can count their records and a check can alert.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

from fintech_dataops.lib.ingestion.landing import LANDED_SUFFIXES

UNROUTABLE_TABLE = "quality.unroutable_files"
UNROUTABLE_COLUMNS_SQL = (
    "path VARCHAR, feed VARCHAR, partition_date DATE, entry_type VARCHAR, reason VARCHAR, detail VARCHAR, "
    "size_bytes BIGINT, records BIGINT, modified_at TIMESTAMP, detected_at TIMESTAMP"
)

# Reasons (the ``reason`` column). Each has a one-line fix in REASON_HELP.
NOT_IN_FEED_FOLDER = "not_in_feed_folder"
UNKNOWN_FEED = "unknown_feed"
NOT_IN_DATE_FOLDER = "not_in_date_folder"
INVALID_PARTITION_DATE = "invalid_partition_date"
DATE_OUTSIDE_PARTITIONS = "date_outside_partitions"
UNSUPPORTED_SUFFIX = "unsupported_suffix"
HIDDEN_FILE = "hidden_file"
STALE_TEMP_FILE = "stale_temp_file"
DIRECTORY_IN_PARTITION = "directory_in_partition"
NOT_A_REGULAR_FILE = "not_a_regular_file"

REASON_HELP = {
    NOT_IN_FEED_FOLDER: "files go under landing/<feed>/date=YYYY-MM-DD/",
    UNKNOWN_FEED: "no feed of this name is declared (lib/ingestion/feeds.py, lib/open_banking/feeds.py)",
    NOT_IN_DATE_FOLDER: "files go in a date=YYYY-MM-DD folder of their feed",
    INVALID_PARTITION_DATE: "the folder must be named date=YYYY-MM-DD with a real calendar day",
    DATE_OUTSIDE_PARTITIONS: "the day is outside the pipeline's daily partitions, so no run loads it",
    UNSUPPORTED_SUFFIX: "only .jsonl and .parquet (lower case) are loaded; rename the file",
    HIDDEN_FILE: "names starting with '.' are never loaded",
    STALE_TEMP_FILE: "an atomic write that never finished (crash?); `fintech-dataops recover` lists them",
    DIRECTORY_IN_PARTITION: "a partition folder holds batch files only, not folders",
    NOT_A_REGULAR_FILE: "only regular files are loaded (not FIFOs, sockets or devices)",
}

# write_atomic's in-flight names: ".tmp-XXXX.part". Younger than the grace period = a write in progress.
TEMP_PREFIX, TEMP_SUFFIX = ".tmp-", ".part"
DEFAULT_TEMP_GRACE_SECONDS = 3600.0
_COUNT_CHUNK = 1 << 20


@dataclass(frozen=True)
class RoutableFeed:
    """A feed folder the platform reads; days outside [first_day, last_day] are never loaded."""

    name: str
    first_day: date | None = None
    last_day: date | None = None


@dataclass(frozen=True)
class UnroutableEntry:
    path: str                   # relative to the landing zone, POSIX
    feed: str | None            # the feed folder it sits in (None at the top level)
    partition_date: date | None  # the day of its date= folder when that parses
    entry_type: str             # file | directory | other
    reason: str
    detail: str
    size_bytes: int
    records: int                # lines (non-empty, newline-separated) a text file holds; 0 for others
    modified_at: datetime

    def as_row(self, detected_at: datetime) -> dict:
        return {
            "path": self.path, "feed": self.feed, "partition_date": self.partition_date,
            "entry_type": self.entry_type, "reason": self.reason, "detail": self.detail,
            "size_bytes": self.size_bytes, "records": self.records,
            "modified_at": self.modified_at.replace(tzinfo=None), "detected_at": detected_at.replace(tzinfo=None),
        }


def count_records(path: Path, max_bytes: int | None = None) -> int:
    """Newline-separated lines of a file (a last line without newline counts), read in chunks."""
    count, last, read = 0, b"\n", 0
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_COUNT_CHUNK):
                count += chunk.count(b"\n")
                last = chunk[-1:]
                read += len(chunk)
                if max_bytes is not None and read >= max_bytes:
                    break
    except OSError:
        return 0
    return count + (0 if last == b"\n" else 1)


def _entry(landing_dir: Path, path: Path, feed: str | None, day: date | None, reason: str,
           detail: str = "", max_count_bytes: int | None = None) -> UnroutableEntry:
    info = path.lstat()
    if stat.S_ISDIR(info.st_mode):
        entry_type, size, records = "directory", 0, 0
        for root, _dirs, files in os.walk(path):  # never follows symlinks
            for name in files:
                candidate = Path(root) / name
                try:
                    if candidate.is_file() and not candidate.is_symlink():
                        size += candidate.stat().st_size
                        records += count_records(candidate, max_count_bytes)
                except OSError:
                    continue
    elif stat.S_ISREG(info.st_mode):
        entry_type, size = "file", info.st_size
        records = count_records(path, max_count_bytes) if path.suffix.lower() != ".parquet" else 0
    else:
        entry_type, size, records = "other", 0, 0
    help_text = REASON_HELP[reason]
    return UnroutableEntry(
        path=path.relative_to(landing_dir).as_posix(), feed=feed, partition_date=day, entry_type=entry_type,
        reason=reason, detail=f"{detail}: {help_text}" if detail else help_text, size_bytes=int(size),
        records=int(records), modified_at=datetime.fromtimestamp(info.st_mtime, tz=timezone.utc),
    )


def _partition_day(name: str) -> date | None:
    if not name.startswith("date="):
        return None
    try:
        day = date.fromisoformat(name[5:])
    except ValueError:
        return None
    # fromisoformat accepts more than YYYY-MM-DD in 3.11 (e.g. "20261104"): the folder must be exact.
    return day if day.isoformat() == name[5:] else None


def scan_unroutable(
    landing_dir: Path,
    feeds: Iterable[RoutableFeed],
    *,
    now: datetime | None = None,
    temp_grace_seconds: float = DEFAULT_TEMP_GRACE_SECONDS,
    max_count_bytes: int | None = None,
) -> list[UnroutableEntry]:
    """Every entry under ``landing_dir`` that no loader reads, with its reason (sorted by path).

    Loaded (not reported): regular non-hidden ``.jsonl``/``.parquet`` files and non-hidden symlinks
    (the raw layer represents those as ``symlink_refused`` rows) directly in
    ``<feed>/date=YYYY-MM-DD/`` of a declared feed, on a day inside its partitions.
    """
    landing_dir = Path(landing_dir)
    if not landing_dir.is_dir():
        return []
    now = now or datetime.now(timezone.utc)
    known = {f.name: f for f in feeds}
    found: list[UnroutableEntry] = []

    def report(path: Path, feed: str | None, day: date | None, reason: str, detail: str = "") -> None:
        try:
            found.append(_entry(landing_dir, path, feed, day, reason, detail, max_count_bytes))
        except FileNotFoundError:
            pass  # removed while scanning: nothing left to load

    def report_tree(folder: Path, feed: str | None, day: date | None, reason: str, detail: str) -> None:
        """Each file below ``folder`` (an empty folder reports itself), never following symlinks."""
        entries = 0
        for root, dirs, files in os.walk(folder):
            for name in sorted(files) + sorted(d for d in dirs if (Path(root) / d).is_symlink()):
                entries += 1
                report(Path(root) / name, feed, day, reason, detail)
        if not entries:
            report(folder, feed, day, reason, detail + " (empty folder)")

    for top in sorted(landing_dir.iterdir()):
        if not top.is_dir():  # a symlinked folder is followed, as the loaders follow it
            if top.name.startswith(TEMP_PREFIX):
                continue  # a temp file next to the feeds is nobody's batch; recover lists it
            report(top, None, None, NOT_IN_FEED_FOLDER)
            continue
        feed = known.get(top.name)
        if feed is None:
            report_tree(top, top.name, None, UNKNOWN_FEED, f"feed folder {top.name!r}")
            continue
        for child in sorted(top.iterdir()):
            if not child.is_dir():
                report(child, feed.name, None, NOT_IN_DATE_FOLDER)
                continue
            day = _partition_day(child.name)
            if day is None:
                reason = INVALID_PARTITION_DATE if child.name.startswith("date=") else NOT_IN_DATE_FOLDER
                report_tree(child, feed.name, None, reason, f"folder {child.name!r}")
                continue
            outside = (feed.first_day and day < feed.first_day) or (feed.last_day and day > feed.last_day)
            for entry in sorted(child.iterdir()):
                _audit_partition_entry(entry, feed, day, bool(outside), now, temp_grace_seconds, report, report_tree)
    return sorted(found, key=lambda e: e.path)


def _audit_partition_entry(entry, feed, day, outside, now, temp_grace_seconds, report, report_tree) -> None:
    name = entry.name
    if name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX):
        try:
            age = now.timestamp() - entry.lstat().st_mtime
        except FileNotFoundError:
            return
        if age >= temp_grace_seconds:
            report(entry, feed.name, day, STALE_TEMP_FILE, f"{int(age)} s old")
        return
    if name.startswith("."):
        report(entry, feed.name, day, HIDDEN_FILE)
        return
    if entry.is_symlink():
        if outside:
            report(entry, feed.name, day, DATE_OUTSIDE_PARTITIONS, _range_text(feed))
        return  # the raw layer turns it into a symlink_refused row
    if entry.is_dir():
        report(entry, feed.name, day, DIRECTORY_IN_PARTITION)
        return
    if not entry.is_file():
        report(entry, feed.name, day, NOT_A_REGULAR_FILE)
        return
    if entry.suffix not in LANDED_SUFFIXES:
        report(entry, feed.name, day, UNSUPPORTED_SUFFIX, f"suffix {entry.suffix or '(none)'!r}")
        return
    if outside:
        report(entry, feed.name, day, DATE_OUTSIDE_PARTITIONS, _range_text(feed))


def _range_text(feed: RoutableFeed) -> str:
    return f"partitions of {feed.name} run {feed.first_day or '…'} to {feed.last_day or '…'}"


def write_unroutable(con, entries: list[UnroutableEntry], detected_at: datetime | None = None) -> int:
    """Replace ``quality.unroutable_files`` with ``entries`` (the current state of the landing zone)."""
    from fintech_dataops.lib.warehouse import replace_table

    detected_at = (detected_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    stage = "stage_unroutable_files"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {stage} ({UNROUTABLE_COLUMNS_SQL})")
    try:
        rows = [entry.as_row(detected_at) for entry in entries]
        if rows:
            names = list(rows[0])
            con.executemany(
                f"INSERT INTO {stage} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                [[row[name] for name in names] for row in rows],
            )
        return replace_table(con, UNROUTABLE_TABLE, f"SELECT * FROM {stage} ORDER BY path")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {stage}")
