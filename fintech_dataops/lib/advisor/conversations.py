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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fintech_dataops.lib.ingestion import landing
from fintech_dataops.lib.ingestion.feeds import Feed

FEED_NAME = "advisor_conversations"
REDACTED = "[redacted]"
_PII_PATTERNS = (
    re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"),          # e-mail
    re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),  # IBAN
    re.compile(r"\b(?:\d[ -]?){12,19}\b"),                                     # card / account number
    re.compile(r"(?<!\w)\+?\d[\d ()-]{8,}\d\b"),                               # phone number
)


@dataclass(frozen=True)
class ConversationFeed(Feed):
    types: tuple[tuple[str, str], ...] = field(default=())

    @property
    def core_types(self) -> dict[str, str]:
        explicit = dict(self.types)
        return {name: explicit.get(name, "VARCHAR") for name in self.fields}


ADVISOR_CONVERSATIONS = ConversationFeed(
    name=FEED_NAME,
    id_field="turn_id",
    time_field="asked_time",
    fields=("turn_id", "conversation_id", "turn", "role", "customer_id", "question", "answer", "tools_used",
            "sources", "grounded", "declined", "mode", "asked_time"),
    description="One advisor turn per line: the PII-redacted question and answer, the tools and tables used, "
                "whether the answer passed the grounding check and whether the request was declined.",
    pii_fields=("question", "answer"),
    types=(("turn", "INTEGER"), ("grounded", "BOOLEAN"), ("declined", "BOOLEAN"), ("asked_time", "TIMESTAMP")),
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
    """Every landed day of the feed into ``raw.advisor_conversations`` (atomic per-day replaces)."""
    from fintech_dataops.lib.ingestion.raw_layer import load_raw_partitions

    days = [d.isoformat() for d in landing.landed_days(landing_dir, FEED_NAME)]
    return load_raw_partitions(con, landing_dir, FEED_NAME, days)


def load_core(con):
    """Validate every raw day into ``core.advisor_conversations`` / quarantine (``lib.quality.core_gate.QualityResult``)."""
    import fintech_dataops.schemas.advisor  # noqa: F401 - registers the contract
    from fintech_dataops.lib.quality.core_gate import QualityResult, load_core_partitions
    from fintech_dataops.lib.warehouse import table_exists

    days = []
    if table_exists(con, f"raw.{FEED_NAME}"):
        days = [str(d) for (d,) in con.execute(
            f"SELECT DISTINCT CAST(partition_date AS VARCHAR) FROM raw.{FEED_NAME} ORDER BY 1").fetchall()]
    if not days:
        return QualityResult(feed=FEED_NAME, partition_dates=[])
    return load_core_partitions(con, FEED_NAME, days)
