"""The service's ``FraudEngine``: warm start, bounded window state and model hot reload.

Only the scoring thread touches the engine. A new model version is loaded in a
background thread (unpickling and importing scikit-learn take a second) and
then swapped in *between* two micro-batches by the scoring thread, carrying the
sliding-window state over, so no request is dropped or scored against an empty
window. Customers idle for longer than the longest feature window no longer
influence any feature and are evicted; a hard cap on tracked customers evicts
the least recently active first, so memory stays bounded under any traffic.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fintech_dataops.lib import warehouse
from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.fraud.features import US_PER_SECOND
from fintech_dataops.lib.fraud.model import current_version

log = logging.getLogger(__name__)


@dataclass
class WarmStartReport:
    transactions_read: int = 0
    transactions_kept: int = 0
    labels_read: int = 0
    seconds: float = 0.0
    source: str = "cold"
    error: str | None = None


def engine_for(models_dir: Path) -> FraudEngine:
    """The engine with the CURRENT model, or rules only when no model has been trained yet.

    The rules are the data dir's active rules (``lib.fraud.rules.active_rules``), the ones batch scoring reads.
    """
    from fintech_dataops.lib.fraud.model import load_model
    from fintech_dataops.lib.fraud.rules import rules_for_model

    if current_version(models_dir):
        try:
            model = load_model(models_dir)
            return FraudEngine(rules=rules_for_model(models_dir, model), model=model)
        except (FileNotFoundError, TypeError, ValueError) as exc:
            log.warning("cannot load the current fraud model (%s): scoring with rules only", exc)
    return FraudEngine(rules=rules_for_model(models_dir))


def recent_history(database: Path, *, lookback_seconds: float, max_rows: int,
                   lock_wait_seconds: float = 2.0) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The latest ``lookback_seconds`` of scorable transactions (and their fraud labels), read-only.

    The same sources as the batch path: card and open-banking transactions minus inflows
    (``scorable_transactions_sql``), with ``device_id`` so the device feature starts warm,
    and every label source (``fraud_labels_sql``: card chargebacks and Stripe disputes).
    Anchored at the newest event (a replayed or simulated month works the same as live
    data). Returns (None, None) when there is no warehouse or no transaction table yet.
    """
    from fintech_dataops.lib.fraud.warehouse_io import scorable_transactions_sql
    from fintech_dataops.lib.open_banking.tables import fraud_labels_sql

    if not Path(database).exists():
        return None, None
    with warehouse.connection(database, read_only=True, wait_seconds=lock_wait_seconds) as con:
        try:
            source = scorable_transactions_sql(con)
        except LookupError:
            return None, None
        scorable = f"WITH scorable AS ({source})"
        cut = con.execute(f"{scorable} SELECT max(event_time) - to_microseconds(?::BIGINT) FROM scorable",
                          [int(lookback_seconds * US_PER_SECOND)]).fetchone()[0]
        if cut is None:
            return None, None
        history = con.execute(
            f"""
            {scorable}
            SELECT transaction_id, customer_id, merchant_id, amount, currency, event_time, device_id
            FROM scorable WHERE event_time >= ? ORDER BY event_time DESC LIMIT ?
            """,
            [cut, int(max_rows)],
        ).df()
        try:
            labels_source = fraud_labels_sql(con)
        except LookupError:
            return history, None
        # Only labels of transactions in the window can place a merchant's fraud (filtered here,
        # in SQL: a pandas isin over a million string ids takes seconds).
        labels = con.execute(
            f"""
            {scorable}
            SELECT l.transaction_id, l.is_fraud, l.reported_time FROM ({labels_source}) AS l
            WHERE l.is_fraud AND l.transaction_id IN (SELECT transaction_id FROM scorable WHERE event_time >= ?)
            """,
            [cut],
        ).df()
    return history, labels


