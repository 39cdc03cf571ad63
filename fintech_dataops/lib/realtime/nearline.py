"""The near-real-time path for one landed micro-batch: raw → core (quality gate) → fraud → alerts.

The daily assets work on whole day partitions; re-running them for every
one-second batch would re-read the whole day each time. This path runs the
*same* library functions on just one batch instead:

1. raw: :func:`raw_layer.stage_partition` over a one-file view of the landing
   zone (every line, losslessly, with the same lineage);
2. core: :func:`quality.validate_partition` — the pandera quality gate — in a
   private in-memory DuckDB, so nothing owned by the daily path is touched;
3. fraud: :meth:`FraudEngine.score_frame` with the CURRENT model (rules only when
   there is none), history = the batch customers' recent transactions from
   ``realtime.transactions`` and ``core.transactions``;
4. writes, each idempotent per batch (delete-then-insert on ``batch_id``):
   ``realtime.transactions`` (validated events), ``fraud.realtime_alerts`` (review/block
   decisions with reasons) and, last, ``realtime.batch_latency`` (event time → alert
   row written, p50/p99, and file landed → alert row).

The daily partitions still load the same files into ``raw``/``core``/``quarantine``
and ``fraud.alerts``; this path is the fast preview, that one the book of record.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from fintech_dataops.lib import warehouse
from fintech_dataops.lib.ingestion.raw_layer import stage_partition
from fintech_dataops.lib.realtime.landed_batches import batch_key
from fintech_dataops.lib.realtime.wal import EVENTS_FEED

TRANSACTIONS_TABLE = "realtime.transactions"
ALERTS_TABLE = "fraud.realtime_alerts"
LATENCY_TABLE = "realtime.batch_latency"
CORE_COLUMNS = ("transaction_id", "customer_id", "merchant_id", "amount", "currency", "event_time",
                "channel", "merchant_category", "country", "device_id")


@dataclass
class BatchResult:
    batch_id: str
    day: str
    events: int = 0
    valid: int = 0
    quarantined: int = 0
    alerts: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    failed_checks: dict[str, int] = field(default_factory=dict)
    landed_at: datetime | None = None
    alerted_at: datetime | None = None
    latency_ms_p50: float | None = None
    latency_ms_p99: float | None = None
    latency_ms_max: float | None = None
    landed_to_alert_ms: float | None = None
    model_version: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    preview: pd.DataFrame | None = None

    def metadata(self) -> dict:
        return {
            "batch_id": self.batch_id, "partition_date": self.day, "events": self.events,
            "valid": self.valid, "quarantined": self.quarantined, "alerts": self.alerts,
            "decisions": dict(self.decisions), "failed_checks": dict(self.failed_checks),
            "latency_ms_p50": self.latency_ms_p50, "latency_ms_p99": self.latency_ms_p99,
            "latency_ms_max": self.latency_ms_max, "landed_to_alert_ms": self.landed_to_alert_ms,
            "model_version": self.model_version,
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
        }


def _validated_batch(path: Path, landing_dir: Path, day: str, now: datetime) -> tuple[pd.DataFrame, object]:
    """Stage and validate one batch file in a private in-memory DuckDB; return core rows + quality result."""
    from fintech_dataops.lib.quality.core_gate import validate_partition

    con = duckdb.connect(":memory:")
    try:
        # A one-file landing zone next to the real one: the raw stage reads exactly this batch
        # with unchanged lineage. A hard link, not a symlink (the raw layer refuses symlinks).
        with tempfile.TemporaryDirectory(prefix=".rt-batch-view-", dir=landing_dir.parent) as view:
            folder = Path(view) / EVENTS_FEED / f"date={day}"
            folder.mkdir(parents=True)
            try:
                os.link(path, folder / path.name)
            except OSError:
                shutil.copyfile(path, folder / path.name)
            stage, _ = stage_partition(con, Path(view), EVENTS_FEED, day, now)
        con.execute("CREATE SCHEMA raw")
        con.execute(f"CREATE TABLE raw.{EVENTS_FEED} AS SELECT * FROM {stage}")
        # The view mirrors landing/<feed>/date=D/, so source_file names the real landed file.
        quality = validate_partition(con, EVENTS_FEED, [day], now=now)
        valid = con.execute(f"SELECT * FROM {quality.valid_table}").df()
    finally:
        con.close()
    return valid, quality


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    # fetchall, not fetchone: DuckDB 2 refuses register() while a result is left unfinished.
    schema, name = table.split(".")
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name],
    ).fetchall()[0][0])


def _settle(con: duckdb.DuckDBPyConnection) -> None:
    """Finish any pending result (the warehouse helpers leave one), so register() is allowed."""
    con.execute("SELECT 1").fetchall()


def _history(con: duckdb.DuckDBPyConnection, valid: pd.DataFrame, horizon_seconds: float) -> pd.DataFrame | None:
    """Earlier transactions of the batch's customers within the feature horizon."""
    tables = [t for t in (TRANSACTIONS_TABLE, "core.transactions") if _exists(con, t)]
    if valid.empty or not tables:
        return None
    since = (pd.Timestamp(valid["event_time"].min()) - pd.Timedelta(seconds=horizon_seconds)).to_pydatetime()
    customers = pd.DataFrame({"customer_id": valid["customer_id"].astype("string").unique()})
    sql = " UNION ALL ".join(
        f"SELECT transaction_id, customer_id, merchant_id, amount, currency, event_time "
        f"FROM {warehouse.qualified(t)} WHERE event_time >= $since "
        f"AND customer_id IN (SELECT customer_id FROM rt_batch_customers)"
        for t in tables
    )
    con.register("rt_batch_customers", customers)
    try:
        history = con.execute(sql, {"since": since}).df()
    finally:
        con.unregister("rt_batch_customers")
    return history.drop_duplicates("transaction_id") if len(history) else None


