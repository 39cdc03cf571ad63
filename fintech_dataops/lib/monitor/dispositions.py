"""Analysts' dispositions as data: the ``fraud.dispositions`` table, a label source, and their KPI.

- ``fraud.dispositions``: every ``close`` of ``core.fraud_dispositions`` (append-only: a re-close
  is a new row; ``is_current`` marks the latest close of each transaction), with the time from
  the alert to the disposition.
- Label source (``disposition_labels_sql``, one of ``lib.open_banking.tables.fraud_labels_sql``):
  the current disposition of each closed case, ``confirmed_fraud`` → ``is_fraud``, ``legitimate``
  → not fraud, ``unsure`` → no label. Its reported time is the disposition time, so the label-delay
  rules that hold for chargebacks (a label is used only once reported) hold for analysts too.
- KPI ``analyst_precision`` = confirmed ÷ closed (current dispositions), with time-to-disposition.
"""

from __future__ import annotations

import duckdb

from fintech_dataops.lib.analytics.kpis import KpiValue, NOT_MEASURED
from fintech_dataops.lib.warehouse import replace_table, table_exists

CORE_TABLE = "core.fraud_dispositions"
DISPOSITIONS_TABLE = "fraud.dispositions"
LABEL_SOURCE = "analyst"

_CLOSES = f"""
SELECT disposition_id, transaction_id, customer_id, merchant_id, disposition, analyst, note, amount, currency,
       {{reporting}} event_time, alerted_time, reported_time AS disposed_at,
       date_diff('millisecond', alerted_time, reported_time) / 1000.0 AS time_to_disposition_s,
       row_number() OVER (PARTITION BY transaction_id ORDER BY reported_time DESC, disposition_id DESC) = 1 AS is_current,
       partition_date
FROM {CORE_TABLE} WHERE action = 'close'
"""


def _closes_sql(con: duckdb.DuckDBPyConnection) -> str:
    columns = {c for (c,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' AND table_name = 'fraud_dispositions'"
    ).fetchall()}
    return _CLOSES.format(reporting="amount_reporting," if "amount_reporting" in columns else "")


def build_dispositions(con: duckdb.DuckDBPyConnection) -> int:
    """Replace ``fraud.dispositions`` from every stored partition of ``core.fraud_dispositions``."""
    if not table_exists(con, CORE_TABLE):
        return 0
    return replace_table(con, DISPOSITIONS_TABLE, f"SELECT * FROM ({_closes_sql(con)}) ORDER BY disposed_at, disposition_id")


def disposition_labels_sql() -> str:
    """The label-source SELECT (``FRAUD_LABEL_COLUMNS``) over ``core.fraud_dispositions``."""
    return f"""
        SELECT 'analyst:' || disposition_id AS label_id, transaction_id, customer_id,
               disposition = 'confirmed_fraud' AS is_fraud, 'analyst_' || disposition AS fraud_type, amount,
               reported_time, partition_date
        FROM {CORE_TABLE} WHERE action = 'close'
        QUALIFY row_number() OVER (PARTITION BY transaction_id ORDER BY reported_time DESC, disposition_id DESC) = 1
               AND disposition <> 'unsure'"""


def analyst_precision(con: duckdb.DuckDBPyConnection, target: float | None = None) -> KpiValue:
    """Confirmed ÷ closed over current dispositions (%), with time-to-disposition p50/p90 (s)."""
    if not table_exists(con, DISPOSITIONS_TABLE):
        return KpiValue("analyst_precision", None, "%", target, True, note=f"{NOT_MEASURED}: no {DISPOSITIONS_TABLE}")
    closed, confirmed, legitimate, unsure, p50, p90 = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE disposition = 'confirmed_fraud'),
               count(*) FILTER (WHERE disposition = 'legitimate'), count(*) FILTER (WHERE disposition = 'unsure'),
               quantile_cont(time_to_disposition_s, 0.5), quantile_cont(time_to_disposition_s, 0.9)
        FROM {DISPOSITIONS_TABLE} WHERE is_current""").fetchone()
    details = {"closed": closed, "confirmed_fraud": confirmed, "legitimate": legitimate, "unsure": unsure,
               "time_to_disposition_p50_s": None if p50 is None else round(float(p50), 3),
               "time_to_disposition_p90_s": None if p90 is None else round(float(p90), 3)}
    if not closed:
        return KpiValue("analyst_precision", None, "%", target, True, details, note=f"{NOT_MEASURED}: no closed case")
    return KpiValue("analyst_precision", round(100.0 * confirmed / closed, 3), "%", target, True, details)
