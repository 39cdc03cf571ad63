"""The transaction contract, in one place, and the ONE validator both paths call.

Contract (what a partner file line or a service request must carry):

- required: ``transaction_id, customer_id, merchant_id`` (non-blank text, at most 64 characters),
  ``amount`` (a JSON number, 0 < amount <= 1,000,000, no more decimals than the currency's ISO 4217
  minor units: JPY 0, USD 2, BHD 3), ``currency`` (an accepted ISO 4217 code),
  ``event_time`` (``YYYY-MM-DDTHH:MM[:SS[.fraction]]`` with ``Z`` or ``±HH:MM`` up to ±14:00,
  naive = UTC; not before the platform's first day, not more than ``FUTURE_SKEW`` ahead of now);
- optional, null or absent = unknown: ``channel`` (one of ``CHANNELS``), ``merchant_category``,
  ``country`` (an assigned ISO 3166-1 alpha-2 code), ``device_id``;
- any other field is allowed and kept in raw; a repeated key makes the record ambiguous, so it
  is refused; a line longer than ``MAX_RECORD_BYTES`` is refused.

:func:`judge_line` is what the online service calls on every record before it acknowledges it,
and what the core quality gate (``lib.quality.core_gate``) calls on every raw line of ``transactions``:
whatever one path refuses, the other does too, and a property test holds them to it. The pandera
contract derived from the ``transactions`` declaration (``schemas/feeds.py``) stays the contract of the stored table; this module
decides record by record, fast enough for a request (a few µs a record).

A value rule is one :class:`RecordCheck` in :data:`TRANSACTION_CHECKS`: a name (the quarantine
``failed_checks`` entry), the column it judges, the columns it reads (already typed), and a test
returning the reason or None. Another rule (e.g. ISO 4217 minor units) is one more entry.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

import orjson

from fintech_dataops.schemas.vocabulary import (
    CHANNELS, CURRENCY_CODES, FIRST_EVENT_DAY, FUTURE_SKEW, MAX_TRANSACTION_AMOUNT, minor_units,
)

ID_FIELDS = ("transaction_id", "customer_id", "merchant_id")
REQUIRED_FIELDS = (*ID_FIELDS, "amount", "currency", "event_time")
OPTIONAL_FIELDS = ("channel", "merchant_category", "country", "device_id")
CONTRACT_FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS
MAX_ID_LENGTH = 64
MAX_TEXT_LENGTH = 200          # merchant_category, device_id
MAX_RECORD_BYTES = 16 * 1024   # a card transaction is ~300 bytes; raw keeps up to 1 MiB, flagged
_MAX_OFFSET_MINUTES = 14 * 60  # the widest UTC offset in use (Kiribati, +14:00)
# The marker the service puts on the one line it lands for a refused request (see refused_line).
REFUSED_MARKER = "refused_by_service"

_CURRENCIES = frozenset(CURRENCY_CODES)
_CHANNELS = frozenset(CHANNELS)
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?"
)


@lru_cache(maxsize=1)
def iso_country_codes() -> frozenset[str]:
    """The assigned ISO 3166-1 alpha-2 codes (pycountry's ISO data; ``ZZ``, ``UK``, ``XK`` are not)."""
    import pycountry

    return frozenset(country.alpha_2 for country in pycountry.countries)


class Failure(NamedTuple):
    check: str    # the quarantine ``failed_checks`` entry
    column: str   # '' for a failure of the whole line
    detail: str   # human reason

    def message(self) -> str:
        return f"{self.column}: {self.detail}" if self.column else self.detail


@dataclass(frozen=True)
class Window:
    """When an event may have happened: from the first partition day up to ``now + future_skew``."""

    now: datetime
    first_day: date = FIRST_EVENT_DAY
    future_skew: timedelta = FUTURE_SKEW

    @classmethod
    def at(cls, now: datetime | None = None) -> Window:
        now = now or datetime.now(timezone.utc)
        return cls(now=now if now.tzinfo else now.replace(tzinfo=timezone.utc))


@dataclass(frozen=True)
class RecordCheck:
    """One declared value rule: runs when every column it reads was present and well typed."""

    name: str
    column: str
    reads: tuple[str, ...]
    test: Callable[[dict, Window], str | None]


class Verdict(NamedTuple):
    record: dict | None            # the parsed record (None when the line is not a JSON object)
    event_time: datetime | None    # aware UTC, when it parsed
    failures: tuple[Failure, ...]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def refused_by_service(self) -> bool:
        return any(f.check == REFUSED_MARKER for f in self.failures)


def parse_timestamp(value: str) -> datetime | None:
    """Contract timestamp text → aware UTC datetime (sub-microsecond digits truncated, as DuckDB does)."""
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        return None
    offset = match.group(8)
    if offset and offset != "Z" and (int(offset[4:6]) > 59 or int(offset[1:3]) * 60 + int(offset[4:6]) > _MAX_OFFSET_MINUTES):
        return None
    try:
        # the shape is the contract's (the regex); fromisoformat (C) range-checks the date and time
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # year 1 with a positive offset
        return None


def _duplicate_keys(line: str | bytes) -> list[str]:
    """The top-level keys ``line`` repeats (orjson keeps the last, DuckDB the first: neither is safe)."""
    try:
        top = json.loads(line, object_pairs_hook=lambda items: items)
    except RecursionError:
        return ["(nested too deeply to check)"]
    except ValueError:
        return []
    if not isinstance(top, list):
        return []
    return sorted(key for key, n in Counter(k for k, _ in top).items() if n > 1)


_SPACED_KEY_END = re.compile(r'"\s+:')


def _may_repeat_keys(line: str, record: dict) -> bool:
    """Cheap necessary condition for a repeated key (the exact check is slower).

    Without a backslash no string can hold a quote, so every ``":`` ends a key: when the line has
    exactly as many as the record has keys (and no ``" :`` spacing), no key is repeated.
    """
    if "\\" in line:
        return True  # an escaped key can spell another key differently
    return line.count('":') != len(record) or _SPACED_KEY_END.search(line) is not None


def _amount_range(values: dict, window: Window) -> str | None:
    amount = values["amount"]
    if not amount > 0:
        return f"must be greater than 0 (got {amount!r})"
    return None


def _amount_cap(values: dict, window: Window) -> str | None:
    amount = values["amount"]
    if not amount <= MAX_TRANSACTION_AMOUNT:
        return f"must be at most {MAX_TRANSACTION_AMOUNT:,.0f} (got {amount!r})"
    return None


def _currency(values: dict, window: Window) -> str | None:
    return None if values["currency"] in _CURRENCIES else \
        f"not an accepted ISO 4217 currency code ({values['currency'][:12]!r})"


def _fraction_digits(amount: float) -> int:
    """Decimals of a JSON number as DuckDB reads it (the shortest repr of the double; 12.100 has 1)."""
    text = repr(amount)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return len(text.partition(".")[2].rstrip("0"))


@lru_cache(maxsize=None)
def _allowed_decimals(currency: str) -> int:
    return minor_units(currency)


def _minor_units(values: dict, window: Window) -> str | None:
    allowed = _allowed_decimals(values["currency"])
    if _fraction_digits(values["amount"]) > allowed:
        return f"more decimals than {values['currency']} allows ({allowed}): {values['amount']!r}"
    return None


def _channel(values: dict, window: Window) -> str | None:
    channel = values["channel"]
    return None if channel is None or channel in _CHANNELS else \
        f"not an allowed channel ({channel[:20]!r}; one of {', '.join(CHANNELS)}, or null)"


def _country(values: dict, window: Window) -> str | None:
    country = values["country"]
    return None if country is None or country in iso_country_codes() else \
        f"not an assigned ISO 3166-1 alpha-2 country code ({country[:12]!r}; or null)"


def _not_in_future(values: dict, window: Window) -> str | None:
    if values["event_time"] > window.now + window.future_skew:
        return f"more than {window.future_skew} ahead of the clock"
    return None


def _not_before_first_day(values: dict, window: Window) -> str | None:
    if values["event_time"].date() < window.first_day:
        return f"before the platform's first day {window.first_day.isoformat()}"
    return None


def _blank(name: str):
    def test(values: dict, window: Window) -> str | None:
        value = values[name]
        if not value.strip():
            return "must not be empty or blank"
        if len(value) > MAX_ID_LENGTH:
            return f"longer than {MAX_ID_LENGTH} characters"
        return None
    return test


def _text_length(name: str):
    def test(values: dict, window: Window) -> str | None:
        value = values[name]
        return None if value is None or len(value) <= MAX_TEXT_LENGTH else f"longer than {MAX_TEXT_LENGTH} characters"
    return test


# The value rules, in reporting order. Names match the quarantine check names the pandera
# contract uses for the same rule, so a reason reads the same whichever judge found it.
TRANSACTION_CHECKS: list[RecordCheck] = [
    *(RecordCheck("str_length", name, (name,), _blank(name)) for name in ID_FIELDS),
    RecordCheck("greater_than", "amount", ("amount",), _amount_range),
    RecordCheck("less_than_or_equal_to", "amount", ("amount",), _amount_cap),
    RecordCheck("isin", "currency", ("currency",), _currency),
    RecordCheck("minor_units", "amount", ("amount", "currency"), _minor_units),
    RecordCheck("not_before_first_day", "event_time", ("event_time",), _not_before_first_day),
    RecordCheck("not_in_future", "event_time", ("event_time",), _not_in_future),
    RecordCheck("isin", "channel", ("channel",), _channel),
    RecordCheck("iso_country", "country", ("country",), _country),
    *(RecordCheck("str_length", name, (name,), _text_length(name)) for name in ("merchant_category", "device_id")),
]


_TEXT_FIELDS = tuple(name for name in CONTRACT_FIELDS if name not in ("amount", "event_time"))


def _typed_values(record: dict) -> tuple[dict, list[Failure]]:
    """Presence and JSON type of every contract field → typed values, and the failures."""
    # The usual record: every required field there, text fields text (or an optional one null).
    values = {name: record.get(name) for name in CONTRACT_FIELDS}
    amount, event_time = values["amount"], values["event_time"]
    if ((type(amount) is float and math.isfinite(amount)) or type(amount) is int) and type(event_time) is str \
            and all(type(values[n]) is str or (values[n] is None and n in OPTIONAL_FIELDS) for n in _TEXT_FIELDS):
        moment = parse_timestamp(event_time)
        if moment is not None:
            values["amount"], values["event_time"] = float(amount), moment
            return values, []
    values = {}
    failures: list[Failure] = []
    for name in CONTRACT_FIELDS:
        required = name in REQUIRED_FIELDS
        if name not in record:
            if required:
                failures.append(Failure("missing_field", name, "missing required field"))
            else:
                values[name] = None
            continue
        value = record[name]
        if value is None:
            if required:
                failures.append(Failure("not_nullable", name, "null not allowed"))
            else:
                values[name] = None
            continue
        if name == "amount":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                failures.append(Failure("wrong_type", name, f"expected a number, got {type(value).__name__}"))
            elif not math.isfinite(float(value)):
                failures.append(Failure("less_than_or_equal_to", name, "not a finite number"))
            else:
                values[name] = float(value)
            continue
        if not isinstance(value, str):
            failures.append(Failure("wrong_type", name, f"expected a string, got {type(value).__name__}"))
            continue
        if name == "event_time":
            moment = parse_timestamp(value)
            if moment is None:
                failures.append(Failure(
                    "unparseable_timestamp", name,
                    f"not an ISO-8601 timestamp like 2026-01-31T12:00:00Z ({value[:40]!r})"))
            else:
                values[name] = moment
            continue
        values[name] = value
    return values, failures


def judge_record(record: object, window: Window, *, line: str | None = None) -> Verdict:
    """Every failure of one parsed record (``line``: its landed text, for the size rule)."""
    if not isinstance(record, dict):
        return Verdict(None, None, (Failure("not_an_object", "", "JSON value is not an object"),))
    if REFUSED_MARKER in record:
        return Verdict(record, None, (Failure(REFUSED_MARKER, "", _refusal_reason(record[REFUSED_MARKER])),))
    values, failures = _typed_values(record)
    passed = not failures
    if passed:  # the usual case: every field present and well typed; does every rule pass?
        for check in TRANSACTION_CHECKS:
            if check.test(values, window) is not None:
                passed = False
                break
    if not passed:  # judge each column once: its first failure is its reason
        failed = {f.column for f in failures}
        for check in TRANSACTION_CHECKS:
            if check.column in failed or not failed.isdisjoint(check.reads):
                continue
            detail = check.test(values, window)
            if detail is not None:
                failures.append(Failure(check.name, check.column, detail))
                failed.add(check.column)
    if line is not None and len(line.encode("utf-8")) > MAX_RECORD_BYTES:
        failures.append(Failure("record_too_large", "", f"record longer than {MAX_RECORD_BYTES:,} bytes"))
    return Verdict(record, values.get("event_time"), tuple(failures))


def judge_line(line: str, window: Window) -> Verdict:
    """Every failure of one landed line (what core quarantines, what the service refuses)."""
    if len(line) > MAX_RECORD_BYTES * 4 or len(line.encode("utf-8", errors="surrogatepass")) > MAX_RECORD_BYTES:
        return Verdict(None, None, (Failure("record_too_large", "", f"record longer than {MAX_RECORD_BYTES:,} bytes"),))
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return Verdict(None, None, (Failure("invalid_json", "", "invalid JSON"),))
    if isinstance(record, dict) and _may_repeat_keys(line, record):
        repeated = _duplicate_keys(line)
        if repeated:
            return Verdict(record, None, (Failure(
                "duplicate_key", "", f"repeated key(s) {', '.join(repeated)[:80]}: the record is ambiguous"),))
    return judge_record(record, window)


def _refusal_reason(envelope: object) -> str:
    if isinstance(envelope, dict):
        return f"refused by the online service with {envelope.get('status')}: {str(envelope.get('error'))[:200]}"
    return "refused by the online service"


def refused_line(*, status: int, error: str, body: bytes, received_at: datetime, path: str,
                 errors: int = 1, head_bytes: int = 512, body_bytes: int | None = None) -> str:
    """The ONE landed line standing for a refused request, whatever its size: what, why, a digest, a head."""
    import hashlib

    envelope = {REFUSED_MARKER: {
        "status": status, "error": error[:500], "errors": errors, "path": path,
        "received_at": received_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
        "body_bytes": len(body) if body_bytes is None else body_bytes,
        # the digest of what was read (a body refused for its size is not read past the limit)
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "body_head": body[:head_bytes].decode("utf-8", errors="backslashreplace"),
    }}
    return orjson.dumps(envelope).decode("utf-8")
