"""Retries with exponential backoff for rate limits (429) and server errors (5xx), honouring ``Retry-After``."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0  # a server asking for longer than this is treated as down

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``: the server's ``Retry-After`` when given."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after_s)
        backoff = min(self.base_delay_s * 2 ** (attempt - 1), self.max_delay_s)
        return backoff * (0.5 + random.random() / 2)  # jitter: clients that failed together do not retry together


@dataclass(frozen=True)
class Transient:
    """How a failure classifies: retry it or not, and the server's requested wait."""

    retryable: bool
    retry_after: float | None = None


def parse_retry_after(value: object) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is rare on APIs and treated as absent)."""
    if value in (None, ""):
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def call_with_retries(
    call: Callable[[], T],
    classify: Callable[[BaseException], Transient],
    policy: RetryPolicy = RetryPolicy(),
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, float, BaseException], None] | None = None,
) -> T:
    """Run ``call``; on a retryable failure wait and try again, up to ``policy.max_attempts`` attempts."""
    attempt = 1
    while True:
        try:
            return call()
        except Exception as exc:  # classified below; non-retryable ones propagate unchanged
            verdict = classify(exc)
            if not verdict.retryable or attempt >= policy.max_attempts:
                raise
            wait = policy.delay(attempt, verdict.retry_after)
            if on_retry is not None:
                on_retry(attempt, wait, exc)
            sleep(wait)
            attempt += 1
