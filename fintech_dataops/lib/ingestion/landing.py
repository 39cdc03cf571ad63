"""The landing zone: ``<data dir>/landing/<feed>/date=YYYY-MM-DD/<batch>.jsonl``.

Files are written atomically (temp name in the same folder, fsync, rename) and
never modified afterwards. Feed names, dates and batch ids are validated so a
caller can never write or read outside the landing zone.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from datetime import date
from pathlib import Path

DEFAULT_DATA_DIR = "data"
DATA_DIR_ENV = "FINTECH_DATA_DIR"

# ASCII only (re.ASCII): no look-alike Unicode letters, dots or slashes in names.
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", re.ASCII)
LANDED_SUFFIXES = (".jsonl", ".parquet")


class LandingPathError(ValueError):
    """A feed name, date or batch id that would leave the landing zone."""


def resolve_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The data dir of the selected tenant: ``<platform dir>/tenants/<name>`` with ``$FINTECH_TENANT``
    (``--tenant``) set, else the platform dir itself (the default tenant, today's layout).

    Read at call time (never at import), so tests and resources can point it anywhere.
    """
    from fintech_dataops.lib.tenancy.paths import scoped_data_dir

    return scoped_data_dir(resolve_platform_dir(explicit))


def resolve_platform_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The platform's data dir: explicit value, else $FINTECH_DATA_DIR, else ./data."""
    raw = explicit if explicit not in (None, "") else os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(raw).expanduser().resolve()


def safe_name(value: str, what: str = "name") -> str:
    """Reject anything that is not a plain file/folder name (no '/', '..', NUL, ...)."""
    # fullmatch, not match: with match, "$" also accepts a trailing newline ("feed\n").
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value) or ".." in value:
        raise LandingPathError(f"invalid {what} {value!r}: use letters, digits, '_', '-', '.'")
    return value


def parse_partition_date(value: str | date) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise LandingPathError(f"invalid partition date {value!r}: expected YYYY-MM-DD") from exc


def partition_dir(landing_dir: Path, feed: str, day: str | date) -> Path:
    day = parse_partition_date(day)
    path = Path(landing_dir) / safe_name(feed, "feed") / f"date={day.isoformat()}"
    _ensure_inside(landing_dir, path)
    return path


def _ensure_inside(root: Path, path: Path) -> None:
    root_resolved = Path(root).resolve()
    if root_resolved not in path.resolve().parents and path.resolve() != root_resolved:
        raise LandingPathError(f"{path} is outside the landing zone {root_resolved}")


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so readers see either nothing or the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    return path


def land_batch(
    landing_dir: Path,
    feed: str,
    day: str | date,
    batch_id: str,
    data: bytes,
    suffix: str = ".jsonl",
) -> Path:
    """Land one immutable batch file. Landing the same batch id twice is refused."""
    if suffix not in LANDED_SUFFIXES:
        raise LandingPathError(f"unsupported landing suffix {suffix!r}")
    target = partition_dir(landing_dir, feed, day) / f"{safe_name(batch_id, 'batch id')}{suffix}"
    _ensure_inside(landing_dir, target)
    if target.exists():
        raise FileExistsError(f"batch already landed (files are immutable): {target}")
    return write_atomic(target, data)


def land_lines(
    landing_dir: Path, feed: str, day: str | date, batch_id: str, lines: Iterable[str]
) -> Path:
    body = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return land_batch(landing_dir, feed, day, batch_id, body.encode("utf-8"))


def landed_files(landing_dir: Path, feed: str, day: str | date) -> list[Path]:
    """Closed (fully renamed) batch files of one feed and day, in a stable order."""
    folder = partition_dir(landing_dir, feed, day)
    if not folder.is_dir():
        return []
    # A symlink is never a landed file (landers rename regular files into place) and could
    # point anywhere on the machine: it is not followed; see ``refused_entries``.
    return sorted(
        p for p in folder.iterdir()
        if not p.is_symlink() and p.is_file() and p.suffix in LANDED_SUFFIXES and not p.name.startswith(".")
    )


def refused_entries(landing_dir: Path, feed: str, day: str | date) -> list[Path]:
    """Symlinks in a partition folder: not read, but reported so nothing is skipped silently."""
    folder = partition_dir(landing_dir, feed, day)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_symlink() and not p.name.startswith("."))


def landed_days(landing_dir: Path, feed: str) -> list[date]:
    folder = Path(landing_dir) / safe_name(feed, "feed")
    if not folder.is_dir():
        return []
    days = []
    for child in folder.iterdir():
        if child.is_dir() and child.name.startswith("date="):
            try:
                days.append(date.fromisoformat(child.name[5:]))
            except ValueError:
                continue
    return sorted(days)
