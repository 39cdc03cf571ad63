"""The analyst's monitor page: one self-contained HTML page (no external script, style or font).

Its script polls ``<base>/api/queue`` every ``poll_ms`` and redraws the queue in place (no page
reload); a click on a row opens the case: the alert's context and reasons, the customer's recent
transactions and prior alerts, notes, and the actions (assign to me, note, close with a
disposition). Every value is set with ``textContent``, so nothing from the data becomes markup.
The staff key is typed once and kept in the tab's ``sessionStorage`` (sent as ``X-Staff-Key``);
behind the multi-tenant service a signed-in session's cookie does that instead, and the page sends
the session's CSRF token (``GET <base>/session``) with every change.
"""

from __future__ import annotations

import html
import json

from fintech_dataops.lib.monitor.cases import DISPOSITIONS
from fintech_dataops.lib.monitor.queue import SORTS, VIEWS

_STYLE = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#14213d;color:#fff;padding:12px 24px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header h1{margin:0;font-size:19px;flex:1}#status{font-size:12px;opacity:.85}
header input{padding:4px 6px;border-radius:4px;border:0;width:150px}#who{font-size:13px}
main{display:flex;gap:16px;padding:12px 24px;align-items:flex-start}#queue-pane{flex:1;min-width:0;overflow-x:auto}
#case-pane{flex:0 0 420px;background:#fff;box-shadow:0 1px 2px #0002;padding:12px 16px;display:none;font-size:13px}
.controls{display:flex;gap:8px;flex-wrap:wrap;margin-bottom:8px;align-items:center}
.tabs button{border:1px solid #c5cad3;background:#fff;padding:5px 10px;cursor:pointer;border-radius:4px}
.tabs button.active{background:#14213d;color:#fff}
table{border-collapse:collapse;width:100%;background:#fff;font-size:12.5px;box-shadow:0 1px 2px #0001}
th,td{padding:5px 7px;border-bottom:1px solid #e3e6eb;text-align:left;vertical-align:top}
th{background:#eef0f4;white-space:nowrap}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.time{white-space:nowrap}td.reasons{min-width:220px}
tr.alert{cursor:pointer}tr.alert:hover{background:#f0f4ff}tr.selected{background:#dde6ff}
tr.decision-block td.decision{color:#b00020;font-weight:600}tr.decision-review td.decision{color:#b26a00;font-weight:600}
tr.new{animation:flash 1.5s ease-out}@keyframes flash{from{background:#fff3bf}to{background:#fff}}
.status-closed{color:#2b7a0b}.late{color:#b00020;font-weight:600}
#empty{color:#8a93a3;font-style:italic;padding:12px 0}#case-pane h2{font-size:16px;margin:4px 0 8px}
#case-pane h3{font-size:13px;margin:14px 0 4px;text-transform:uppercase;color:#59627a}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 10px;margin:0}dt{color:#59627a}dd{margin:0}
textarea{width:100%;min-height:48px;box-sizing:border-box}#case-message{color:#b00020;min-height:1em}
.actions{display:flex;gap:6px;flex-wrap:wrap;margin-top:6px}
"""

_SCRIPT = r"""
(function () {
  const config = __CONFIG__;
  const state = {view: "open", selected: null, seen: new Set(), first: true, rows: []};
  const $ = (id) => document.getElementById(id);
  const key = () => sessionStorage.getItem("staffKey") || "";
  let csrf = "";  // a signed-in browser session (multi-tenant service): its token goes with every change
  function headers(json) {
    const h = {};
    if (key()) h["X-Staff-Key"] = key();
    if (csrf) h["X-CSRF-Token"] = csrf;
    if (json) h["Content-Type"] = "application/json";
    return h;
  }
  fetch(config.base + "/session", {cache: "no-store"}).then((r) => r.ok ? r.json() : null).then((s) => {
    if (s && s.csrf_token) { csrf = s.csrf_token; $("staff-key").parentElement.style.display = "none"; }
  }).catch(() => {});
  function duration(s) {
    if (s == null) return "";
    const a = Math.abs(s), sign = s < 0 ? "-" : "";
    if (a < 1) return sign + Math.round(a * 1000) + " ms";
    if (a < 120) return sign + a.toFixed(1) + " s";
    if (a < 7200) return sign + Math.round(a / 60) + " min";
    if (a < 172800) return sign + (a / 3600).toFixed(1) + " h";
    return sign + (a / 86400).toFixed(1) + " d";
  }
  function money(amount, currency) {
    if (amount == null) return "";
    try { return Number(amount).toLocaleString("en-US", {style: "currency", currency: currency || "USD"}); }
    catch (e) { return Number(amount).toFixed(2) + " " + (currency || ""); }
  }
  function short(time) {  // "2026-12-01T00:29:51.768" -> "12-01 00:29:51" (the full time in the tooltip)
    return time ? String(time).slice(5, 19).replace("T", " ") : "";
  }
  function cell(tr, text, cls, title) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    if (cls) td.className = cls;
    if (title) td.title = title;
    tr.appendChild(td);
    return td;
  }
  function query() {
    const p = new URLSearchParams({view: state.view, q: $("search").value, decision: $("decision").value,
                                   sort: $("sort").value, limit: "200"});
    return config.base + "/api/queue?" + p.toString();
  }
  function render(payload) {
    if (payload.reporting_currency) config.reportingCurrency = payload.reporting_currency;
    const rows = [];
    for (const a of payload.alerts || []) {
      const tr = document.createElement("tr");
      tr.className = "alert decision-" + a.decision + (!state.first && !state.seen.has(a.transaction_id) ? " new" : "")
        + (a.transaction_id === state.selected ? " selected" : "");
      tr.dataset.transactionId = a.transaction_id;
      tr.dataset.status = a.status;
      cell(tr, short(a.event_time), "time event-time", a.event_time).dataset.value = a.event_time;
      cell(tr, short(a.alerted_at), "time alerted-at", a.alerted_at).dataset.value = a.alerted_at;
      const late = cell(tr, duration(a.alert_age_s), "num alert-age" + (a.alert_age_s > 60 ? " late" : ""),
                        "alert time - event time");
      late.dataset.seconds = a.alert_age_s == null ? "" : String(a.alert_age_s);
      cell(tr, duration(a.waiting_s), "num waiting", "now - alert time");
      cell(tr, a.amount_reporting != null ? money(a.amount_reporting, config.reportingCurrency) : money(a.amount, a.currency),
           "num amount", a.currency && a.amount != null ? "as charged: " + money(a.amount, a.currency) : "");
      cell(tr, a.customer_id, "customer");
      cell(tr, a.merchant_id, "merchant");
      cell(tr, a.channel, "channel");
      cell(tr, a.country, "country");
      cell(tr, a.decision, "decision");
      cell(tr, a.risk_score == null ? "" : Number(a.risk_score).toFixed(3), "num score");
      cell(tr, (a.rule_ids || []).join(", "), "rules");
      cell(tr, (a.reasons || []).join("; "), "reasons");
      cell(tr, a.status + (a.disposition ? ": " + a.disposition : "") + (a.assignee ? " (" + a.assignee + ")" : ""),
           "status status-" + a.status);
      tr.addEventListener("click", () => openCase(a.transaction_id));
      rows.push(tr);
    }
    $("alert-rows").replaceChildren(...rows);
    state.seen = new Set((payload.alerts || []).map((a) => a.transaction_id));
    state.first = false;
    for (const v of config.views) {
      const b = $("tab-" + v);
      b.textContent = v + " (" + ((payload.counts || {})[v] ?? 0) + ")";
      b.classList.toggle("active", v === state.view);
    }
    $("empty").style.display = rows.length ? "none" : "block";
    $("who").textContent = payload.analyst ? "signed in as " + payload.analyst : (payload.staff_keys_configured ?
      "enter your staff key" : "read-only: no staff keys configured");
    $("status").textContent = payload.matching + " matching · updated " + new Date().toLocaleTimeString()
      + (payload.warehouse_note ? " · " + payload.warehouse_note : "");
  }
  async function poll() {
    try {
      const response = await fetch(query(), {cache: "no-store", headers: headers(false)});
      if (!response.ok) throw new Error("HTTP " + response.status);
      render(await response.json());
    } catch (err) {
      $("status").textContent = "reconnecting… (" + err.message + ")";
    }
  }
  function loop() { poll().finally(() => setTimeout(loop, config.pollMs)); }
  function dl(target, pairs) {
    const list = document.createElement("dl");
    for (const [k, v] of pairs) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v == null ? "" : String(v);
      list.append(dt, dd);
    }
    target.replaceChildren(list);
  }
  function table(target, columns, rows, cls) {
    const t = document.createElement("table");
    if (cls) t.className = cls;
    const head = document.createElement("tr");
    for (const [label] of columns) { const th = document.createElement("th"); th.textContent = label; head.appendChild(th); }
    t.appendChild(head);
    for (const r of rows) {
      const tr = document.createElement("tr");
      for (const [, f] of columns) cell(tr, f(r));
      t.appendChild(tr);
    }
    target.replaceChildren(t);
  }
  async function openCase(tx) {
    state.selected = tx;
    $("case-message").textContent = "";
    const response = await fetch(config.base + "/api/alerts/" + encodeURIComponent(tx), {cache: "no-store", headers: headers(false)});
    if (!response.ok) { $("case-message").textContent = "HTTP " + response.status; return; }
    const c = await response.json();
    const a = c.alert;
    $("case-pane").style.display = "block";
    $("case-pane").dataset.transactionId = tx;
    $("case-title").textContent = a.decision + " · " + a.transaction_id;
    dl($("case-facts"), [["status", a.status + (a.disposition ? ": " + a.disposition : "")], ["assignee", a.assignee],
      ["event time", a.event_time], ["alert time", a.alerted_at], ["alert age", duration(a.alert_age_s)],
      ["amount", money(a.amount, a.currency)], ["reporting", a.amount_reporting == null ? "" : money(a.amount_reporting, config.reportingCurrency)],
      ["customer", a.customer_id], ["merchant", a.merchant_id], ["channel", a.channel], ["country", a.country],
      ["score", a.risk_score], ["model score", a.model_score], ["rules", (a.rule_ids || []).join(", ")]]);
    const reasons = document.createElement("ul");
    for (const r of a.reasons || []) { const li = document.createElement("li"); li.textContent = r; reasons.appendChild(li); }
    $("case-reasons").replaceChildren(reasons);
    table($("case-notes"), [["when", (n) => n.at], ["who", (n) => n.analyst], ["note", (n) => n.note]], (c.case || {}).notes || []);
    table($("case-history"), [["when", (h) => h.at], ["who", (h) => h.analyst], ["action", (h) => h.action + (h.disposition ? ": " + h.disposition : "") + (h.assignee ? " → " + h.assignee : "")]], (c.case || {}).history || []);
    const customer = await (await fetch(config.base + "/api/customers/" + encodeURIComponent(a.customer_id), {cache: "no-store", headers: headers(false)})).json();
    table($("customer-transactions"), [["event time", (t) => t.event_time], ["amount", (t) => money(t.amount, t.currency)],
      ["merchant", (t) => t.merchant_id], ["channel", (t) => t.channel], ["country", (t) => t.country], ["decision", (t) => t.decision]],
      customer.recent_transactions || [], "customer-transactions");
    table($("customer-alerts"), [["alert time", (x) => x.alerted_at], ["transaction", (x) => x.transaction_id],
      ["decision", (x) => x.decision], ["status", (x) => x.status + (x.disposition ? ": " + x.disposition : "")]],
      customer.alerts || [], "customer-alerts");
    $("customer-note").textContent = customer.note || "";
  }
  async function act(action, body) {
    const tx = state.selected;
    const response = await fetch(config.base + "/api/alerts/" + encodeURIComponent(tx) + "/" + action,
      {method: "POST", headers: headers(true), body: JSON.stringify(body || {})});
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) { $("case-message").textContent = answer.error || ("HTTP " + response.status); return; }
    $("note-text").value = "";
    await openCase(tx);
    await poll();
    $("case-message").textContent = action + " recorded";
  }
  $("assign-me").addEventListener("click", () => act("assign", {}));
  $("add-note").addEventListener("click", () => act("note", {note: $("note-text").value}));
  $("close-case").addEventListener("click", () => act("close", {disposition: $("disposition").value, note: $("note-text").value}));
  $("staff-key").value = key();
  $("staff-key").addEventListener("change", (e) => { sessionStorage.setItem("staffKey", e.target.value); poll(); });
  for (const v of config.views) $("tab-" + v).addEventListener("click", () => { state.view = v; poll(); });
  for (const id of ["decision", "sort"]) $(id).addEventListener("change", poll);
  $("search").addEventListener("input", poll);
  const fromHash = new URLSearchParams(location.hash.slice(1));
  if (fromHash.get("view")) state.view = fromHash.get("view");
  if (fromHash.get("q")) $("search").value = fromHash.get("q");
  loop();
})();
"""


def render_monitor_page(base: str = "/monitor", poll_ms: int = 2000, reporting_currency: str = "USD",
                        title: str = "Fraud monitor") -> str:
    config = json.dumps({"base": base, "pollMs": int(poll_ms), "views": list(VIEWS),
                         "reportingCurrency": reporting_currency}).replace("<", "\\u003c")
    tabs = "".join(f'<button id="tab-{v}" type="button">{v}</button>' for v in VIEWS)
    sorts = "".join(f'<option value="{s}">{s}</option>' for s in SORTS)
    dispositions = "".join(f'<option value="{d}">{d.replace("_", " ")}</option>' for d in DISPOSITIONS)
    columns = ("event time", "alert time", "alert age", "waiting", "amount", "customer", "merchant", "channel",
               "country", "decision", "score", "rules", "reasons", "case")
    head = "".join(f"<th>{c}</th>" for c in columns)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{_STYLE}</style></head>
<body><header><h1 id="live-title">{html.escape(title)}</h1><span id="who"></span>
<label>staff key <input id="staff-key" type="password" autocomplete="off"></label><span id="status">connecting…</span></header>
<main><section id="queue-pane">
<div class="controls"><span class="tabs">{tabs}</span>
<input id="search" type="search" placeholder="search customer, merchant, reason, rule…">
<select id="decision"><option value="">all decisions</option><option value="block">block</option><option value="review">review</option></select>
<label>sort <select id="sort">{sorts}</select></label></div>
<table id="alert-queue"><thead><tr>{head}</tr></thead><tbody id="alert-rows"></tbody></table>
<div id="empty">no alerts in this view</div></section>
<section id="case-pane"><h2 id="case-title"></h2><div id="case-facts"></div>
<h3>Reasons</h3><div id="case-reasons"></div>
<h3>Actions</h3><textarea id="note-text" placeholder="note (kept with the case)"></textarea>
<div class="actions"><button id="assign-me" type="button">assign to me</button><button id="add-note" type="button">add note</button>
<select id="disposition">{dispositions}</select><button id="close-case" type="button">close case</button></div>
<div id="case-message"></div>
<h3>Notes</h3><div id="case-notes"></div><h3>History</h3><div id="case-history"></div>
<h3>Customer's recent transactions</h3><div id="customer-transactions"></div><div id="customer-note"></div>
<h3>Customer's alerts</h3><div id="customer-alerts"></div></section></main>
<script>{_SCRIPT.replace("__CONFIG__", config)}</script></body></html>
"""
