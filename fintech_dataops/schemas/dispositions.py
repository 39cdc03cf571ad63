"""The ``fraud_dispositions`` feed (the monitor's case actions), declared once.

A case action that is not one of assign / note / close, a close without a disposition (or a
disposition on anything but a close), an unknown disposition, an amount out of range or a time in
the future is quarantined in ``quarantine.fraud_dispositions`` with its reason: a bad label never
reaches training.
"""

from __future__ import annotations

import pandas as pd

from fintech_dataops.schemas import vocabulary as v
from fintech_dataops.schemas.declaration import MONEY, NOT_IN_FUTURE, TIMESTAMP, VARCHAR, Column, Feed, Rule

FEED_NAME = "fraud_dispositions"
ACTIONS = ("assign", "note", "close")
DISPOSITIONS = ("confirmed_fraud", "legitimate", "unsure")
MAX_NOTE_CHARS = 2000


def _disposition_only_on_close(df: pd.DataFrame) -> pd.Series:
    return (df["action"] == "close") == df["disposition"].notna()


DISPOSITIONS_FEED = Feed(
    name=FEED_NAME,
    id_field="disposition_id",
    time_field="reported_time",
    domain="monitor",
    description=(
        "Fraud analysts' case actions from the monitor (assign, note, close with a disposition: "
        "confirmed_fraud / legitimate / unsure), who and when, append-only."
    ),
    columns=(
        Column("disposition_id", VARCHAR, "Case action id (unique)", unique=True, str_length=(1, 64)),
        Column("transaction_id", VARCHAR, "The alerted transaction", str_length=(1, 64)),
        Column("customer_id", VARCHAR, "Its customer", str_length=(1, 64)),
        Column("merchant_id", VARCHAR, "Its merchant", nullable=True),
        Column("action", VARCHAR, "assign / note / close", isin=ACTIONS),
        Column("disposition", VARCHAR, "On a close: confirmed_fraud / legitimate / unsure", nullable=True, isin=DISPOSITIONS),
        Column("analyst", VARCHAR, "Who acted (from the staff key, never the request body)", str_length=(1, 64)),
        Column("assignee", VARCHAR, "On an assign: who the case is assigned to", nullable=True),
        Column("note", VARCHAR, "Analyst's note", nullable=True, str_length=(None, MAX_NOTE_CHARS)),
        Column("amount", MONEY, "Alerted amount as charged (DECIMAL)", gt=0, le=v.MAX_TRANSACTION_AMOUNT),
        Column("currency", VARCHAR, "ISO 4217 currency of amount", isin=v.CURRENCY_CODES),
        Column("event_time", TIMESTAMP, "Event time of the alerted transaction (UTC)"),
        Column("alerted_time", TIMESTAMP, "When the alert was raised (UTC)", nullable=True),
        Column("reported_time", TIMESTAMP, "When the analyst acted (UTC): a label's reported time", rules=(NOT_IN_FUTURE,)),
    ),
    row_rules=(Rule("disposition_only_on_close", _disposition_only_on_close),),
)
