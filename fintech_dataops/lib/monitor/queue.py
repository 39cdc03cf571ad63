"""The alert queue: every alert with its context and case state, and the analyst's views of it.

Alerts come from the warehouse (``fraud.alerts``, and ``fraud.realtime_alerts`` from the
near-real-time path; channel and country from ``core.transactions``) and, inside the
decision service, from its live decisions. A transaction alerted by several paths is one row, at
its first alert time. Each row says how late the alert was: ``alert_age_s`` = alert time − event
time (the analyst's KR: a batch alert comes hours after the money moved, a live one milliseconds),
and how long it has waited since (``waiting_s``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from fintech_dataops.lib.monitor.cases import CaseBook

VIEWS = ("open", "mine", "today", "all")
SORTS = ("newest", "oldest", "score", "amount", "late")
ALERT_TABLES = ("fraud.alerts", "fraud.realtime_alerts")
CONTEXT_COLUMNS = ("channel", "country", "merchant_category")
MAX_WAREHOUSE_ALERTS = 20_000


def as_utc(value) -> datetime | None:
    """Naive UTC datetime from a datetime or ISO text (``Z`` or an offset allowed); None if absent."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _text(value):
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, Decimal):
        return float(value)  # for display; the stored value stays DECIMAL
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return value


def _alert_row(alert: Mapping, source: str) -> dict:
    row = {k: _text(v) for k, v in alert.items() if k != "partition_date"}
    row["source"] = source
    row["rule_ids"] = list(row.get("rule_ids") or [])
    row["reasons"] = list(row.get("reasons") or [])
    if "decided_at" in row and not row.get("alerted_at"):
        row["alerted_at"] = row["decided_at"]
    return row


def merge_alerts(*sources: Iterable[Mapping], names: Iterable[str] = ()) -> list[dict]:
    """One row per transaction across sources: the first alert (earliest alert time) wins."""
    merged: dict[str, dict] = {}
    for alerts, name in zip(sources, [*names, *["source"] * len(sources)]):
        for alert in alerts:
            row = _alert_row(alert, name)
            key = str(row.get("transaction_id"))
            kept = merged.get(key)
            if kept is None or (as_utc(row.get("alerted_at")) or datetime.max) < (as_utc(kept.get("alerted_at")) or datetime.max):
                merged[key] = {**(kept or {}), **{k: v for k, v in row.items() if v is not None}}
            else:
                for k, v in row.items():  # context the first source lacked (channel, country, ...)
                    if kept.get(k) is None and v is not None:
                        kept[k] = v
    return list(merged.values())


def with_context(rows: list[dict], cases: CaseBook, now: datetime) -> list[dict]:
    """Add case state, the alert's age (alert time − event time) and how long it has waited."""
    states = cases.snapshot()
    for row in rows:
        event, alerted = as_utc(row.get("event_time")), as_utc(row.get("alerted_at"))
        row["alert_age_s"] = None if event is None or alerted is None else round((alerted - event).total_seconds(), 3)
        row["waiting_s"] = None if alerted is None else round((now - alerted).total_seconds(), 3)
        case = states.get(str(row.get("transaction_id")))
        row["status"] = case.status if case else "open"
        row["assignee"] = case.assignee if case else None
        row["disposition"] = case.disposition if case else None
        row["notes"] = len(case.notes) if case else 0
    return rows


def _matches(row: dict, needle: str) -> bool:
    fields = [row.get(k) for k in ("transaction_id", "customer_id", "merchant_id", "channel", "country",
                                    "decision", "assignee", "disposition")]
    haystack = " ".join(str(v) for v in [*fields, *row.get("reasons", []), *row.get("rule_ids", [])] if v)
    return needle in haystack.lower()


def _sort_key(sort: str):
    def number(value) -> float:
        return float("-inf") if value is None else float(value)

    return {
        "newest": lambda r: (str(r.get("alerted_at") or ""), str(r.get("event_time") or "")),
        "oldest": lambda r: (str(r.get("alerted_at") or ""), str(r.get("event_time") or "")),
        "score": lambda r: number(r.get("risk_score")),
        "amount": lambda r: number(r.get("amount_reporting") if r.get("amount_reporting") is not None else r.get("amount")),
        "late": lambda r: number(r.get("alert_age_s")),
    }[sort]


