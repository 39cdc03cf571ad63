"""Landing API records losslessly and idempotently (a replayed window never lands a record twice)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from fintech_dataops.lib.ingestion import landing


def to_json_line(record: dict) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def landed_ids(landing_dir: Path, feed: str, id_field: str, since: date | None = None) -> set[str]:
    """Ids already landed for ``feed`` in the partitions on or after ``since`` (all when None)."""
    ids: set[str] = set()
    for day in landing.landed_days(landing_dir, feed):
        if since is not None and day < since:
            continue
        for path in landing.landed_files(landing_dir, feed, day):
            if path.suffix != ".jsonl":
                continue
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    value = json.loads(line).get(id_field)
                except (ValueError, AttributeError):
                    continue
                if value is not None:
                    ids.add(str(value))
    return ids


@dataclass
class LandingOutcome:
    files: list[str] = field(default_factory=list)
    records: int = 0
    skipped_already_landed: int = 0


def land_records(
    landing_dir: Path, feed: str, day: date, batch_id: str, records: list[dict], *, id_field: str,
    already_landed: set[str],
) -> LandingOutcome:
    """Land ``records`` minus those whose id is in ``already_landed`` as one immutable batch file."""
    outcome = LandingOutcome()
    fresh, seen = [], set(already_landed)
    for record in records:
        key = str(record[id_field])
        if key in seen:
            outcome.skipped_already_landed += 1
            continue
        seen.add(key)
        fresh.append(record)
    if not fresh:
        return outcome
    path = landing.land_lines(landing_dir, feed, day, batch_id, (to_json_line(r) for r in fresh))
    outcome.files.append(path.relative_to(landing_dir).as_posix())
    outcome.records = len(fresh)
    return outcome
