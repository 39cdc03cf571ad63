"""The transaction ids this service acknowledged, so a resend is refused instead of landed twice.

Core keeps the first line of an id and quarantines every later copy (``duplicate_id``), so an id
acknowledged twice would be a second acknowledgement that never reaches core. The service refuses
it instead: 409, nothing acknowledged, the request landed as one refused line. The choice (refuse,
rather than replay the first answer) keeps no decisions in memory and cannot hand a client an
answer to a different payload: a resend that gets 409 was already acknowledged once.

Bounded: the most recent ``capacity`` ids (64-bit hashes, ~80 bytes each); older ones are still
deduplicated by core. On start they are read back from the service's own landed decisions
(``landing/fraud_decisions/date=*/rt-*.jsonl``, newest first), so a restart does not forget them. An id in a request still being scored is held too, so two concurrent
requests with the same id cannot both be acknowledged. Only the event loop calls this (no lock).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import orjson


class AcknowledgedIds:
    def __init__(self, capacity: int = 1_000_000):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._acknowledged: set[int] = set()
        self._order: deque[int] = deque()
        self._pending: set[int] = set()

    def __len__(self) -> int:
        return len(self._acknowledged)

    def claim(self, ids: list[str]) -> list[str]:
        """The ids already acknowledged or in flight; when there are none, hold ``ids`` as in flight."""
        keys = [hash(i) for i in ids]
        taken = [i for i, k in zip(ids, keys) if k in self._acknowledged or k in self._pending]
        if not taken:
            self._pending.update(keys)
        return taken

    def confirm(self, ids: list[str]) -> None:
        """``ids`` were acknowledged (their WAL entry is durable)."""
        for key in map(hash, ids):
            self._pending.discard(key)
            if key not in self._acknowledged:
                self._acknowledged.add(key)
                self._order.append(key)
        while len(self._order) > self.capacity:
            self._acknowledged.discard(self._order.popleft())

    def release(self, ids: list[str]) -> None:
        """``ids`` were not acknowledged after all (503): a resend is welcome."""
        for key in map(hash, ids):
            self._pending.discard(key)


def recently_acknowledged(landing_dir: Path, limit: int, *, prefix: str = "rt-") -> list[str]:
    """The last ``limit`` transaction ids the service acknowledged, oldest first, from its landed decisions."""
    files = sorted((Path(landing_dir) / "fraud_decisions").glob(f"date=*/{prefix}*.jsonl"),
                   key=lambda path: path.name, reverse=True)
    newest_first: list[str] = []
    for path in files:
        for line in reversed(path.read_bytes().splitlines()):
            try:
                newest_first.append(orjson.loads(line)["transaction_id"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            if len(newest_first) >= limit:
                return newest_first[::-1]
    return newest_first[::-1]