def _engine(models_dir: Path):
    from fintech_dataops.lib.realtime.engine_host import engine_for

    return engine_for(models_dir)


def process_batch(database: Path, landing_dir: Path, models_dir: Path, key: str, *,
                  lock_wait_seconds: float = 300.0, engine=None) -> BatchResult:
    """Run one micro-batch (``date=D/<id>.jsonl``) through the near-real-time path; idempotent.

    ``engine``: an already loaded ``FraudEngine`` (the warm path's cached one); default: load the CURRENT model.
    Raises ``warehouse.WarehouseLockTimeout`` when another process holds the warehouse for ``lock_wait_seconds``.
    """
    from fintech_dataops.lib.realtime.landed_batches import parse_batch_key

    day, batch_id = parse_batch_key(key)
    path = Path(landing_dir) / EVENTS_FEED / key
    result = BatchResult(batch_id=batch_key(day, batch_id), day=day)
    result.landed_at = datetime.fromtimestamp(path.stat().st_mtime_ns / 1e9, tz=timezone.utc)
    now = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    valid, quality = _validated_batch(path, Path(landing_dir), day, now)
    result.events, result.valid = quality.raw_rows, quality.valid_rows
    result.quarantined, result.failed_checks = quality.quarantined_rows, dict(quality.failed_checks)
    t1 = time.perf_counter()
    result.timings["raw_and_core"] = t1 - t0
    engine = engine if engine is not None else _engine(models_dir)
    result.model_version = engine.model_version
    valid = valid.assign(batch_id=result.batch_id)
    with warehouse.connection(database, wait_seconds=lock_wait_seconds) as con:
        history = _history(con, valid, engine.feature_config.customer_horizon_us / 1e6)
        t2 = time.perf_counter()
        scored = engine.score_frame(valid[[c for c in CORE_COLUMNS if c in valid.columns]], history) \
            if len(valid) else pd.DataFrame()
        t3 = time.perf_counter()
        result.timings["history"], result.timings["scoring"] = t2 - t1, t3 - t2
        alerts = _alert_rows(scored, result)
        result.alerts = len(alerts)
        result.decisions = scored["decision"].value_counts().to_dict() if len(scored) else {}
        con.register("rt_valid", warehouse.frame_to_arrow(valid))
        warehouse.replace_partitions(con, TRANSACTIONS_TABLE, _typed_select("rt_valid", valid, _TRANSACTION_TYPES),
                                     partition_column="batch_id", partition_values=[result.batch_id])
        result.alerted_at = datetime.now(timezone.utc)
        alerts["alerted_at"] = pd.Timestamp(result.alerted_at).tz_convert("UTC").tz_localize(None)
        _settle(con)
        con.register("rt_alerts", warehouse.frame_to_arrow(alerts))
        warehouse.replace_partitions(con, ALERTS_TABLE, _typed_select("rt_alerts", alerts, _ALERT_TYPES),
                                     partition_column="batch_id", partition_values=[result.batch_id])
        _measure_latency(result, valid)
        latency = _latency_row(result)
        _settle(con)
        con.register("rt_latency", warehouse.frame_to_arrow(latency))
        warehouse.replace_partitions(con, LATENCY_TABLE, _typed_select("rt_latency", latency, _LATENCY_TYPES),
                                     partition_column="batch_id", partition_values=[result.batch_id])
        _settle(con)
        for name in ("rt_valid", "rt_alerts", "rt_latency"):
            con.unregister(name)
    result.timings["write"] = time.perf_counter() - t3
    result.preview = alerts.head(10)
    return result


