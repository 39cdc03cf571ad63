"""What the service accepts: one transaction per record, judged before anything is acknowledged.

The judge is the one the core quality gate uses (``schemas.transaction_contract``): a record the
pipeline would quarantine is refused here with a 4xx naming each failing record and field, so an
acknowledgement means the event reaches ``core.transactions``. A refused request is landed as
ONE line (``refused_line``: status, reason, size, digest and a bounded head of the body), which
core quarantines with reason ``refused_by_service``; its records never become core rows.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

import orjson

from fintech_dataops.schemas.transaction_contract import (
    Failure, Window, _duplicate_keys, _may_repeat_keys, judge_record,
)


class MalformedRequest(ValueError):
    """The request body as a whole cannot be read (not UTF-8 JSON, wrong shape, repeated keys)."""


@dataclass(slots=True)
class Accepted:
    """A scorable record: its exact landed line, the record and its event time."""

    line: str
    record: dict
    event_time: datetime


@dataclass(slots=True)
class Rejected:
    """A record (or a whole request) that is not acknowledged: its landed line and why."""

    line: str
    error: str
    index: int = 0
    failures: tuple[Failure, ...] = ()

    def as_json(self) -> dict:
        first = self.failures[0] if self.failures else None
        return {"index": self.index, "error": self.error,
                "field": first.column if first else "", "check": first.check if first else "",
                "failures": [{"field": f.column, "check": f.check, "error": f.detail} for f in self.failures]}


class _Object(dict):
    """A JSON object as read by the exact key check: its repeated top-level keys, if any."""

    __slots__ = ("repeated",)


def _object_hook(pairs: list[tuple[str, object]]) -> _Object:
    obj = _Object(pairs)
    obj.repeated = sorted(k for k, n in Counter(k for k, _ in pairs).items() if n > 1) if len(obj) != len(pairs) else []
    return obj


def repeated_keys(body: bytes, payload: object, *, batch: bool) -> list[list[str]]:
    """Per record of ``payload`` (parsed from ``body`` by orjson, which keeps the last of a repeated
    key), the top-level keys the body repeats; raises :class:`MalformedRequest` if the batch wrapper does.

    A body that is byte-for-byte its compact re-serialisation has none (the fast path); otherwise the
    body is read again with a parser that sees every key.
    """
    records = payload if isinstance(payload, list) else (
        payload["transactions"] if batch and isinstance(payload, dict) and "transactions" in payload else [payload])
    if orjson.dumps(payload) == body:
        return [[] for _ in records]
    text = body.decode("utf-8")
    if not batch:
        return [_duplicate_keys(text) if isinstance(payload, dict) and _may_repeat_keys(text, payload) else []]
    try:
        exact = json.loads(text, object_pairs_hook=_object_hook)
    except RecursionError:
        raise MalformedRequest("request body is nested too deeply") from None
    if isinstance(exact, _Object):
        if exact.repeated:
            raise MalformedRequest(f"batch body repeats key(s) {', '.join(exact.repeated)[:80]}: it is ambiguous")
        exact = exact["transactions"]
    return [item.repeated if isinstance(item, _Object) else [] for item in exact]


def _line_of(record: object) -> str:
    return orjson.dumps(record).decode("utf-8")


def classify(records: list, now: datetime | None = None,
             repeated: list[list[str]] | None = None) -> tuple[list[Accepted], list[Rejected]]:
    """Judge each record with the shared validator (and refuse an id repeated within the request)."""
    window = Window.at(now or datetime.now(timezone.utc))
    accepted: list[Accepted] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    for index, record in enumerate(records):
        line = _line_of(record)
        if repeated and repeated[index]:
            failures = (Failure("duplicate_key", "", f"repeated key(s) {', '.join(repeated[index])[:80]}: "
                                                     "the record is ambiguous"),)
        else:
            verdict = judge_record(record, window, line=line)
            failures = verdict.failures
        if not failures and record["transaction_id"] in seen:
            failures = (Failure("duplicate_id", "transaction_id", "repeated within this request"),)
        if failures:
            error = "; ".join(f.message() for f in failures)
            rejected.append(Rejected(line=line, error=error, index=index, failures=failures))
            continue
        seen.add(record["transaction_id"])
        accepted.append(Accepted(line=line, record=record, event_time=verdict.event_time))
    return accepted, rejected


def raw_lines(body: bytes) -> list[str]:
    """The lines of a body that is not JSON, exactly (undecodable bytes escaped)."""
    text = body.decode("utf-8", errors="backslashreplace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    return lines or [""]


def read_body(body: bytes, *, batch: bool) -> tuple[list, list[list[str]]]:
    """The records of a request body and the keys each repeats; :class:`MalformedRequest` with a
    clear message when the body as a whole cannot be read."""
    if not body.strip():
        raise MalformedRequest("empty request body: send a JSON object" + (" with a 'transactions' list" if batch else ""))
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedRequest(f"request body is not valid JSON: {exc}") from None
    if not batch:
        if not isinstance(payload, dict):
            raise MalformedRequest("request body must be one JSON object (a transaction)")
        return [payload], repeated_keys(body, payload, batch=False)
    records = payload
    if isinstance(payload, dict) and isinstance(payload.get("transactions"), list):
        records = payload["transactions"]
    if not isinstance(records, list):
        raise MalformedRequest("batch body must be a JSON list of transactions or {\"transactions\": [...]}")
    if not records:
        raise MalformedRequest("batch is empty: send at least one transaction")
    return records, repeated_keys(body, payload, batch=True)


def parse_body(body: bytes, *, batch: bool) -> list:
    """The records of a request body; raises :class:`MalformedRequest` with a clear message."""
    return read_body(body, batch=batch)[0]
