"""Ledger wiring: book each day (ledger/entries), close and settle batches on the chain (ledger/batches),
and the checks that keep it honest. Logic lives in fintech_dataops/lib/ledger."""

import time
from datetime import date

import dagster as dg

from fintech_dataops.defs import catalog
from fintech_dataops.defs.automation import ON_INPUT_CHANGE
from fintech_dataops.defs.ledger.resources import ChainResource
from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL, daily_partitions, record_each_day
from fintech_dataops.defs.resources import WarehouseResource
from fintech_dataops.lib.ledger.booking import LedgerConfig as _Defaults

GROUP = "ledger"
ENTRIES = dg.AssetKey(["ledger", "entries"])
BATCHES = dg.AssetKey(["ledger", "batches"])
POSTINGS = dg.AssetKey(["ledger", "postings"])
ACCOUNTS = dg.AssetKey(["ledger", "accounts"])
UNBOOKABLE = dg.AssetKey(["ledger", "unbookable"])
BATCH_POSITIONS = dg.AssetKey(["ledger", "batch_positions"])
SETTLEMENT_MART = dg.AssetKey(["marts", "ledger_settlement"])
_SOURCES = [catalog.SCORED_TRANSACTIONS, catalog.CORE_FRAUD_LABELS, catalog.CORE_FEEDS["partner_loans"],
            catalog.STRIPE_CHARGES, catalog.STRIPE_DISPUTES]
_MAX_LISTED = 50  # differences listed in a check's metadata table (the count is always complete)


class LedgerConfig(dg.Config):
    fee_bps: int = _Defaults.fee_bps
    batch_max_entries: int = _Defaults.batch_max_entries

    def to_lib(self) -> _Defaults:
        return _Defaults(fee_bps=self.fee_bps, batch_max_entries=self.batch_max_entries)


def _table(rows: list[dict]) -> dg.MetadataValue:
    if not rows:
        return dg.MetadataValue.md("none")
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows[:_MAX_LISTED]]
    if len(rows) > _MAX_LISTED:
        lines.append(f"\n… and {len(rows) - _MAX_LISTED} more")
    return dg.MetadataValue.md("\n".join(lines))


def _spec(key: dg.AssetKey, description: str, *, deps=(), **kwargs) -> dg.AssetSpec:
    return dg.AssetSpec(key, deps=list(deps), group_name=GROUP, kinds={"duckdb"}, description=description,
                        metadata={"dagster/table_name": ".".join(key.path)}, **kwargs)


