"""Conversations as data: every advisor turn lands, PII-redacted, as the ``advisor_conversations`` feed.

The feed goes landing → ``raw.advisor_conversations`` → ``core.advisor_conversations`` (+ quarantine) like
every other source, so the quality of the advisor (groundedness, declines, tools used) is queryable.
Free text is redacted before it is written: e-mail addresses, card / account numbers and phone numbers
typed into a question, and the customer's own name and e-mail when known. Customer ids are pseudonymous
keys and stay, as everywhere else in the warehouse.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.ingestion.landed_days import load_core_feed, load_raw_feed
from fintech_dataops.schemas.advisor import ADVISOR_CONVERSATIONS, FEED_NAME  # noqa: F401 - declared with its contract

REDACTED = "[redacted]"
_PII_PATTERNS = (
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),          # e-mail
    re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),  # IBAN
    re.compile(r"\b(?:\d[ -]?){12,19}\b"),                                     # card / account number
    re.compile(r"(?<!\w)\+?\d[\d ()-]{8,}\d\b"),                               # phone number
)


def redact(text: str, known: tuple[str, ...] = ()) -> str:
    for value in known:
        if value and len(value) >= 3:
            text = re.sub(re.escape(value), REDACTED, text, flags=re.IGNORECASE)
    for pattern in _PII_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def turn_record(*, conversation_id: str, turn: int, role: str, customer_id: str | None, question: str,
                answer: dict, asked_time: datetime | None = None, known_pii: tuple[str, ...] = ()) -> dict:
    asked_time = (asked_time or datetime.now(UTC)).astimezone(UTC)
    return {
        "turn_id": f"{conversation_id}-{turn}", "conversation_id": conversation_id, "turn": turn, "role": role,
        "customer_id": customer_id, "question": redact(question, known_pii),
        "answer": redact(answer["answer"], known_pii), "tools_used": ",".join(answer["tools_used"]),
        "sources": ",".join(answer["sources"]), "grounded": bool(answer["grounded"]),
        "declined": bool(answer["declined"]), "mode": answer["mode"],
        "asked_time": asked_time.isoformat().replace("+00:00", "Z"),
    }


def new_conversation_id() -> str:
    return f"V{uuid.uuid4().hex[:16]}"


def land_turns(data_dir: Path, records: list[dict]) -> Path | None:
    """Land the records as one immutable batch in today's (UTC) partition of the feed."""
    if not records:
        return None
    day = records[-1]["asked_time"][:10]
    batch_id = f"{records[-1]['turn_id']}-{uuid.uuid4().hex[:8]}"
    return landing.land_lines(Path(data_dir) / "landing", FEED_NAME, day, batch_id,
                              [json.dumps(r, ensure_ascii=False) for r in records])


def known_pii(con, customer_id: str | None) -> tuple[str, ...]:
    """The customer's own name and e-mail, to redact them if typed into the conversation."""
    from fintech_dataops.lib.warehouse import table_exists

    if not customer_id or not table_exists(con, "core.customers"):
        return ()
    row = con.execute("SELECT full_name, email FROM core.customers WHERE customer_id = ? LIMIT 1",
                      [customer_id]).fetchone()
    return tuple(v for v in (row or ()) if v)


def load_raw(con, landing_dir: Path):
    """Load every landed day into ``raw.advisor_conversations`` (atomic per-day replaces)."""
    return load_raw_feed(con, landing_dir, FEED_NAME)


def load_core(con):
    """Validate every raw day into ``core.advisor_conversations`` / quarantine (``lib.quality.core_gate.QualityResult``)."""
    return load_core_feed(con, FEED_NAME)