# The near-real-time tables are this module's own: their column types are fixed here, so an
# empty first batch cannot create a column of type NULL. Frames are registered through Arrow
# (warehouse.frame_to_arrow): DuckDB's own pandas scan guesses list types from a sample of rows.
_TRANSACTION_TYPES = {
    "transaction_id": "VARCHAR", "customer_id": "VARCHAR", "merchant_id": "VARCHAR", "amount": "DOUBLE",
    "currency": "VARCHAR", "event_time": "TIMESTAMP", "channel": "VARCHAR", "merchant_category": "VARCHAR",
    "country": "VARCHAR", "device_id": "VARCHAR", "partition_date": "DATE", "source_file": "VARCHAR",
    "line_number": "BIGINT", "batch_id": "VARCHAR",
}
_ALERT_TYPES = {
    "batch_id": "VARCHAR", "partition_date": "DATE", "transaction_id": "VARCHAR", "customer_id": "VARCHAR",
    "merchant_id": "VARCHAR", "amount": "DOUBLE", "currency": "VARCHAR", "event_time": "TIMESTAMP",
    "decision": "VARCHAR", "risk_score": "DOUBLE", "model_score": "DOUBLE", "rule_ids": "VARCHAR[]",
    "reasons": "VARCHAR[]", "model_version": "VARCHAR", "alerted_at": "TIMESTAMP",
}
_LATENCY_TYPES = {
    "batch_id": "VARCHAR", "partition_date": "DATE", "events": "BIGINT", "valid_events": "BIGINT",
    "quarantined_events": "BIGINT", "alerts": "BIGINT", "landed_at": "TIMESTAMP", "alerted_at": "TIMESTAMP",
    "latency_ms_p50": "DOUBLE", "latency_ms_p99": "DOUBLE", "latency_ms_max": "DOUBLE",
    "landed_to_alert_ms": "DOUBLE", "model_version": "VARCHAR",
}


def _typed_select(view: str, frame: pd.DataFrame, types: dict[str, str]) -> str:
    """``SELECT`` of ``view`` with every known column cast to its declared type (missing ones NULL)."""
    columns = []
    for name, sql_type in types.items():
        source = f'"{name}"' if name in frame.columns else "NULL"
        columns.append(f'CAST({source} AS {sql_type}) AS "{name}"')
    return f"SELECT {', '.join(columns)} FROM {view}"


