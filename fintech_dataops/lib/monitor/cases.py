"""Case handling for fraud alerts: assign, note, close with a disposition — as landed events.

Every analyst action is one ``CaseEvent``, landed atomically as its own file in
``landing/fraud_dispositions/date=<day of the action>/case-<id>.jsonl``: the landing zone is the
append-only record (raw → core → ``fraud.dispositions`` like every other feed, lossless and
replayable), and the current state of each case (``CaseBook``) is a fold of those events, rebuilt
from the landed files when a monitor starts. Who acted comes from the staff key, never from the
request body.

A ``close`` with disposition ``confirmed_fraud`` is a fraud label whose reported time is the
disposition time (``fraud.dispositions`` → the label sources of ``lib.open_banking.tables``).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import orjson

from fintech_dataops.lib.ingestion.landing import land_batch, landed_days, landed_files
from fintech_dataops.schemas.dispositions import (  # noqa: F401 - the feed is declared with its contract
    ACTIONS, DISPOSITIONS, DISPOSITIONS_FEED, FEED_NAME, MAX_NOTE_CHARS,
)


class CaseActionError(ValueError):
    """An action the case cannot take (unknown action or disposition, note too long, unknown alert)."""


def _iso(moment: datetime) -> str:
    """Naive-UTC ISO text with microseconds: actions are folded in this order (see :func:`_action_time`)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


_clock_lock = threading.Lock()
_last_action_time: datetime | None = None


def _action_time() -> datetime:
    """Now, strictly after the previous action of this process: the case book folds actions by their
    time, so two actions in one clock tick (an assign, note and close in the same millisecond were
    seen in CI) must still sort in the order they were taken."""
    global _last_action_time
    with _clock_lock:
        now = datetime.now(UTC)
        if _last_action_time is not None and now <= _last_action_time:
            now = _last_action_time + timedelta(microseconds=1)
        _last_action_time = now
        return now


@dataclass(frozen=True)
class CaseEvent:
    disposition_id: str
    transaction_id: str
    customer_id: str
    merchant_id: str | None
    action: str
    disposition: str | None
    analyst: str
    assignee: str | None
    note: str | None
    # A JSON number, as the contract of every feed wants it: the shortest text of the float of an amount
    # with at most the currency's minor units is that amount exactly, and core stores it as DECIMAL.
    amount: float | None
    currency: str | None
    event_time: str | None
    alerted_time: str | None
    reported_time: str

    def line(self) -> bytes:
        return orjson.dumps(asdict(self))


def new_event(alert: dict, *, action: str, analyst: str, disposition: str | None = None, assignee: str | None = None,
              note: str | None = None, now: datetime | None = None) -> CaseEvent:
    """One case action on ``alert`` (a queue row), validated the way core will judge it."""
    if action not in ACTIONS:
        raise CaseActionError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
    if action == "close" and disposition not in DISPOSITIONS:
        raise CaseActionError(f"closing needs a disposition: one of {', '.join(DISPOSITIONS)}")
    if action != "close" and disposition is not None:
        raise CaseActionError("a disposition is given only when closing")
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise CaseActionError(f"a note holds at most {MAX_NOTE_CHARS} characters")
    if action == "note" and note is None:
        raise CaseActionError("an empty note")
    if action == "assign":
        assignee = (assignee or analyst).strip()
    amount = alert.get("amount")
    return CaseEvent(
        disposition_id=uuid.uuid4().hex,
        transaction_id=str(alert["transaction_id"]),
        customer_id=str(alert["customer_id"]),
        merchant_id=alert.get("merchant_id"),
        action=action,
        disposition=disposition,
        analyst=analyst,
        assignee=assignee if action == "assign" else None,
        note=note,
        amount=None if amount is None else float(Decimal(str(amount))),
        currency=alert.get("currency"),
        event_time=alert.get("event_time"),
        alerted_time=alert.get("alerted_at"),
        reported_time=_iso(now or _action_time()),
    )


def land_event(landing_dir: Path, event: CaseEvent) -> Path:
    """Land ``event`` as its own immutable file under the day of the action (atomic, fsync'd)."""
    day = event.reported_time[:10]
    return land_batch(Path(landing_dir), FEED_NAME, day, f"case-{event.disposition_id}", event.line() + b"\n")


def read_landed_events(landing_dir: Path) -> list[dict]:
    """Every well-formed landed case event, in action order (malformed lines are core's to quarantine)."""
    events = []
    for day in landed_days(Path(landing_dir), FEED_NAME):
        for path in landed_files(Path(landing_dir), FEED_NAME, day):
            if path.suffix != ".jsonl":
                continue
            for line in path.read_bytes().splitlines():
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(record, dict) and record.get("transaction_id") and record.get("action") in ACTIONS:
                    events.append(record)
    events.sort(key=lambda e: (str(e.get("reported_time") or ""), str(e.get("disposition_id") or "")))
    return events


@dataclass
class Case:
    transaction_id: str
    status: str = "open"  # open → assigned → closed
    assignee: str | None = None
    disposition: str | None = None
    closed_by: str | None = None
    closed_at: str | None = None
    notes: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return asdict(self)


class CaseBook:
    """The current state of every case: a fold of its events (thread-safe)."""

    def __init__(self, events: list[dict] | None = None):
        self._cases: dict[str, Case] = {}
        self._lock = threading.Lock()
        for event in events or []:
            self.apply(event)

    @classmethod
    def from_landing(cls, landing_dir: Path) -> CaseBook:
        return cls(read_landed_events(landing_dir))

    def apply(self, event: dict) -> Case:
        with self._lock:
            case = self._cases.setdefault(event["transaction_id"], Case(event["transaction_id"]))
            who, when = event.get("analyst"), event.get("reported_time")
            case.history.append({"action": event["action"], "analyst": who, "at": when,
                                 "disposition": event.get("disposition"), "assignee": event.get("assignee")})
            if event.get("note"):
                case.notes.append({"analyst": who, "at": when, "note": event["note"]})
            if event["action"] == "assign":
                case.assignee = event.get("assignee") or who
                if case.status == "open":
                    case.status = "assigned"
            elif event["action"] == "close":
                case.status, case.disposition = "closed", event.get("disposition")
                case.closed_by, case.closed_at = who, when
                case.assignee = case.assignee or who
            return case

    def get(self, transaction_id: str) -> Case | None:
        with self._lock:
            return self._cases.get(transaction_id)

    def snapshot(self) -> dict[str, Case]:
        with self._lock:
            return dict(self._cases)


def record_action(book: CaseBook, landing_dir: Path, alert: dict, **action) -> tuple[CaseEvent, Case]:
    """Validate, land (durable first), then apply one action: a case never shows what was not landed."""
    event = new_event(alert, **action)
    land_event(landing_dir, event)
    return event, book.apply(asdict(event))
