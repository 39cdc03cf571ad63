"""Open-banking assets: pull Plaid and Stripe into the landing zone, then raw → core → ``open_banking.*``.

The pulls are cursor/watermark driven (not day partitions): each run lands
what is new into today's landing folder, and the raw/core steps reload every
landed day of their feed (atomic partition replaces, so reruns never
duplicate). Core steps carry the platform's core checks (schema,
reconciliation, quarantine rate).
"""

import time
from datetime import datetime, timezone

import dagster as dg

from fintech_dataops.defs.open_banking.resources import PlaidResource, StripeResource
from fintech_dataops.defs.ingestion.assets import build_feed_assets
from fintech_dataops.defs.previews import sql_preview
from fintech_dataops.defs.partitions import WAREHOUSE_WRITE_POOL
from fintech_dataops.defs.resources import DataDirResource, WarehouseResource
from fintech_dataops.lib.open_banking.feeds import (
    OPEN_BANKING_FEEDS,
    PLAID_ACCOUNTS,
    PLAID_TRANSACTIONS,
    STRIPE_LIST_FEEDS,
)
from fintech_dataops.lib.ingestion.feeds import Feed

GROUP = "open_banking"
STATE_DIR = "open_banking_state"


def landing_key(feed: Feed) -> dg.AssetKey:
    return dg.AssetKey(["landing", feed.name])


def _state(data_dir: DataDirResource):
    from fintech_dataops.lib.open_banking.state import SyncStateStore

    return SyncStateStore(data_dir.root / STATE_DIR)


def _files_md(files: list[str]) -> str:
    return "\n".join(f"- `{f}`" for f in files[:10]) or "nothing new"


@dg.asset(
    key=landing_key(PLAID_ACCOUNTS), group_name=GROUP, kinds={"plaid"},
    description="Balances of every linked item's accounts (/accounts/balance/get), landed as received.",
)
def plaid_accounts_landed(context: dg.AssetExecutionContext, plaid: PlaidResource, data_dir: DataDirResource):
    started = time.perf_counter()
    syncer = plaid.syncer(data_dir.landing_dir, _state(data_dir), log=context.log.info)
    outcome, items = syncer.land_balances(plaid.linked_items)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": outcome.records, "items": items, "mode": plaid.mode,
        "landed_files": dg.MetadataValue.md(_files_md(outcome.files)),
        "seconds": round(time.perf_counter() - started, 3),
    })


@dg.asset(
    key=landing_key(PLAID_TRANSACTIONS), group_name=GROUP, kinds={"plaid"},
    description=(
        "Plaid /transactions/sync for every linked item: all pages while has_more, restart from the starting "
        "cursor on mutation during pagination, land the changes, then commit the item's cursor."
    ),
)
def plaid_transactions_landed(context: dg.AssetExecutionContext, plaid: PlaidResource, data_dir: DataDirResource):
    started = time.perf_counter()
    syncer = plaid.syncer(data_dir.landing_dir, _state(data_dir), log=context.log.info)
    now = datetime.now(timezone.utc)
    per_item, files = {}, []
    for customer_id, token in sorted(plaid.linked_items.items()):
        result = syncer.sync_item(customer_id, token, now=now)
        files += result.landing.files
        per_item[customer_id] = {"pages": result.pages, "added": result.added, "modified": result.modified,
                                 "removed": result.removed, "restarts": result.restarts,
                                 "landed": result.landing.records,
                                 "skipped_already_landed": result.landing.skipped_already_landed}
    total = sum(v["landed"] for v in per_item.values())
    context.log.info(f"plaid transactions: {total} change(s) landed from {len(per_item)} item(s) ({plaid.mode})")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": total, "items": len(per_item), "mode": plaid.mode,
        "added": sum(v["added"] for v in per_item.values()),
        "modified": sum(v["modified"] for v in per_item.values()),
        "removed": sum(v["removed"] for v in per_item.values()),
        "restarts": sum(v["restarts"] for v in per_item.values()),
        "per_item": dg.MetadataValue.json(per_item),
        "landed_files": dg.MetadataValue.md(_files_md(files)),
        "seconds": round(time.perf_counter() - started, 3),
    })


