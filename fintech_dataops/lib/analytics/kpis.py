"""The KPIs people watch: the North Star and the platform's health figures.

Each function reads the warehouse and returns a :class:`KpiValue`. A source table
that does not exist yet is data, not an error: the KPI says "not measured yet"
(value ``None``) or which part is missing. Definitions (the business rules):

* **value_at_risk_protected** (North Star, in the reporting currency, default USD) = value of
  *blocked* transactions that a fraud label confirms (each transaction counted once) + requested
  amount of loans *approved* to customers who were **not** scorable by a traditional model. Summed
  exactly in DECIMAL over the amounts converted at the day's reference rate (``amount_reporting``,
  ``requested_amount_reporting``); an amount with no rate is counted apart, never added as if it were
  dollars. ``kpis.value_at_risk_protected.amount`` holds the exact DECIMAL total.
* **scorable_uplift** (percentage points) = 100 × (scorable with alternative data −
  scorable traditionally) / customers scored.
* **dq_score** (%) = 100 × valid rows / raw rows over all feeds of the latest day in
  ``quality.dq_scores`` (target 99.9); records stranded in ``quality.unroutable_files`` count as
  received and not valid (on their folder's day, else on the latest day).
* **freshness** (s) = now − newest ``event_time`` in ``core.transactions`` (target 5).
* **ingest_rate** (events/s) = rows / seconds of the latest raw-layer loads
  (batch path); the online rate from ``realtime.batch_latency`` when present.
* **latency** (ms) = p99 over the near-real-time batches in ``realtime.batch_latency`` of each
  batch's event → alert p99 (target 1000); details: median of the batch p50s, p95 of the batch
  p99s, the slowest event, p99 of file landed → alert. "Not measured yet" without that table.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import duckdb

from fintech_dataops.lib.warehouse import table_exists, transaction

NOT_MEASURED = "not measured yet"


@dataclass(frozen=True)
class KpiValue:
    name: str
    value: float | None
    unit: str
    target: float | None
    higher_is_better: bool
    details: dict[str, float | int | str | None] = field(default_factory=dict)
    note: str = ""
    amount: Decimal | None = None  # money KPIs: the exact total (``value`` is its float for charts)

    @property
    def met(self) -> bool | None:
        if self.value is None or self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    def as_row(self, computed_at: datetime) -> dict:
        return {
            "kpi": self.name, "value": self.value, "unit": self.unit, "target": self.target,
            "higher_is_better": self.higher_is_better, "met": self.met, "note": self.note,
            "details": json.dumps(self.details, default=str, sort_keys=True), "computed_at": computed_at,
            "amount": self.amount,
        }


@dataclass(frozen=True)
class LoadMeasurement:
    """One raw-layer load: ``rows`` ingested in ``seconds`` (from the raw asset's metadata)."""

    feed: str
    rows: int
    seconds: float


def _missing(con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> list[str]:
    return [t for t in tables if not table_exists(con, t)]


def _f(value) -> float:
    return float(value) if value is not None else 0.0


def _column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    schema, name = table.split(".")
    return bool(con.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = ? "
                            "AND table_name = ? AND column_name = ?", [schema, name, column]).fetchone()[0])


def value_at_risk_protected(con: duckdb.DuckDBPyConnection, reporting_currency: str = "USD") -> KpiValue:
    missing = _missing(con, ["fraud.alerts", "core.fraud_labels", "credit.loan_decisions"])
    fraud_amount, fraud_count, fraud_unconverted = Decimal(0), 0, 0
    if "fraud.alerts" not in missing and "core.fraud_labels" not in missing:
        # Older alert tables carry only the amount as landed: then it is taken as already in the reporting currency.
        money = "amount_reporting" if _column(con, "fraud.alerts", "amount_reporting") else "amount"
        fraud_count, fraud_amount, fraud_unconverted = con.execute(
            f"""
            WITH blocked AS (
                SELECT transaction_id, max(CAST({money} AS DECIMAL(18,3))) AS amount, bool_or({money} IS NULL) AS unconverted
                FROM fraud.alerts WHERE decision = 'block' GROUP BY transaction_id
            ), confirmed AS (SELECT DISTINCT transaction_id FROM core.fraud_labels WHERE is_fraud)
            SELECT count(*), coalesce(sum(b.amount), 0), count(*) FILTER (WHERE b.unconverted)
            FROM blocked b JOIN confirmed USING (transaction_id)
            """
        ).fetchone()
    loan_amount, loan_count, loan_unconverted = Decimal(0), 0, 0
    if "credit.loan_decisions" not in missing:
        if table_exists(con, "core.loan_applications") and _column(con, "core.loan_applications",
                                                                   "requested_amount_reporting"):
            source = ("(SELECT d.*, a.requested_amount_reporting AS money FROM credit.loan_decisions d "
                      "LEFT JOIN core.loan_applications a USING (application_id))")
        else:
            source = "(SELECT *, CAST(requested_amount AS DECIMAL(18,3)) AS money FROM credit.loan_decisions)"
        loan_count, loan_amount, loan_unconverted = con.execute(
            f"""
            SELECT count(*), coalesce(sum(CAST(money AS DECIMAL(18,3))), 0), count(*) FILTER (WHERE money IS NULL)
            FROM {source} WHERE decision = 'approve' AND NOT coalesce(scorable_traditional, FALSE)
            """
        ).fetchone()
    if len(missing) == 3:
        return KpiValue("value_at_risk_protected", None, reporting_currency, None, True, {}, f"{NOT_MEASURED}: "
                        "fraud.alerts, core.fraud_labels and credit.loan_decisions do not exist")
    total = Decimal(fraud_amount) + Decimal(loan_amount)
    details = {
        "currency": reporting_currency,
        "fraud_blocked_confirmed_amount": str(Decimal(fraud_amount)),
        "fraud_blocked_confirmed_count": int(fraud_count),
        "loans_approved_previously_unscorable_amount": str(Decimal(loan_amount)),
        "loans_approved_previously_unscorable_count": int(loan_count),
        "without_reference_rate_count": int(fraud_unconverted) + int(loan_unconverted),
    }
    notes = [f"partial: {', '.join(missing)} not built yet"] if missing else []
    if details["without_reference_rate_count"]:
        notes.append(f"{details['without_reference_rate_count']} amount(s) without a reference rate not added")
    return KpiValue("value_at_risk_protected", float(total), reporting_currency, None, True, details,
                    "; ".join(notes), amount=total)


def scorable_uplift(con: duckdb.DuckDBPyConnection) -> KpiValue:
    if _missing(con, ["credit.scores"]):
        return KpiValue("scorable_uplift", None, "pct_points", None, True, {},
                        f"{NOT_MEASURED}: credit.scores does not exist")
    customers, traditional, enhanced, newly = con.execute(
        """
        SELECT count(*), count(*) FILTER (WHERE scorable_traditional), count(*) FILTER (WHERE scorable_enhanced),
               count(*) FILTER (WHERE scorable_enhanced AND NOT scorable_traditional)
        FROM credit.scores
        """
    ).fetchone()
    if not customers:
        return KpiValue("scorable_uplift", None, "pct_points", None, True, {"customers": 0},
                        f"{NOT_MEASURED}: credit.scores is empty")
    details = {
        "customers": int(customers), "scorable_traditional": int(traditional),
        "scorable_enhanced": int(enhanced), "newly_scorable": int(newly),
        "scorable_traditional_pct": round(100.0 * traditional / customers, 4),
        "scorable_enhanced_pct": round(100.0 * enhanced / customers, 4),
        "relative_uplift_pct": round(100.0 * (enhanced - traditional) / traditional, 4) if traditional else None,
    }
    return KpiValue("scorable_uplift", round(100.0 * (enhanced - traditional) / customers, 4), "pct_points",
                    None, True, details)


def dq_score(con: duckdb.DuckDBPyConnection, target: float = 99.9) -> KpiValue:
    if _missing(con, ["quality.dq_scores"]):
        return KpiValue("dq_score", None, "pct", target, True, {}, f"{NOT_MEASURED}: quality.dq_scores does not exist")
    latest = con.execute("SELECT max(partition_date) FROM quality.dq_scores WHERE raw_rows > 0").fetchone()[0]
    if latest is None:
        return KpiValue("dq_score", None, "pct", target, True, {}, f"{NOT_MEASURED}: no rows received yet")
    raw, valid = con.execute(
        "SELECT sum(raw_rows), sum(valid_rows) FROM quality.dq_scores WHERE partition_date = ?", [latest]
    ).fetchone()
    all_raw, all_valid = con.execute("SELECT sum(raw_rows), sum(valid_rows) FROM quality.dq_scores").fetchone()
    worst = con.execute(
        """
        SELECT feed, 100.0 * sum(valid_rows) / sum(raw_rows) AS score FROM quality.dq_scores
        WHERE partition_date = ? AND raw_rows > 0 GROUP BY feed ORDER BY score, feed LIMIT 1
        """, [latest],
    ).fetchone()
    below = con.execute(
        """
        SELECT count(*) FROM (SELECT feed FROM quality.dq_scores WHERE partition_date = ? AND raw_rows > 0
        GROUP BY feed HAVING 100.0 * sum(valid_rows) / sum(raw_rows) < ?)
        """, [latest, target],
    ).fetchone()[0]
    stranded_files, stranded_today, stranded_all = _unroutable_records(con, latest)
    raw, all_raw = raw + stranded_today, all_raw + stranded_all
    details = {
        "partition_date": latest.isoformat(), "raw_rows": int(raw), "valid_rows": int(valid),
        "all_days_dq_score": round(100.0 * all_valid / all_raw, 4),
        "worst_feed": worst[0], "worst_feed_dq_score": round(float(worst[1]), 4),
        "feeds_below_target": int(below),
        "unroutable_files": stranded_files, "unroutable_records": stranded_all,
    }
    return KpiValue("dq_score", round(100.0 * valid / raw, 4), "pct", target, True, details)


def _unroutable_records(con: duckdb.DuckDBPyConnection, latest) -> tuple[int, int, int]:
    """(entries, records counted on ``latest``, all records) of ``quality.unroutable_files``.

    A stranded record counts as a received record that is not valid: on the day of its date=
    folder, and on the latest day when its folder has no usable day (it is a problem of now).
    """
    if _missing(con, ["quality.unroutable_files"]):
        return 0, 0, 0
    entries, today, total = con.execute(
        "SELECT count(*), coalesce(sum(records) FILTER (WHERE partition_date IS NULL OR partition_date = ? "
        "OR reason = 'date_outside_partitions'), 0), coalesce(sum(records), 0) FROM quality.unroutable_files",
        [latest],
    ).fetchone()
    return int(entries), int(today), int(total)


def freshness(con: duckdb.DuckDBPyConnection, now: datetime | None = None, target_seconds: float = 5.0) -> KpiValue:
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)  # tables hold naive UTC
    if _missing(con, ["core.transactions"]):
        return KpiValue("freshness", None, "seconds", target_seconds, False, {},
                        f"{NOT_MEASURED}: core.transactions does not exist")
    newest_event = con.execute("SELECT max(event_time) FROM core.transactions").fetchone()[0]
    if newest_event is None:
        return KpiValue("freshness", None, "seconds", target_seconds, False, {},
                        f"{NOT_MEASURED}: core.transactions is empty")
    details: dict = {"newest_event_time": newest_event.isoformat()}
    if not _missing(con, ["fraud.alerts"]):
        newest_alert = con.execute("SELECT max(alerted_at) FROM fraud.alerts").fetchone()[0]
        if newest_alert is not None:
            newest_alert = _naive_utc(newest_alert)
            details["newest_alert_at"] = newest_alert.isoformat()
            details["alert_age_seconds"] = round((now - newest_alert).total_seconds(), 3)
    return KpiValue("freshness", round((now - _naive_utc(newest_event)).total_seconds(), 3), "seconds",
                    target_seconds, False, details)