def _alert_rows(scored: pd.DataFrame, result: BatchResult) -> pd.DataFrame:
    columns = {
        "batch_id": pd.Series(dtype="string"), "partition_date": pd.Series(dtype="object"),
        "transaction_id": pd.Series(dtype="string"), "customer_id": pd.Series(dtype="string"),
        "merchant_id": pd.Series(dtype="string"), "amount": pd.Series(dtype="float64"),
        "currency": pd.Series(dtype="string"), "event_time": pd.Series(dtype="datetime64[us]"),
        "decision": pd.Series(dtype="string"), "risk_score": pd.Series(dtype="float64"),
        "model_score": pd.Series(dtype="float64"), "rule_ids": pd.Series(dtype="object"),
        "reasons": pd.Series(dtype="object"), "model_version": pd.Series(dtype="string"),
    }
    if scored.empty:
        frame = pd.DataFrame(columns)
    else:
        flagged = scored[scored["decision"] != "approve"]
        frame = pd.DataFrame({
            "batch_id": result.batch_id,
            "partition_date": pd.Series([pd.Timestamp(result.day).date()] * len(flagged), dtype="object"),
            "transaction_id": flagged["transaction_id"].astype("string").to_numpy(),
            "customer_id": flagged["customer_id"].astype("string").to_numpy(),
            "merchant_id": flagged["merchant_id"].astype("string").to_numpy(),
            "amount": flagged["amount"].to_numpy(dtype="float64"),
            "currency": flagged["currency"].astype("string").to_numpy(),
            "event_time": pd.to_datetime(flagged["event_time"]).to_numpy(),
            "decision": flagged["decision"].astype("string").to_numpy(),
            "risk_score": flagged["risk_score"].to_numpy(dtype="float64"),
            "model_score": flagged["model_score"].to_numpy(dtype="float64"),
            "rule_ids": [list(v) for v in flagged["rule_ids"]],
            "reasons": [list(v) for v in flagged["reasons"]],
            "model_version": pd.Series([result.model_version] * len(flagged), dtype="string").to_numpy(),
        })
    frame["alerted_at"] = pd.Series(dtype="datetime64[us]")
    return frame


def _measure_latency(result: BatchResult, valid: pd.DataFrame) -> None:
    """event time → alert row written, over the batch's valid events; file landed → alert row written."""
    alerted = result.alerted_at
    result.landed_to_alert_ms = round((alerted - result.landed_at).total_seconds() * 1000, 3)
    if valid.empty:
        return
    events = pd.to_datetime(valid["event_time"])
    events = events.dt.tz_localize("UTC") if events.dt.tz is None else events.dt.tz_convert("UTC")
    latency = (pd.Timestamp(alerted) - events).dt.total_seconds().to_numpy() * 1000
    p50, p99 = np.percentile(latency, [50, 99])
    result.latency_ms_p50, result.latency_ms_p99 = round(float(p50), 3), round(float(p99), 3)
    result.latency_ms_max = round(float(latency.max()), 3)


def _latency_row(result: BatchResult) -> pd.DataFrame:
    def naive(moment: datetime | None):
        return None if moment is None else pd.Timestamp(moment).tz_convert("UTC").tz_localize(None)

    return pd.DataFrame({
        "batch_id": pd.Series([result.batch_id], dtype="string"),
        "partition_date": pd.Series([pd.Timestamp(result.day).date()], dtype="object"),
        "events": pd.Series([result.events], dtype="int64"),
        "valid_events": pd.Series([result.valid], dtype="int64"),
        "quarantined_events": pd.Series([result.quarantined], dtype="int64"),
        "alerts": pd.Series([result.alerts], dtype="int64"),
        "landed_at": pd.Series([naive(result.landed_at)], dtype="datetime64[us]"),
        "alerted_at": pd.Series([naive(result.alerted_at)], dtype="datetime64[us]"),
        "latency_ms_p50": pd.Series([result.latency_ms_p50], dtype="float64"),
        "latency_ms_p99": pd.Series([result.latency_ms_p99], dtype="float64"),
        "latency_ms_max": pd.Series([result.latency_ms_max], dtype="float64"),
        "landed_to_alert_ms": pd.Series([result.landed_to_alert_ms], dtype="float64"),
        "model_version": pd.Series([result.model_version], dtype="string"),
    })


def unprocessed_batches(database: Path, landing_dir: Path) -> list[str]:
    """Keys of landed service batches with no ``realtime.batch_latency`` row yet (catch-up)."""
    from fintech_dataops.lib.realtime.landed_batches import scan_batches

    landed = [b.key for b in scan_batches(landing_dir)]
    if not landed:
        return landed
    done = processed_batches(database)
    return [k for k in landed if k not in done]


def processed_batches(database: str | Path, *, lock_wait_seconds: float = 120.0) -> set[str]:
    """Keys of the micro-batches with a ``realtime.batch_latency`` row (local file or remote warehouse)."""
    if warehouse.is_local_database(database) and not Path(database).exists():
        return set()
    with warehouse.connection(database, read_only=True, wait_seconds=lock_wait_seconds) as con:
        if not warehouse.table_exists(con, LATENCY_TABLE):
            return set()
        return {r[0] for r in con.execute(f"SELECT batch_id FROM {warehouse.qualified(LATENCY_TABLE)}").fetchall()}
