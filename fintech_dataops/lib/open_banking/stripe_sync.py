"""Stripe through the official ``stripe`` SDK: charges, payment intents, balance transactions, disputes.

Each object type is pulled incrementally by ``created``: ``created[gte]`` the
committed watermark, every page followed with ``starting_after`` while
``has_more``. Objects created exactly at the watermark second and already
landed are remembered by id, so the ``gte`` overlap never lands a duplicate
and a late object of that second is not missed. The watermark is committed
only after the batch is landed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import stripe

from fintech_dataops.lib.open_banking.errors import CredentialsRejected, OpenBankingError
from fintech_dataops.lib.open_banking.feeds import STRIPE_LIST_FEEDS
from fintech_dataops.lib.open_banking.landed import LandingOutcome, land_records, landed_ids
from fintech_dataops.lib.open_banking.retry import RetryPolicy, Transient, call_with_retries, parse_retry_after
from fintech_dataops.lib.open_banking.state import SyncStateStore

STRIPE_API_BASE = "https://api.stripe.com"
# Currencies whose amounts Stripe gives in major units (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
                          "vuv", "xaf", "xof", "xpf"})
PAGE_LIMIT = 100


def stripe_client(api_key: str, api_base: str = "") -> stripe.StripeClient:
    """The SDK client; our own retry loop handles 429/5xx, so the SDK's is switched off."""
    base = {"api": api_base} if api_base else None
    return stripe.StripeClient(api_key, base_addresses=base, max_network_retries=0)


def major_units(amount: int | None, currency: str | None) -> float | None:
    if amount is None:
        return None
    return float(amount) if (currency or "").lower() in ZERO_DECIMAL else amount / 100.0