def ingest_rate(con: duckdb.DuckDBPyConnection, loads: Sequence[LoadMeasurement], target_eps: float = 10_000) -> KpiValue:
    details: dict = {}
    measured = [m for m in loads if m.seconds > 0]
    rows = sum(m.rows for m in measured)
    seconds = sum(m.seconds for m in measured)
    batch_eps = rows / seconds if seconds > 0 else None
    details["batch_rows"] = int(rows)
    details["batch_seconds"] = round(seconds, 4)
    if not _missing(con, ["realtime.batch_latency"]):
        events, first, last, batches = con.execute(
            "SELECT sum(events), min(landed_at), max(landed_at), count(*) FROM realtime.batch_latency"
        ).fetchone()
        details["online_batches"] = int(batches or 0)
        if events and first is not None and last is not None and last > first:
            details["online_events_per_second"] = round(float(events) / (last - first).total_seconds(), 2)
    if batch_eps is None:
        return KpiValue("ingest_rate", None, "events_per_second", target_eps, True, details,
                        f"{NOT_MEASURED}: no raw-layer load recorded")
    return KpiValue("ingest_rate", round(batch_eps, 2), "events_per_second", target_eps, True, details)


def latency(con: duckdb.DuckDBPyConnection, target_ms: float = 1000.0) -> KpiValue:
    if _missing(con, ["realtime.batch_latency"]):
        return KpiValue("latency", None, "ms", target_ms, False, {},
                        f"{NOT_MEASURED}: realtime.batch_latency does not exist (the near-real-time path has not run)")
    # One row per micro-batch with that batch's event → alert percentiles (lib/realtime/nearline.py);
    # per-event latencies are not kept, so the KPI is the p99 over batches of the batch p99.
    batches, events, p50, p95, p99, worst, landed_p99 = con.execute(
        """
        SELECT count(*), sum(events), quantile_cont(latency_ms_p50, 0.5), quantile_cont(latency_ms_p99, 0.95),
               quantile_cont(latency_ms_p99, 0.99), max(latency_ms_max), quantile_cont(landed_to_alert_ms, 0.99)
        FROM realtime.batch_latency WHERE latency_ms_p99 IS NOT NULL
        """
    ).fetchone()
    if not batches:
        return KpiValue("latency", None, "ms", target_ms, False, {"batches": 0},
                        f"{NOT_MEASURED}: no near-real-time batch with valid events recorded")
    details = {"batches": int(batches), "events": int(events or 0), "p50_ms": round(float(p50), 3),
               "p95_ms": round(float(p95), 3), "max_ms": round(float(worst), 3),
               "landed_to_alert_p99_ms": None if landed_p99 is None else round(float(landed_p99), 3)}
    return KpiValue("latency", round(float(p99), 3), "ms", target_ms, False, details)


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


