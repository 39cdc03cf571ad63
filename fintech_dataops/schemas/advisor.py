"""The advisor's conversation feed, declared once.

``advisor_conversations`` goes landing → ``raw.advisor_conversations`` → ``core.advisor_conversations``
(+ quarantine) like every other feed. Question and answer are free text typed by people: redacted at
the source (``lib.advisor.conversations.redact``) and still masked in the product manager's views.
"""

from __future__ import annotations

import pandas as pd

from fintech_dataops.schemas.declaration import BOOLEAN, INTEGER, NOT_IN_FUTURE, TIMESTAMP, VARCHAR, Column, Feed, Rule

FEED_NAME = "advisor_conversations"
ROLES = ("customer", "risk", "credit", "pm")


def _customer_sessions_name_their_customer(df: pd.DataFrame) -> pd.Series:
    return (df["role"] != "customer") | df["customer_id"].notna()


ADVISOR_CONVERSATIONS = Feed(
    name=FEED_NAME,
    id_field="turn_id",
    time_field="asked_time",
    domain="advisor",
    description="One advisor turn per line: the PII-redacted question and answer, the tools and tables used, "
                "whether the answer passed the grounding check and whether the request was declined.",
    partitioning="landed_days",
    columns=(
        Column("turn_id", VARCHAR, "Conversation id and turn number", unique=True, str_length=(1, 128)),
        Column("conversation_id", VARCHAR, "One advisor conversation (chat session)", str_length=(1, 128)),
        Column("turn", INTEGER, "1-based turn number in the conversation", ge=1),
        Column("role", VARCHAR, "Who asked: a customer or a staff role", isin=ROLES),
        Column("customer_id", VARCHAR, "The customer a customer session is bound to", nullable=True),
        Column("question", VARCHAR, "The question, PII-redacted", str_length=(1, 20000), pii="free_text"),
        Column("answer", VARCHAR, "The answer given, PII-redacted", str_length=(1, 100000), pii="free_text"),
        Column("tools_used", VARCHAR, "Tools called this turn, comma-separated", nullable=True),
        Column("sources", VARCHAR, "Tables the answer was built from, comma-separated", nullable=True),
        Column("grounded", BOOLEAN, "Every number/date of the answer came from a tool result"),
        Column("declined", BOOLEAN, "The request was declined (out of scope or ungrounded)"),
        Column("mode", VARCHAR, "offline, or llm:<model>"),
        Column("asked_time", TIMESTAMP, "When the question was asked (UTC)", rules=(NOT_IN_FUTURE,)),
    ),
    row_rules=(Rule("customer_sessions_name_their_customer", _customer_sessions_name_their_customer),),
)