def in_view(row: dict, view: str, analyst: str | None, today: date) -> bool:
    if view == "open":
        return row["status"] != "closed"
    if view == "mine":
        return analyst is not None and row.get("assignee") == analyst and row["status"] != "closed"
    if view == "today":
        alerted = as_utc(row.get("alerted_at"))
        return alerted is not None and alerted.date() == today
    return True


def select(rows: list[dict], *, view: str = "open", q: str = "", decision: str = "", sort: str = "newest",
           limit: int = 200, analyst: str | None = None, now: datetime) -> dict:
    """The rows of one view, filtered, searched and sorted; with the count of every view."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}: one of {', '.join(VIEWS)}")
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}: one of {', '.join(SORTS)}")
    today = now.date()
    counts = {v: sum(1 for r in rows if in_view(r, v, analyst, today)) for v in VIEWS}
    needle = q.strip().lower()
    chosen = [r for r in rows if in_view(r, view, analyst, today)
              and (not decision or r.get("decision") == decision) and (not needle or _matches(r, needle))]
    chosen.sort(key=_sort_key(sort), reverse=sort != "oldest")
    return {"view": view, "counts": counts, "matching": len(chosen), "alerts": chosen[: max(0, min(limit, 1000))]}


def _columns(con, table: str) -> set[str]:
    schema, name = table.split(".")
    return {c for (c,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        [schema, name]).fetchall()}


def _context_sql(con) -> tuple[str, list[str]]:
    """A SELECT of transaction_id + channel/country/category from the transactions as landed (core), else scored."""
    from fintech_dataops.lib.warehouse import table_exists

    for table in ("core.transactions", "fraud.scored_transactions"):
        if table_exists(con, table):
            context = [c for c in CONTEXT_COLUMNS if c in _columns(con, table)]
            if context:
                return f"SELECT transaction_id, {', '.join(context)} FROM {table}", context
    return "", []


def warehouse_alerts(con, limit: int = MAX_WAREHOUSE_ALERTS) -> list[dict]:
    """The newest alerts of every alert table, with channel and country from the transactions as landed."""
    from fintech_dataops.lib.warehouse import table_exists

    context_sql, context = _context_sql(con)
    rows: list[dict] = []
    for table in ALERT_TABLES:
        if not table_exists(con, table):
            continue
        columns = _columns(con, table)
        if not {"transaction_id", "customer_id", "event_time", "alerted_at", "decision"} <= columns:
            continue
        own = [c for c in ("transaction_id", "customer_id", "merchant_id", "amount", "currency", "amount_reporting",
                           "event_time", "alerted_at", "decision", "risk_score", "model_score", "rule_ids", "reasons",
                           *CONTEXT_COLUMNS) if c in columns]
        joined = [c for c in context if c not in columns]
        select_list = ", ".join([*(f"a.{c}" for c in own), *(f"t.{c}" for c in joined)])
        newest = (f"SELECT * FROM {table} ORDER BY alerted_at DESC, event_time DESC LIMIT {int(limit)}")
        join = (f"LEFT JOIN ({context_sql}) t ON t.transaction_id = a.transaction_id "
                f"AND t.transaction_id IN (SELECT transaction_id FROM ({newest}))") if joined else ""
        cur = con.execute(f"SELECT {select_list} FROM ({newest}) a {join} ORDER BY a.alerted_at DESC, a.event_time DESC")
        names = [d[0] for d in cur.description]
        rows.extend(dict(zip(names, r)) for r in cur.fetchall())
    return rows


def customer_transactions(con, customer_id: str, limit: int = 20) -> list[dict]:
    """The customer's most recent transactions with their decisions (newest first)."""
    from fintech_dataops.lib.warehouse import table_exists

    base = "fraud.scored_transactions" if table_exists(con, "fraud.scored_transactions") else (
        "core.transactions" if table_exists(con, "core.transactions") else None)
    if base is None:
        return []
    columns = _columns(con, base)
    own = [c for c in ("transaction_id", "event_time", "amount", "currency", "amount_reporting", "merchant_id",
                       *CONTEXT_COLUMNS, "decision", "risk_score", "reasons") if c in columns]
    context_sql, context = _context_sql(con)
    joined = [c for c in context if c not in columns]
    select_list = ", ".join([*(f"s.{c}" for c in own), *(f"t.{c}" for c in joined)])
    join = (f"LEFT JOIN ({context_sql} WHERE customer_id = ?) t ON t.transaction_id = s.transaction_id"
            if joined else "")
    params = [customer_id] if joined else []
    cur = con.execute(f"SELECT {select_list} FROM (SELECT * FROM {base} WHERE customer_id = ? "
                      f"ORDER BY event_time DESC LIMIT {int(limit)}) s {join} ORDER BY s.event_time DESC",
                      [customer_id, *params])
    names = [d[0] for d in cur.description]
    return [{k: _text(v) for k, v in zip(names, r)} for r in cur.fetchall()]


