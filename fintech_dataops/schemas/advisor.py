"""pandera contract of the advisor's conversation feed, registered with the feed registry.

Importing this module registers ``advisor_conversations``, so ``lib.quality.core_gate`` validates
``raw.advisor_conversations`` into ``core.advisor_conversations`` / ``quarantine.advisor_conversations``.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from fintech_dataops.lib.advisor.conversations import ADVISOR_CONVERSATIONS
from fintech_dataops.schemas.feeds import FeedModel, not_in_future
from fintech_dataops.schemas.registry import feed_for, register_feed

ROLES = ("customer", "risk", "credit", "pm")
_ID = {"str_length": {"min_value": 1, "max_value": 128}}


class AdvisorConversationsSchema(FeedModel):
    turn_id: Series[str] = pa.Field(unique=True, **_ID, description="Conversation id and turn number")
    conversation_id: Series[str] = pa.Field(**_ID, description="One advisor conversation (chat session)")
    turn: Series[pd.Int32Dtype] = pa.Field(ge=1, description="1-based turn number in the conversation")
    role: Series[str] = pa.Field(isin=ROLES, description="Who asked: a customer or a staff role")
    customer_id: Series[str] = pa.Field(nullable=True, description="The customer a customer session is bound to")
    question: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 20_000},
                                     description="The question, PII-redacted")
    answer: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 100_000},
                                   description="The answer given, PII-redacted")
    tools_used: Series[str] = pa.Field(nullable=True, description="Tools called this turn, comma-separated")
    sources: Series[str] = pa.Field(nullable=True, description="Tables the answer was built from, comma-separated")
    grounded: Series[pd.BooleanDtype] = pa.Field(description="Every number/date of the answer came from a tool result")
    declined: Series[pd.BooleanDtype] = pa.Field(description="The request was declined (out of scope or ungrounded)")
    mode: Series[str] = pa.Field(description="offline, or llm:<model>")
    asked_time: Series[pa.typing.DateTime] = pa.Field(description="When the question was asked (UTC)")

    @pa.check("asked_time", name="not_in_future")
    def _asked(cls, s: Series[pd.Timestamp]) -> Series[bool]:
        return not_in_future(s)

    @pa.dataframe_check(name="customer_sessions_name_their_customer")
    def _bound(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["role"] != "customer") | df["customer_id"].notna()


def register_advisor_feeds() -> None:
    """Idempotent: registers the conversation feed with its contract."""
    try:
        if feed_for(ADVISOR_CONVERSATIONS.name) is ADVISOR_CONVERSATIONS:
            return
    except KeyError:
        pass
    register_feed(ADVISOR_CONVERSATIONS, AdvisorConversationsSchema, replace=True)


register_advisor_feeds()
