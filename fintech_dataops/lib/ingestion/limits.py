"""Bounds on what the landing zone accepts, so one hostile file cannot exhaust a run.

The raw layer stays lossless *within* these bounds and visible beyond them:
- a line longer than ``max_line_bytes`` is kept, truncated to that many bytes
  (on a UTF-8 character boundary), flagged ``line_too_long`` with its original
  size, so the core layer quarantines it with that reason;
- a file larger than ``max_file_bytes`` is not read: one raw row flagged
  ``file_too_large`` (line 0, empty record, the file's size) stands for it;
- a symlink in a partition folder is never followed (it could point anywhere
  on the machine): one raw row flagged ``symlink_refused`` stands for it;
- a ``.parquet`` file DuckDB cannot read: one raw row flagged ``unreadable_file``.
Nothing is skipped silently, and no input makes the load raise.
"""

from __future__ import annotations

from dataclasses import dataclass

LINE_TOO_LONG = "line_too_long"
FILE_TOO_LARGE = "file_too_large"
SYMLINK_REFUSED = "symlink_refused"
UNREADABLE_FILE = "unreadable_file"  # a .parquet file DuckDB cannot read
INGEST_ISSUES = (LINE_TOO_LONG, FILE_TOO_LARGE, SYMLINK_REFUSED, UNREADABLE_FILE)

DEFAULT_MAX_LINE_BYTES = 1 << 20  # 1 MiB: a card transaction is ~300 bytes
DEFAULT_MAX_FILE_BYTES = 1 << 30  # 1 GiB: DuckDB reads a landed file into one string
MIN_LINE_BYTES = 16


@dataclass(frozen=True)
class IngestLimits:
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES

    def __post_init__(self) -> None:
        if int(self.max_line_bytes) < MIN_LINE_BYTES:
            raise ValueError(f"max_line_bytes must be at least {MIN_LINE_BYTES}, got {self.max_line_bytes}")
        if int(self.max_file_bytes) < 1:
            raise ValueError(f"max_file_bytes must be positive, got {self.max_file_bytes}")


def truncate_line(line: bytes, max_line_bytes: int) -> bytes:
    """The first ``max_line_bytes`` bytes, cut back to a UTF-8 boundary when the line is UTF-8."""
    if len(line) <= max_line_bytes:
        return line
    head = line[:max_line_bytes]
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return head  # not text anyway: keep the exact leading bytes
    # A valid UTF-8 line cut mid-character: drop the partial character (at most 3 bytes).
    return head.decode("utf-8", errors="ignore").encode("utf-8")


class RateLimiter:
    """Token buckets per client (API key or address): ``rate_per_second`` sustained, ``burst`` at once.

    For the online service: ask ``allow(client)`` before reading a request body and answer
    429 with ``Retry-After: retry_after(client)`` when it says no. Idle buckets are dropped
    beyond ``max_clients`` so a flood of spoofed clients cannot grow memory without bound.
    """

    def __init__(self, rate_per_second: float, burst: int, *, max_clients: int = 10_000, clock=None):
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("rate_per_second must be > 0 and burst >= 1")
        import time

        self.rate = float(rate_per_second)
        self.burst = float(burst)
        self.max_clients = max_clients
        self._clock = clock or time.monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last refill)

    def _refill(self, client: str) -> float:
        now = self._clock()
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        self._buckets[client] = (tokens, now)  # re-inserted last: dict order = least recently seen first
        if len(self._buckets) > self.max_clients:
            self._buckets.pop(next(iter(self._buckets)))
        return tokens

    def allow(self, client: str, cost: float = 1.0) -> bool:
        tokens = self._refill(client)
        if tokens < cost:
            return False
        self._buckets[client] = (tokens - cost, self._buckets[client][1])
        return True

    def retry_after(self, client: str, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are available again (0 when they are now)."""
        tokens = self._refill(client)
        return max(0.0, (cost - tokens) / self.rate)
