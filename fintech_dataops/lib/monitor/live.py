"""The service's ``/monitor/alerts`` JSON: its latest alerts, newest first (for scripts and dashboards).

The analyst's page (``/monitor``: queue, cases, dispositions) is ``lib.monitor.page`` over
``lib.monitor.router``. JSON contract of this endpoint (``alerts_payload`` builds it)::

    {
      "generated_at": "2026-11-28T02:00:00.123+00:00",
      "alerts": [                       # newest first (alerted_at descending), at most `limit`
        {"transaction_id": "t-9", "customer_id": "c-1", "amount": 912.5,
         "risk_score": 0.93, "model_score": 0.88, "decision": "block",   # or "review"
         "reasons": ["amount > $800 requires review", "velocity: 6 tx in 60 s"],
         "rule_ids": ["high_value", "velocity"],
         "event_time": "2026-11-28T01:59:59.900", "alerted_at": "2026-11-28T01:59:59.905"}
      ]
    }
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime

import duckdb

ALERT_FIELDS = ("transaction_id", "customer_id", "amount", "risk_score", "model_score", "decision", "reasons",
                "rule_ids", "event_time", "alerted_at")


def _jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def alerts_payload(alerts: Iterable[Mapping], limit: int = 100) -> dict:
    """The endpoint's JSON body from alert records (any order; missing fields become null)."""
    records = [{f: _jsonable(a.get(f)) for f in ALERT_FIELDS} for a in alerts]
    for record in records:
        record["reasons"] = list(record["reasons"] or [])
        record["rule_ids"] = list(record["rule_ids"] or [])
    records.sort(key=lambda r: (str(r["alerted_at"] or ""), str(r["event_time"] or "")), reverse=True)
    return {"generated_at": datetime.now(UTC).isoformat(), "alerts": records[: max(limit, 0)]}


def latest_alerts_payload(con: duckdb.DuckDBPyConnection, limit: int = 100) -> dict:
    """The payload from ``fraud.alerts`` (for a service that serves the warehouse's view)."""
    from fintech_dataops.lib.warehouse import table_exists

    if not table_exists(con, "fraud.alerts"):
        return alerts_payload([], limit)
    cur = con.execute(
        f"SELECT {', '.join(ALERT_FIELDS)} FROM fraud.alerts ORDER BY alerted_at DESC, event_time DESC "
        f"LIMIT {int(limit)}"
    )
    columns = [d[0] for d in cur.description]
    return alerts_payload((dict(zip(columns, row)) for row in cur.fetchall()), limit)