@dg.multi_asset(
    specs=[
        _spec(ENTRIES, "The double-entry ledger (ledger.entries): the day's approved card payments (with the platform "
                       "fee), refunds, chargebacks (fraud labels, Stripe disputes) and partner loan "
                       "disbursements/repayments, balanced per currency, hash-chained per stream, idempotent by "
                       "business event id (a rerun or backfill books nothing twice).", deps=_SOURCES),
        _spec(POSTINGS, "The postings of every ledger entry (ledger.postings): account, currency and signed amount in "
                        "integer minor units; each entry's postings sum to zero per currency.", deps=[ENTRIES]),
        _spec(ACCOUNTS, "The ledger's accounts (ledger.accounts): customers, merchants, platform fees, settlement, "
                        "chargebacks and loans, opened the first time an entry posts to them.", deps=[ENTRIES]),
        _spec(UNBOOKABLE, "Events the ledger could not book (ledger.unbookable), each with its reason (e.g. an amount "
                          "finer than its currency's minor unit): listed, never dropped.", deps=[ENTRIES]),
    ],
    partitions_def=daily_partitions, backfill_policy=dg.BackfillPolicy.single_run(), pool=WAREHOUSE_WRITE_POOL,
)
def ledger_entries(context: dg.AssetExecutionContext, config: LedgerConfig, warehouse: WarehouseResource):
    from fintech_dataops.lib.ledger.booking import entries_for_day
    from fintech_dataops.lib.ledger.store import book, record_unbookable, stored_rows_of_day

    started = time.perf_counter()
    booked = already = unbookable = 0
    kinds: dict[str, int] = {}
    days: dict[str, dict] = {}  # each day's own figures, recorded on that day's materializations
    for day in context.partition_keys:
        business_date = date.fromisoformat(day)
        with warehouse.get_connection() as con:
            day_entries = entries_for_day(con, business_date, config.to_lib())
            result = book(con, day_entries.entries, business_date=business_date)
            day_unbookable = record_unbookable(con, day_entries.unbookable)
            days[day] = {"stored": stored_rows_of_day(con, business_date), "booked": result.booked,
                         "already_booked": result.already_booked, "events_by_kind": day_entries.by_kind()}
        booked, already, unbookable = booked + result.booked, already + result.already_booked, unbookable + day_unbookable
        for kind, n in day_entries.by_kind().items():
            kinds[kind] = kinds.get(kind, 0) + n
        warehouse.yield_to_waiters()
    context.log.info(f"ledger: {booked} entries booked, {already} already booked, {unbookable} unbookable")
    record_each_day(context, {day: {
        "dagster/row_count": figures["stored"]["entries"], "booked": figures["booked"],
        "already_booked": figures["already_booked"], "unbookable": figures["stored"]["unbookable"],
        "events_by_kind": dg.MetadataValue.json(figures["events_by_kind"])} for day, figures in days.items()},
        asset_key=ENTRIES)
    yield dg.MaterializeResult(asset_key=ENTRIES, metadata={  # the run's figures (a range: all its days)
        "booked_in_run": booked, "already_booked_in_run": already, "unbookable_in_run": unbookable,
        "days_in_run": len(days), "seconds": round(time.perf_counter() - started, 3),
    })
    for key, name in ((POSTINGS, "postings"), (ACCOUNTS, "accounts"), (UNBOOKABLE, "unbookable")):
        record_each_day(context, {day: {"dagster/row_count": figures["stored"][name]}
                                  for day, figures in days.items()}, asset_key=key)
        yield dg.MaterializeResult(asset_key=key)


@dg.asset_check(asset=ENTRIES, name="entries_balance", blocking=True,
                description="Every stored entry's postings sum to zero in each currency (re-read from storage).")
def entries_balance(warehouse: WarehouseResource):
    from fintech_dataops.lib.ledger.checks import unbalanced_entries

    with warehouse.get_connection() as con:
        rows = unbalanced_entries(con)
    return dg.AssetCheckResult(passed=not rows, metadata={"unbalanced": len(rows), "entries": _table(rows)})


@dg.asset_check(asset=ENTRIES, name="approved_payments_booked_once", blocking=False,
                description="Every approved card payment of the booked days is booked exactly once, for its amount; "
                            "every difference is listed.")
def approved_payments_booked_once(warehouse: WarehouseResource):
    from fintech_dataops.lib.ledger.checks import booked_days
    from fintech_dataops.lib.ledger.reconcile import booking_differences

    with warehouse.get_connection() as con:
        days = booked_days(con)
        rows = booking_differences(con, days) if days else []
    return dg.AssetCheckResult(passed=not rows, severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"differences": len(rows), "days_checked": len(days), "listed": _table(rows)})