def build_stripe_landing_asset(kind: str) -> dg.AssetsDefinition:
    feed = STRIPE_LIST_FEEDS[kind]

    @dg.asset(
        key=landing_key(feed), group_name=GROUP, kinds={"stripe"},
        description=f"Stripe /v1/{kind} created since the committed watermark (created[gte] + starting_after), landed as received.",
    )
    def stripe_landed(context: dg.AssetExecutionContext, stripe: StripeResource, data_dir: DataDirResource):
        started = time.perf_counter()
        result = stripe.syncer(data_dir.landing_dir, _state(data_dir), log=context.log.info).sync(kind)
        context.log.info(f"stripe {kind}: {result.landing.records} new object(s) in {result.pages} page(s) ({stripe.mode})")
        return dg.MaterializeResult(metadata={
            "dagster/row_count": result.landing.records, "pages": result.pages, "received": result.received,
            "skipped_at_watermark": result.skipped_at_watermark, "mode": stripe.mode,
            "watermark": result.watermark_after or 0,
            "landed_files": dg.MetadataValue.md(_files_md(result.landing.files)),
            "seconds": round(time.perf_counter() - started, 3),
        })

    return stripe_landed


def _publish(context, warehouse: WarehouseResource, build, table: str) -> dg.MaterializeResult:
    started = time.perf_counter()
    with warehouse.get_connection() as con:
        rows = build(con)
        preview = sql_preview(con, f"SELECT * FROM {table}", rows=5)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": rows, "seconds": round(time.perf_counter() - started, 3), "preview": preview,
    })


@dg.asset(
    key=["open_banking", "plaid_transactions"], deps=[dg.AssetKey(["core", "plaid_transactions"])],
    group_name=GROUP, kinds={"duckdb"}, pool=WAREHOUSE_WRITE_POOL,
    description="Current state of every Plaid transaction: the change log replayed (modified = latest, removed = gone).",
)
def plaid_transactions_current(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from fintech_dataops.lib.open_banking.tables import PLAID_CURRENT, build_plaid_current

    return _publish(context, warehouse, build_plaid_current, PLAID_CURRENT)


@dg.asset(
    key=["open_banking", "plaid_balances"], deps=[dg.AssetKey(["core", "plaid_accounts"])],
    group_name=GROUP, kinds={"duckdb"}, pool=WAREHOUSE_WRITE_POOL,
    description="One balance per Plaid account per day (that day's latest pull; pulls_that_day counts them). "
                "core.plaid_accounts keeps every pull as history (snapshot_id = account × pull time).",
)
def plaid_balances(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from fintech_dataops.lib.open_banking.tables import PLAID_BALANCES, build_plaid_balances

    return _publish(context, warehouse, build_plaid_balances, PLAID_BALANCES)


@dg.asset(
    key=["open_banking", "platform_transactions"],
    deps=[dg.AssetKey(["open_banking", "plaid_transactions"]), dg.AssetKey(["core", "stripe_charges"])],
    group_name=GROUP, kinds={"duckdb"}, pool=WAREHOUSE_WRITE_POOL,
    description="Plaid transactions and succeeded Stripe charges in the platform transaction contract "
                "(read by fraud and credit through lib.ingestion.sources.transactions_sql).",
)
def platform_transactions(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from fintech_dataops.lib.open_banking.tables import build_platform_transactions
    from fintech_dataops.lib.ingestion.sources import OPEN_BANKING_TRANSACTIONS

    return _publish(context, warehouse, build_platform_transactions, OPEN_BANKING_TRANSACTIONS)


@dg.asset(
    key=["open_banking", "stripe_fraud_labels"],
    deps=[dg.AssetKey(["core", n]) for n in ("stripe_disputes", "stripe_charges", "stripe_events")],
    group_name=GROUP, kinds={"duckdb"}, pool=WAREHOUSE_WRITE_POOL,
    description="Fraud labels from Stripe: fraudulent disputes (chargebacks), other disputes (not fraud), "
                "fraudulent refunds — in the fraud_labels columns.",
)
def stripe_fraud_labels(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    from fintech_dataops.lib.open_banking.tables import STRIPE_FRAUD_LABELS, build_stripe_fraud_labels

    return _publish(context, warehouse, build_stripe_fraud_labels, STRIPE_FRAUD_LABELS)


landing_assets = [plaid_accounts_landed, plaid_transactions_landed,
                  *(build_stripe_landing_asset(kind) for kind in STRIPE_LIST_FEEDS)]
# raw/core of every feed: the platform's one factory (stripe_events is landed by the webhook receiver, not an asset).
_layers = [asset for f in OPEN_BANKING_FEEDS.values()
           for asset in build_feed_assets(f, GROUP, None if f.name == "stripe_events" else landing_key(f))]
layer_assets = [a for a in _layers if isinstance(a, dg.AssetsDefinition)]
quarantine_specs = [a for a in _layers if isinstance(a, dg.AssetSpec)]  # quarantine/<feed>, written by core
published_assets = [plaid_transactions_current, plaid_balances, platform_transactions, stripe_fraud_labels]
open_banking_assets = [*landing_assets, *layer_assets, *published_assets]
