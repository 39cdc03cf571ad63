"""pandera contract of the ``fraud_dispositions`` feed (the monitor's case actions), registered on import.

A case action that is not one of assign / note / close, a close without a disposition (or a
disposition on anything but a close), an unknown disposition, an amount out of range or a time in
the future is quarantined in ``quarantine.fraud_dispositions`` with its reason: a bad label never
reaches training.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from fintech_dataops.lib.monitor.cases import ACTIONS, DISPOSITIONS, DISPOSITIONS_FEED, MAX_NOTE_CHARS
from fintech_dataops.schemas import vocabulary as v
from fintech_dataops.schemas.feeds import FeedModel, not_in_future
from fintech_dataops.schemas.registry import feed_for, register_feed

_ID = {"min_value": 1, "max_value": 64}


class FraudDispositionsSchema(FeedModel):
    disposition_id: Series[str] = pa.Field(unique=True, str_length=_ID, description="Case action id (unique)")
    transaction_id: Series[str] = pa.Field(str_length=_ID, description="The alerted transaction")
    customer_id: Series[str] = pa.Field(str_length=_ID, description="Its customer")
    merchant_id: Series[str] = pa.Field(nullable=True, description="Its merchant")
    action: Series[str] = pa.Field(isin=ACTIONS, description="assign / note / close")
    disposition: Series[str] = pa.Field(nullable=True, isin=DISPOSITIONS,
                                        description="On a close: confirmed_fraud / legitimate / unsure")
    analyst: Series[str] = pa.Field(str_length=_ID, description="Who acted (from the staff key, never the request body)")
    assignee: Series[str] = pa.Field(nullable=True, description="On an assign: who the case is assigned to")
    note: Series[str] = pa.Field(nullable=True, str_length={"max_value": MAX_NOTE_CHARS}, description="Analyst's note")
    amount: Series[float] = pa.Field(gt=0, le=v.MAX_TRANSACTION_AMOUNT, description="Alerted amount as charged (DECIMAL)")
    currency: Series[str] = pa.Field(isin=v.CURRENCY_CODES, description="ISO 4217 currency of amount")
    event_time: Series[pa.typing.DateTime] = pa.Field(description="Event time of the alerted transaction (UTC)")
    alerted_time: Series[pa.typing.DateTime] = pa.Field(nullable=True, description="When the alert was raised (UTC)")
    reported_time: Series[pa.typing.DateTime] = pa.Field(description="When the analyst acted (UTC): a label's reported time")

    @pa.dataframe_check(name="disposition_only_on_close")
    def _disposition_on_close(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["action"] == "close") == df["disposition"].notna()

    @pa.check("reported_time", name="not_in_future")
    def _reported_time(cls, s: Series[pd.Timestamp]) -> Series[bool]:
        return not_in_future(s)


def register_disposition_feed() -> None:
    """Idempotent: registers the fraud_dispositions feed with its contract."""
    try:
        if feed_for(DISPOSITIONS_FEED.name) is DISPOSITIONS_FEED:
            return
    except KeyError:
        pass
    register_feed(DISPOSITIONS_FEED, FraudDispositionsSchema, replace=True)


register_disposition_feed()
