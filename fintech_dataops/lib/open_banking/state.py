"""Sync state (Plaid cursors, Stripe ``created`` watermarks), one small JSON file per stream.

A stream's state is written only after its data is durably landed, atomically
(temp file + fsync + rename), so a crash in between replays the same window
instead of skipping it. One file per stream keeps concurrent assets from
overwriting each other's state.
"""

from __future__ import annotations

import json
from pathlib import Path

from fintech_dataops.lib.ingestion.landing import safe_name, write_atomic


class SyncStateStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, source: str, stream: str) -> Path:
        return self.root / safe_name(source, "source") / f"{safe_name(stream, 'stream')}.json"

    def load(self, source: str, stream: str) -> dict:
        path = self._path(source, stream)
        if not path.exists():
            return {}
        return json.loads(path.read_text())

    def commit(self, source: str, stream: str, state: dict) -> None:
        write_atomic(self._path(source, stream), json.dumps(state, sort_keys=True, indent=1).encode())

    def streams(self, source: str) -> dict[str, dict]:
        folder = self.root / safe_name(source, "source")
        if not folder.is_dir():
            return {}
        return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