class EngineHost:
    """Owns the engine; every method except ``prepare_reload`` runs on the scoring thread."""

    def __init__(self, engine: FraudEngine, models_dir: Path, *, max_customers: int = 1_000_000,
                 keep_customers=None):
        self.engine = engine
        # customer ids → which this host keeps windows for (a shard: lib/realtime/scoring_process); None: all
        self.keep_customers = keep_customers
        self.models_dir = Path(models_dir)
        self.max_customers = max_customers
        self._pending: FraudEngine | None = None
        self._pending_fx = None
        self.fx_stamp: tuple | None = None   # (latest rate day, rows) of the core.fx_rates in use
        self.fx_reloads = 0
        self.reloads = 0
        self.evicted_customers = 0
        getattr(engine, "fx", None)  # parse the reference rates now, not on the first request
        self.last_reload_error: str | None = None
        self._state_size: dict = {}
        self._snapshot()

    @property
    def model_version(self) -> str | None:
        return self.engine.model_version

    @property
    def fx_status(self) -> dict:
        """Reporting currency and the latest reference-rate day in use (for /health)."""
        fx = getattr(self.engine, "_fx", None)
        if fx is None:
            return {"reporting_currency": None, "latest_rate_day": None, "reloads": self.fx_reloads}
        return {"reporting_currency": fx.config.reporting_currency, "latest_rate_day": str(fx.last_day),
                "reloads": self.fx_reloads}

    # -- warm start -----------------------------------------------------------------------
    def warm_start(self, database: Path, *, lookback_seconds: float | None = None, max_rows: int = 2_000_000,
                   lock_wait_seconds: float = 2.0) -> WarmStartReport:
        """Fill the window state from the warehouse; a missing or busy warehouse means a cold start."""
        report = WarmStartReport()
        started = time.perf_counter()
        try:  # the warehouse's reference rates first, so the warm windows hold reporting-currency money
            if self.prepare_fx_reload(database, lock_wait_seconds=lock_wait_seconds):
                self.adopt_pending()
        except Exception as exc:  # the bundled ECB history stays in use
            log.warning("cannot read core.fx_rates at warm start: %s", exc)
        lookback = lookback_seconds or self.engine.feature_config.customer_horizon_us / US_PER_SECOND
        try:
            history, labels = recent_history(database, lookback_seconds=lookback, max_rows=max_rows,
                                             lock_wait_seconds=lock_wait_seconds)
        except warehouse.WarehouseLockTimeout as exc:
            report.error = f"warehouse busy, started cold: {exc}"
            history = labels = None
        if history is not None and len(history):
            report.transactions_read = len(history)
            report.labels_read = 0 if labels is None else len(labels)
            report.transactions_kept = (self.engine.warm_start(history, labels) if self.keep_customers is None else
                                        self.engine.warm_start(history, labels, customers=self.keep_customers))
            report.source = f"core.transactions ({database})"
            self.enforce_bounds()
        report.seconds = time.perf_counter() - started
        return report

    # -- scoring --------------------------------------------------------------------------
    def score(self, records: list[dict] | pd.DataFrame) -> pd.DataFrame:
        self.adopt_pending()
        return self.engine.score_batch(records)

    def score_arrays(self, columns: dict) -> dict:
        """The service's path: validated columns in, decision arrays out (see FraudEngine.score_arrays)."""
        self.adopt_pending()
        return self.engine.score_arrays(columns)

    # -- hot reload -----------------------------------------------------------------------
    def prepare_reload(self) -> str | None:
        """If CURRENT names another version, load it (background thread); returns that version."""
        version = current_version(self.models_dir)
        if not version or version == self.engine.model_version or (
            self._pending is not None and self._pending.model_version == version
        ):
            return None
        try:
            from fintech_dataops.lib.fraud.model import load_model
            from fintech_dataops.lib.fraud.rules import rules_for_model

            model = load_model(self.models_dir, version)
            # the data dir's active rules, as at start and in batch scoring (not only the model's own)
            self._pending = FraudEngine(rules=rules_for_model(self.models_dir, model), model=model)
            self.last_reload_error = None
        except Exception as exc:  # a broken model file must not stop the service: keep the old model
            self.last_reload_error = f"cannot load fraud model {version}: {type(exc).__name__}: {exc}"
            log.error(self.last_reload_error)
            return None
        return version

    def prepare_fx_reload(self, database: Path, *, lock_wait_seconds: float = 0.5) -> tuple | None:
        """If ``core.fx_rates`` changed (a new day of rates landed), load it (background thread)."""
        from fintech_dataops.lib.money.fx import FX_RATES_TABLE, FxRates

        if not Path(database).exists():
            return None
        try:
            with warehouse.connection(database, read_only=True, wait_seconds=lock_wait_seconds) as con:
                if not warehouse.table_exists(con, FX_RATES_TABLE):
                    return None
                stamp = tuple(con.execute(f"SELECT max(rate_date), count(*) FROM {FX_RATES_TABLE}").fetchone())
                if stamp == self.fx_stamp or not stamp[1]:
                    return None
                config = self.engine.fx.config if hasattr(self.engine, "fx") else None
                self._pending_fx = (stamp, FxRates.from_warehouse(con, config))
        except warehouse.WarehouseLockTimeout:
            return None  # busy writer: try again next period
        return stamp

    def adopt_pending(self) -> None:
        pending_fx, self._pending_fx = self._pending_fx, None
        if pending_fx is not None:
            self.fx_stamp, rates = pending_fx
            if hasattr(self.engine, "set_fx"):
                self.engine.set_fx(rates)
            self.fx_reloads += 1
            log.info("reference rates up to %s are live", self.fx_stamp[0])
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if hasattr(pending, "set_fx"):
            pending.set_fx(self.engine.fx)  # the new model judges money at the rates already live
        pending.adopt_state(self.engine)
        self.engine = pending
        self.reloads += 1
        log.info("fraud model %s is live", pending.model_version)

    def close(self) -> None:
        """Nothing to stop: the engine lives on this process's scoring thread (cf. ScoringProcess.close)."""

    # -- bounded memory -------------------------------------------------------------------
    def enforce_bounds(self) -> int:
        """Evict customers idle past the longest window, then the least recent ones above the cap.

        Also takes the state-size snapshot that ``/health`` shows: counting walks every window,
        so it happens here, on the scoring thread, and never on the HTTP loop while the scorer
        is changing the state (which could fail with "dictionary changed size during iteration").
        """
        evicted = self.engine.evict_idle(self.max_customers)
        self.evicted_customers += evicted
        self._snapshot()
        return evicted

    def _snapshot(self) -> None:
        self._state_size = {**dict(getattr(self.engine, "state_size", {})), "as_of": round(time.time(), 3)}

    @property
    def state_size(self) -> dict:
        """Customers now (a dict length: safe from any thread); the rest as of the last bounds check
        (every 10 s in the service, ``as_of``)."""
        customers = getattr(self.engine, "customer_count", None)
        return {**self._state_size, **({"customers": customers} if customers is not None else {})}