_BATCHES_DESCRIPTION = ("Settlement batches (ledger.batches): unbatched entries grouped under a Merkle root, anchored on the "
                "EVM chain (batch number, root, net-positions digest in the transaction data) and synced back "
                "(closed → signed → settled with tx hash and block; a failed send is retried with the same signed "
                "transaction, so a batch is never settled twice).")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(BATCHES, deps=[ENTRIES], group_name=GROUP, kinds={"duckdb", "ethereum"},
                     automation_condition=ON_INPUT_CHANGE, metadata={"dagster/table_name": "ledger.batches"},
                     description=_BATCHES_DESCRIPTION),
        _spec(BATCH_POSITIONS, "Each settlement batch's net position per settlement account and currency "
                               "(ledger.batch_positions), in integer minor units; their digest is anchored on chain "
                               "with the batch's Merkle root.", deps=[BATCHES], automation_condition=ON_INPUT_CHANGE),
    ],
    pool=WAREHOUSE_WRITE_POOL,
)
def ledger_batches(context: dg.AssetExecutionContext, config: LedgerConfig, warehouse: WarehouseResource,
                   chain: ChainResource):
    from fintech_dataops.lib.ledger.settle import settle_batches
    from fintech_dataops.lib.ledger.store import close_batches

    started = time.perf_counter()
    with warehouse.get_connection() as con:
        closed = close_batches(con, max_entries=config.batch_max_entries)
    with chain.open() as opened:
        report = settle_batches(warehouse.get_connection, opened, receipt_timeout=chain.receipt_timeout_seconds)
        chain_id = opened.chain_id
    with warehouse.get_connection() as con:
        total, settled = con.execute("SELECT count(*), count(*) FILTER (WHERE status = 'settled') "
                                     "FROM ledger.batches").fetchone()
    if report.failed:
        context.log.warning(f"ledger: settlement stopped at {report.failed[0][0]}: {report.failed[0][1]}")
    with warehouse.get_connection() as con:
        positions = int(con.execute("SELECT count(*) FROM ledger.batch_positions").fetchone()[0])
    yield dg.MaterializeResult(asset_key=BATCHES, metadata={
        "dagster/row_count": int(total), "closed_now": len(closed), "settled_now": len(report.settled),
        "settled_total": int(settled), "failed": dg.MetadataValue.json([list(f) for f in report.failed]),
        "chain_id": chain_id, "seconds": round(time.perf_counter() - started, 3),
    })
    yield dg.MaterializeResult(asset_key=BATCH_POSITIONS, metadata={"dagster/row_count": positions})


@dg.asset_check(asset=BATCHES, name="chain_matches_ledger", blocking=False,
                description="Every settled batch's transaction is on chain and anchors the Merkle root and net "
                            "positions of the batch's stored entries; no batch anchored twice. Differences listed.")
def chain_matches_ledger(warehouse: WarehouseResource, chain: ChainResource):
    from fintech_dataops.lib.ledger.reconcile import chain_differences

    with chain.open() as opened, warehouse.get_connection() as con:
        rows = chain_differences(con, opened)
    return dg.AssetCheckResult(passed=not rows, severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"differences": len(rows), "listed": _table(rows)})


@dg.asset_check(asset=BATCHES, name="ledger_verifies", blocking=True,
                description="Hash chains and batch Merkle roots recomputed from the stored rows (`ledger verify`).")
def ledger_verifies(warehouse: WarehouseResource):
    from fintech_dataops.lib.ledger.verify import verify_ledger

    with warehouse.get_connection() as con:
        report = verify_ledger(con)
    rows = [{"problem": f.problem, "stream": f.stream, "seq": f.seq, "entry_id": f.entry_id, "detail": f.detail}
            for f in report.findings]
    return dg.AssetCheckResult(passed=report.ok, metadata={"entries": report.entries, "batches": report.batches,
                                                          "findings": len(rows), "listed": _table(rows)})


@dg.asset(
    key=SETTLEMENT_MART, deps=[BATCHES], group_name=GROUP, kinds={"duckdb", "sql"}, pool=WAREHOUSE_WRITE_POOL,
    automation_condition=ON_INPUT_CHANGE,
    description="Per business day and currency: entries booked and settled, card volume, platform fees, chargebacks "
                "and the card volume already settled on chain (DECIMAL, from integer minor units).",
    metadata={"dagster/table_name": "marts.ledger_settlement"},
)
def ledger_settlement_mart(warehouse: WarehouseResource):
    from fintech_dataops.lib.ledger.report import SETTLEMENT_MART as TABLE, settlement_mart_sql
    from fintech_dataops.lib.warehouse import replace_table

    with warehouse.get_connection() as con:
        rows = replace_table(con, TABLE, settlement_mart_sql())
        settled = con.execute(f"SELECT sum(entries_settled), sum(entries) FROM {TABLE}").fetchone()
    return dg.MaterializeResult(metadata={"dagster/row_count": rows, "entries_settled": int(settled[0] or 0),
                                          "entries": int(settled[1] or 0)})


ledger_assets = [ledger_entries, ledger_batches, ledger_settlement_mart]
ledger_checks = [entries_balance, approved_payments_booked_once, chain_matches_ledger, ledger_verifies]
