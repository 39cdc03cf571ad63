"""The live alert-queue page (``/monitor``) the online decision service mounts.

``render_live_monitor_page()`` returns one self-contained HTML page (no external
script or style) whose JavaScript polls a JSON endpoint (default
``/monitor/alerts``, same origin) and redraws the queue without reloading.

JSON contract of the endpoint (``alerts_payload`` builds it)::

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

Values are rendered with ``textContent`` (never as HTML), so a reason string can
never inject markup into the analyst's page.
"""

from __future__ import annotations

import html
import json
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


def render_live_monitor_page(
    endpoint: str = "/monitor/alerts", poll_ms: int = 1000, title: str = "Live fraud alert queue"
) -> str:
    """HTML of the live page: polls ``endpoint`` every ``poll_ms`` ms and redraws the queue."""
    config = json.dumps({"endpoint": endpoint, "pollMs": int(poll_ms)})
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body{{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}}
header{{background:#14213d;color:#fff;padding:14px 24px;display:flex;justify-content:space-between;align-items:baseline}}
header h1{{margin:0;font-size:20px}}#status{{font-size:13px;opacity:.85}}main{{padding:16px 24px}}
table{{border-collapse:collapse;width:100%;background:#fff;font-size:13px;box-shadow:0 1px 2px #0001}}
th,td{{padding:6px 8px;border-bottom:1px solid #e3e6eb;text-align:left;vertical-align:top}}
th{{background:#eef0f4}}td.amount,td.score{{text-align:right;font-variant-numeric:tabular-nums}}
tr.decision-block td.decision{{color:#b00020;font-weight:600}}tr.decision-review td.decision{{color:#b26a00;font-weight:600}}
tr.new{{animation:flash 1.5s ease-out}}@keyframes flash{{from{{background:#fff3bf}}to{{background:#fff}}}}
#empty{{color:#8a93a3;font-style:italic;padding:16px 0}}
</style></head>
<body><header><h1 id="live-title">{html.escape(title)}</h1><span id="status">connecting…</span></header>
<main><table id="alert-queue"><thead><tr><th>alerted at</th><th>customer</th><th>amount</th><th>score</th>
<th>decision</th><th>reasons</th><th>transaction</th></tr></thead><tbody id="alert-rows"></tbody></table>
<div id="empty">no alerts yet</div></main>
<script>
(function () {{
  const config = {config};
  const seen = new Set();
  let first = true;
  function cell(tr, text, cls) {{
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
  }}
  function render(payload) {{
    const body = document.getElementById("alert-rows");
    const rows = [];
    for (const a of payload.alerts || []) {{
      const tr = document.createElement("tr");
      tr.className = "alert decision-" + a.decision + (!first && !seen.has(a.transaction_id) ? " new" : "");
      tr.dataset.transactionId = a.transaction_id;
      cell(tr, a.alerted_at);
      cell(tr, a.customer_id, "customer");
      cell(tr, a.amount == null ? "" : Number(a.amount).toLocaleString("en-US", {{style: "currency", currency: "USD"}}), "amount");
      cell(tr, a.risk_score == null ? "" : Number(a.risk_score).toFixed(3), "score");
      cell(tr, a.decision, "decision");
      cell(tr, (a.reasons || []).join("; "), "reasons");
      cell(tr, a.transaction_id, "transaction");
      rows.push(tr);
    }}
    body.replaceChildren(...rows);
    seen.clear();
    for (const a of payload.alerts || []) seen.add(a.transaction_id);
    first = false;
    document.getElementById("empty").style.display = rows.length ? "none" : "block";
    document.getElementById("status").textContent =
      rows.length + " alert(s) · updated " + new Date().toLocaleTimeString();
  }}
  async function poll() {{
    try {{
      const response = await fetch(config.endpoint, {{cache: "no-store"}});
      if (!response.ok) throw new Error("HTTP " + response.status);
      render(await response.json());
    }} catch (err) {{
      document.getElementById("status").textContent = "reconnecting… (" + err.message + ")";
    }} finally {{
      setTimeout(poll, config.pollMs);
    }}
  }}
  poll();
}})();
</script></body></html>
"""