@dataclass
class MonitorData:
    """What the monitor's endpoints read: warehouse alerts (cached a few seconds), live alerts, cases.

    The warehouse is opened read-only for a moment per refresh; while a pipeline run holds it, the
    last read stays on screen and ``warehouse_note`` says so (the queue never blocks on the lock).
    """

    landing_dir: Path
    database: Path | None
    live_alerts: Callable[[], Iterable[Mapping]] | None = None
    refresh_seconds: float = 5.0
    reporting_currency: str = "USD"  # of ``amount_reporting`` (the money config's; lib/money)
    cases: CaseBook = field(default=None)  # type: ignore[assignment]
    warehouse_note: str = ""
    _cache: list[dict] = field(default_factory=list)
    _read_at: float = float("-inf")
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.cases is None:
            self.cases = CaseBook.from_landing(self.landing_dir)

    def _connection(self):
        from fintech_dataops.lib.warehouse import connection

        return connection(self.database, read_only=True, wait_seconds=2.0)

    def _warehouse_alerts(self) -> list[dict]:
        from fintech_dataops.lib.warehouse import WarehouseLockTimeout

        with self._lock:
            if time.monotonic() - self._read_at < self.refresh_seconds:
                return self._cache
            self._read_at = time.monotonic()
            if self.database is None or not Path(self.database).exists():
                self.warehouse_note = "no warehouse yet"
                return self._cache
            try:
                with self._connection() as con:
                    self._cache = warehouse_alerts(con)
                self.warehouse_note = ""
            except WarehouseLockTimeout:
                self.warehouse_note = "warehouse busy (a run is writing): showing the last read"
            return self._cache

    def rows(self, now: datetime | None = None) -> list[dict]:
        now = now or datetime.now(UTC).replace(tzinfo=None)
        live = list(self.live_alerts()) if self.live_alerts is not None else []
        merged = merge_alerts(live, self._warehouse_alerts(), names=("live", "warehouse"))
        return with_context(merged, self.cases, now)

    def alert(self, transaction_id: str) -> dict | None:
        return next((r for r in self.rows() if str(r.get("transaction_id")) == transaction_id), None)

    def customer(self, customer_id: str, limit: int = 20) -> dict:
        from fintech_dataops.lib.warehouse import WarehouseLockTimeout

        prior = sorted((r for r in self.rows() if r.get("customer_id") == customer_id),
                       key=lambda r: str(r.get("alerted_at") or ""), reverse=True)
        recent, note = [], ""
        if self.database is not None and Path(self.database).exists():
            try:
                with self._connection() as con:
                    recent = customer_transactions(con, customer_id, limit)
            except WarehouseLockTimeout:
                note = "warehouse busy: recent transactions not read"
        return {"customer_id": customer_id, "recent_transactions": recent, "alerts": prior[:limit], "note": note}