def _iso(ts: int | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def classify_stripe(exc: BaseException) -> Transient:
    status = getattr(exc, "http_status", None)
    if isinstance(exc, stripe.APIConnectionError):
        return Transient(True)
    if isinstance(exc, stripe.StripeError) and status is not None and (status == 429 or status >= 500):
        headers = getattr(exc, "headers", None) or {}
        return Transient(True, parse_retry_after(headers.get("Retry-After") or headers.get("retry-after")))
    return Transient(False)


def _fraud_report(obj: dict) -> str | None:
    details = obj.get("fraud_details") or {}
    return details.get("user_report") or details.get("stripe_report")


def stripe_record(kind: str, obj: dict) -> dict:
    """Contract fields of one Stripe object, plus the object exactly as received (``api_object``)."""
    cur = obj.get("currency")
    metadata = obj.get("metadata") or {}
    common = {"currency": (cur or "").upper() or None, "event_time": _iso(obj.get("created")),
              "source": "stripe", "api_object": obj}
    if kind == "charges":
        card = (obj.get("payment_method_details") or {}).get("card") or {}
        return {
            "charge_id": obj["id"], "customer_id": metadata.get("customer_id"), "stripe_customer": obj.get("customer"),
            "payment_intent_id": obj.get("payment_intent"), "amount": major_units(obj.get("amount"), cur),
            "amount_refunded": major_units(obj.get("amount_refunded"), cur), "status": obj.get("status"),
            "is_refunded": obj.get("refunded"), "is_disputed": obj.get("disputed"),
            "fraud_report": _fraud_report(obj), "card_country": card.get("country"),
            "merchant_category": metadata.get("merchant_category"), **common,
        }
    if kind == "payment_intents":
        return {
            "payment_intent_id": obj["id"], "customer_id": metadata.get("customer_id"),
            "amount": major_units(obj.get("amount"), cur), "status": obj.get("status"),
            "latest_charge_id": obj.get("latest_charge"), **common,
        }
    if kind == "balance_transactions":
        return {
            "balance_transaction_id": obj["id"], "txn_type": obj.get("type"),
            "reporting_category": obj.get("reporting_category"), "source_id": obj.get("source"),
            "amount": major_units(obj.get("amount"), cur), "fee": major_units(obj.get("fee"), cur),
            "net": major_units(obj.get("net"), cur), "status": obj.get("status"),
            "available_time": _iso(obj.get("available_on")), **common,
        }
    if kind == "disputes":
        return {
            "dispute_id": obj["id"], "charge_id": obj.get("charge"), "payment_intent_id": obj.get("payment_intent"),
            "amount": major_units(obj.get("amount"), cur), "reason": obj.get("reason"), "status": obj.get("status"),
            **common,
        }
    raise ValueError(f"unknown Stripe object type {kind!r}")


@dataclass
class StripeSyncResult:
    kind: str
    pages: int = 0
    received: int = 0
    skipped_at_watermark: int = 0
    watermark_before: int | None = None
    watermark_after: int | None = None
    landing: LandingOutcome = field(default_factory=LandingOutcome)


@dataclass
class StripeSyncer:
    client: stripe.StripeClient
    landing_dir: Path
    state: SyncStateStore
    retry: RetryPolicy = RetryPolicy()
    page_limit: int = PAGE_LIMIT
    sleep: Callable[[float], None] | None = None
    log: Callable[[str], None] = lambda message: None

    def _list_page(self, kind: str, params: dict):
        service = getattr(self.client.v1, kind)
        kwargs = {"sleep": self.sleep} if self.sleep else {}
        try:
            return call_with_retries(
                lambda: service.list(params=params), classify_stripe, self.retry,
                on_retry=lambda n, wait, exc: self.log(
                    f"Stripe /v1/{kind}: HTTP {getattr(exc, 'http_status', '?')}, retry {n} in {wait:.2f}s"),
                **kwargs,
            )
        except (stripe.AuthenticationError, stripe.PermissionError):
            raise CredentialsRejected(
                f"Stripe rejected the API key for /v1/{kind}: check STRIPE_API_KEY (a restricted key needs read "
                "access to charges, payment intents, balance transactions and disputes)") from None
        except stripe.StripeError as exc:
            raise OpenBankingError(
                f"Stripe /v1/{kind} failed (HTTP {getattr(exc, 'http_status', '?')}, {exc.__class__.__name__})") from None

    def sync(self, kind: str, *, now: datetime | None = None,
             after_landing: Callable[[], None] | None = None) -> StripeSyncResult:
        feed = STRIPE_LIST_FEEDS[kind]
        now = now or datetime.now(timezone.utc)
        stored = self.state.load("stripe", kind)
        watermark = stored.get("watermark")
        seen_at_watermark = set(stored.get("ids_at_watermark") or [])
        result = StripeSyncResult(kind=kind, watermark_before=watermark)
        params: dict = {"limit": self.page_limit}
        if watermark is not None:
            params["created"] = {"gte": int(watermark)}
        objects: dict[str, dict] = {}
        while True:
            page = self._list_page(kind, params)
            result.pages += 1
            for obj in page.data:
                objects[obj.id] = obj.to_dict(recursive=True, for_json=True)
            if not page.has_more or not page.data:
                break
            params = {**params, "starting_after": page.data[-1].id}
        result.received = len(objects)
        fresh = [o for oid, o in objects.items() if oid not in seen_at_watermark]
        result.skipped_at_watermark = len(objects) - len(fresh)
        fresh.sort(key=lambda o: (o["created"], o["id"]))
        records = [stripe_record(kind, o) for o in fresh]
        since = date.fromisoformat(stored["committed_day"]) if stored.get("committed_day") else None
        digest = hashlib.sha256("|".join(o["id"] for o in fresh).encode()).hexdigest()[:10]
        result.landing = land_records(
            self.landing_dir, feed.name, now.date(), f"{kind}-{now.strftime('%Y%m%dT%H%M%S%f')}-{digest}", records,
            id_field=feed.id_field,
            already_landed=landed_ids(self.landing_dir, feed.name, feed.id_field, since) if records else set(),
        )
        if after_landing is not None:
            after_landing()
        if fresh:
            new_watermark = max(o["created"] for o in fresh)
            at_new = {o["id"] for o in fresh if o["created"] == new_watermark}
            if watermark is not None and new_watermark == watermark:
                at_new |= seen_at_watermark
            self.state.commit("stripe", kind, {
                "watermark": new_watermark, "ids_at_watermark": sorted(at_new),
                "committed_day": now.date().isoformat(), "committed_at": _iso(int(now.timestamp())),
            })
            result.watermark_after = new_watermark
        else:
            result.watermark_after = watermark
        return result
