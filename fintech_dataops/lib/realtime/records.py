"""What the service accepts: one transaction per record, checked before it is scored.

A record the service cannot score is *data*, not an exception: the request gets
a 4xx with a message naming the field, and the exact record is still landed in
the ``transactions`` feed so the core layer quarantines it with its reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import orjson

from fintech_dataops.schemas.vocabulary import CHANNELS, CURRENCY_CODES, FUTURE_SKEW, MAX_TRANSACTION_AMOUNT

# The same rules as the core contract (schemas/feeds.py, TransactionsModel), checked by hand
# because a pandera call per request costs milliseconds: what the service acknowledges
# passes the quality gate downstream instead of being quarantined after the fact.
REQUIRED_TEXT_FIELDS = ("transaction_id", "customer_id", "merchant_id")
OPTIONAL_TEXT_FIELDS = ("merchant_category", "device_id")
MAX_ID_LENGTH = 64
_CURRENCIES = frozenset(CURRENCY_CODES)
_CHANNELS = frozenset(CHANNELS)
_COUNTRY_RE = re.compile(r"[A-Z]{2}")


class MalformedRequest(ValueError):
    """The request body as a whole cannot be read (not JSON, wrong shape)."""


@dataclass(slots=True)
class Accepted:
    """A scorable record: its exact landed line, the record and its event time."""

    line: str
    record: dict
    event_time: datetime


@dataclass(slots=True)
class Rejected:
    """A record that cannot be scored: its exact landed line and why."""

    line: str
    error: str
    index: int = 0


def parse_event_time(value: object) -> datetime | None:
    """ISO-8601 text → aware UTC datetime (naive text is UTC, as in the landing zone)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def record_error(record: object, now: datetime | None = None) -> str | None:
    """Why ``record`` cannot be scored, or None when it can."""
    if not isinstance(record, dict):
        return f"a transaction must be a JSON object, got {type(record).__name__}"
    for name in REQUIRED_TEXT_FIELDS:
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            return f"{name} is required and must be a non-empty string"
        if len(value) > MAX_ID_LENGTH:
            return f"{name} is longer than {MAX_ID_LENGTH} characters"
    amount = record.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        return "amount is required and must be a number"
    if not math.isfinite(amount) or amount <= 0 or amount > MAX_TRANSACTION_AMOUNT:
        return f"amount must be greater than 0 and at most {MAX_TRANSACTION_AMOUNT:,.0f}"
    currency = record.get("currency")
    if not isinstance(currency, str) or currency not in _CURRENCIES:
        return "currency is required and must be an ISO 4217 code (e.g. USD)"
    channel = record.get("channel")
    if not isinstance(channel, str) or channel not in _CHANNELS:
        return f"channel is required and must be one of: {', '.join(CHANNELS)}"
    country = record.get("country")
    if not isinstance(country, str) or not _COUNTRY_RE.fullmatch(country):
        return "country is required and must be an ISO 3166 alpha-2 code (e.g. US)"
    for name in OPTIONAL_TEXT_FIELDS:
        if record.get(name) is not None and not isinstance(record[name], str):
            return f"{name} must be a string or null"
    event_time = parse_event_time(record.get("event_time"))
    if event_time is None:
        return "event_time is required and must be an ISO-8601 timestamp (e.g. 2026-01-31T12:00:00Z)"
    if event_time > (now or datetime.now(timezone.utc)) + FUTURE_SKEW:
        return f"event_time is more than {FUTURE_SKEW} in the future"
    return None


def _line_of(record: object) -> str:
    return orjson.dumps(record).decode("utf-8")


def raw_lines(body: bytes) -> list[str]:
    """The landed form of a body that is not JSON: its lines, exactly (undecodable bytes escaped)."""
    text = body.decode("utf-8", errors="backslashreplace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    return lines or [""]


def classify(records: list, now: datetime | None = None) -> tuple[list[Accepted], list[Rejected]]:
    now = now or datetime.now(timezone.utc)
    accepted: list[Accepted] = []
    rejected: list[Rejected] = []
    for index, record in enumerate(records):
        line = _line_of(record)
        error = record_error(record, now)
        if error is None:
            accepted.append(Accepted(line=line, record=record, event_time=parse_event_time(record["event_time"])))
        else:
            rejected.append(Rejected(line=line, error=error, index=index))
    return accepted, rejected


def parse_body(body: bytes, *, batch: bool) -> list:
    """The records of a request body; raises :class:`MalformedRequest` with a clear message."""
    if not body.strip():
        raise MalformedRequest("empty request body: send a JSON object" + (" with a 'transactions' list" if batch else ""))
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedRequest(f"request body is not valid JSON: {exc}") from None
    if not batch:
        if not isinstance(payload, dict):
            raise MalformedRequest("request body must be one JSON object (a transaction)")
        return [payload]
    if isinstance(payload, dict) and isinstance(payload.get("transactions"), list):
        payload = payload["transactions"]
    if not isinstance(payload, list):
        raise MalformedRequest("batch body must be a JSON list of transactions or {\"transactions\": [...]}")
    if not payload:
        raise MalformedRequest("batch is empty: send at least one transaction")
    return payload
