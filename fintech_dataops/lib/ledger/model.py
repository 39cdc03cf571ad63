"""Ledger entries and postings: integer minor units per currency, balanced on construction.

Sign convention: a posting's ``amount_minor`` is positive for a debit and negative for a credit, so
an entry balances when its postings sum to zero in every currency. Money never passes through a
float: amounts arrive as ``Decimal`` (or DuckDB DECIMAL) and are converted with the currency's ISO
4217 minor units, refusing an amount with more decimals than the currency allows.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

import orjson

from fintech_dataops.lib.money.currencies import minor_units

GENESIS_HASH = "0" * 64

# Account kinds (the id is "<kind>:<owner>"): who owes whom.
CUSTOMER = "customer"          # cardholder / borrower position
MERCHANT = "merchant"          # what the platform owes a merchant
PLATFORM_FEES = "platform_fees"  # fee revenue
SETTLEMENT = "settlement"      # the platform's settlement account on the chain, per currency
CHARGEBACKS = "chargebacks"    # chargebacks receivable (recovered from the merchant / acquirer)
LOANS = "loans"                # loan principal receivable, per lending partner
ACCOUNT_KINDS = (CUSTOMER, MERCHANT, PLATFORM_FEES, SETTLEMENT, CHARGEBACKS, LOANS)


class UnbalancedEntryError(ValueError):
    """An entry whose postings do not sum to zero in each currency: refused, never stored."""


class AmountPrecisionError(ValueError):
    """An amount with more decimals than its currency's minor units allow."""


def to_minor(amount: Decimal | int | str, currency: str) -> int:
    """``Decimal('12.34')`` USD → 1234; refuses sub-minor-unit amounts (12.345 USD) and floats."""
    if isinstance(amount, float):
        raise TypeError("money must not be a float: pass Decimal or str")
    value = Decimal(str(amount))
    scaled = value.scaleb(minor_units(currency))
    if scaled != scaled.to_integral_value():
        raise AmountPrecisionError(f"{amount} {currency} has more decimals than {currency} allows")
    return int(scaled)


def from_minor(amount_minor: int, currency: str) -> Decimal:
    return Decimal(int(amount_minor)).scaleb(-minor_units(currency))


def account_id(kind: str, owner: str) -> str:
    if kind not in ACCOUNT_KINDS:
        raise ValueError(f"unknown account kind {kind!r}")
    return f"{kind}:{owner}"


class Posting(NamedTuple):
    """One leg of an entry (a tuple: cheap to build for a month of entries)."""

    account_id: str
    currency: str
    amount_minor: int  # debit > 0, credit < 0


@dataclass(frozen=True)
class Entry:
    """One business event booked: ``event_id`` is its idempotency key (unique in the ledger)."""

    event_id: str
    kind: str
    event_time: datetime
    postings: tuple[Posting, ...]
    description: str = ""
    stream: str = "main"
    reverses: str | None = None  # event id of the entry this one reverses (corrections append, never update)

    def __post_init__(self):
        check_balanced(self.event_id, self.postings)


def check_balanced(event_id: str, postings) -> None:
    if len(postings) < 2:
        raise UnbalancedEntryError(f"entry {event_id}: a double-entry needs at least two postings")
    totals: dict[str, int] = defaultdict(int)
    for p in postings:
        if type(p.amount_minor) is not int:  # noqa: E721 - bool, float and Decimal are all refused
            raise TypeError(f"entry {event_id}: amount_minor must be an int, got {type(p.amount_minor).__name__}")
        totals[p.currency] += p.amount_minor
    off = {c: t for c, t in totals.items() if t != 0}
    if off:
        raise UnbalancedEntryError(f"entry {event_id} does not balance: postings sum to {off} (minor units)")


def reversal_of(entry: Entry, event_id: str, event_time: datetime, description: str = "") -> Entry:
    """The correcting entry: every posting negated, pointing at the entry it reverses."""
    return Entry(event_id=event_id, kind="reversal", event_time=event_time, stream=entry.stream,
                 postings=tuple(Posting(p.account_id, p.currency, -p.amount_minor) for p in entry.postings),
                 description=description or f"reversal of {entry.event_id}", reverses=entry.event_id)


@dataclass(frozen=True)
class StoredEntry:
    """An entry as stored: its place in the stream's chain."""

    entry_id: str
    stream: str
    seq: int
    event_id: str
    kind: str
    event_time: datetime
    postings: tuple[Posting, ...]
    prev_hash: str
    entry_hash: str
    reverses: str | None = None
    description: str = field(default="", compare=False)


def canonical_bytes(stream: str, seq: int, event_id: str, kind: str, event_time: datetime,
                    postings, prev_hash: str, reverses: str | None) -> bytes:
    """The bytes an entry's hash covers: sorted-key JSON, no whitespace, UTF-8, postings in stored order,
    times as ISO-8601 UTC to the microsecond. Anyone can recompute it from the stored columns
    (Python: ``json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()``)."""
    body = {
        "stream": stream, "seq": int(seq), "event_id": event_id, "kind": kind,
        "event_time": _iso(event_time), "reverses": reverses, "prev_hash": prev_hash,
        "postings": [[p.account_id, p.currency, int(p.amount_minor)] for p in postings],
    }
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def entry_hash(stream: str, seq: int, event_id: str, kind: str, event_time: datetime, postings,
               prev_hash: str, reverses: str | None) -> str:
    return hashlib.sha256(canonical_bytes(stream, seq, event_id, kind, event_time, postings, prev_hash,
                                          reverses)).hexdigest()


def _iso(value: datetime) -> str:
    return value.replace(tzinfo=None).isoformat(timespec="microseconds")