KPI_FUNCTIONS: dict[str, Callable[..., KpiValue]] = {
    "value_at_risk_protected": value_at_risk_protected,
    "scorable_uplift": scorable_uplift,
    "dq_score": dq_score,
    "freshness": freshness,
    "ingest_rate": ingest_rate,
    "latency": latency,
}


def write_kpi(con: duckdb.DuckDBPyConnection, kpi: KpiValue, computed_at: datetime | None = None) -> None:
    """Replace ``kpis.<name>`` with the current value (one row)."""
    from fintech_dataops.lib.warehouse import replace_table

    row = kpi.as_row(computed_at or datetime.now(UTC))
    replace_table(
        con, f"kpis.{kpi.name}",
        "SELECT ?::VARCHAR AS kpi, ?::DOUBLE AS value, ?::VARCHAR AS unit, ?::DOUBLE AS target, "
        "?::BOOLEAN AS higher_is_better, ?::BOOLEAN AS met, ?::VARCHAR AS note, ?::JSON AS details, "
        "?::TIMESTAMPTZ AS computed_at, ?::DECIMAL(38,3) AS amount",
        [row["kpi"], row["value"], row["unit"], row["target"], row["higher_is_better"], row["met"],
         row["note"], row["details"], row["computed_at"], row["amount"]],
    )


def append_history(con: duckdb.DuckDBPyConnection, kpi_names: Sequence[str], run_id: str) -> int:
    """Append the current value of each existing ``kpis.<name>`` to ``kpis.history`` (idempotent per run)."""
    selects = [
        f"SELECT kpi, value, unit, target, met, note, details, computed_at FROM kpis.\"{name}\""
        for name in kpi_names if table_exists(con, f"kpis.{name}")
    ]
    if not selects:
        return 0
    with transaction(con):
        con.execute("CREATE SCHEMA IF NOT EXISTS kpis")
        con.execute(
            "CREATE TABLE IF NOT EXISTS kpis.history (run_id VARCHAR, kpi VARCHAR, value DOUBLE, unit VARCHAR, "
            "target DOUBLE, met BOOLEAN, note VARCHAR, details JSON, computed_at TIMESTAMPTZ, recorded_at TIMESTAMPTZ)"
        )
        con.execute("DELETE FROM kpis.history WHERE run_id = ?", [run_id])
        inserted = con.execute(
            f"INSERT INTO kpis.history SELECT ?, *, now() FROM ({' UNION ALL '.join(selects)})", [run_id]
        ).fetchone()[0]
    return int(inserted)


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
