"""Deterministic sandbox data for the emulator: Plaid items/transactions and Stripe objects.

Everything is generated per (seed, entity, day), so the data of a given day
never depends on the window asked for: a cursor or a ``created`` watermark
taken yesterday stays valid against today's emulator. Customers are the
simulator's ids (``C0000001`` …), so open-banking rows join the rest of the
platform. Object shapes follow Plaid's OpenAPI models and Stripe's published
fixtures (``stripe_templates.json``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path

_TEMPLATES = json.loads((Path(__file__).with_name("stripe_templates.json")).read_text())
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

# (description, merchant_name, pfc primary, pfc detailed, payment_channel, min, max)
_SPENDING = (
    ("STARBUCKS STORE 1458", "Starbucks", "FOOD_AND_DRINK", "FOOD_AND_DRINK_COFFEE", "in store", 3.0, 9.0),
    ("UBER *TRIP", "Uber", "TRANSPORTATION", "TRANSPORTATION_TAXIS_AND_RIDE_SHARES", "online", 8.0, 45.0),
    ("AMAZON MKTPL*2K4", "Amazon", "GENERAL_MERCHANDISE", "GENERAL_MERCHANDISE_ONLINE_MARKETPLACES", "online", 10.0, 220.0),
    ("WHOLEFDS MKT 10234", "Whole Foods", "FOOD_AND_DRINK", "FOOD_AND_DRINK_GROCERIES", "in store", 20.0, 160.0),
    ("SHELL OIL 5744", "Shell", "TRANSPORTATION", "TRANSPORTATION_GAS", "in store", 25.0, 85.0),
    ("NETFLIX.COM", "Netflix", "ENTERTAINMENT", "ENTERTAINMENT_TV_AND_MOVIES", "online", 15.49, 15.49),
    ("ATM WITHDRAWAL 0921", None, "TRANSFER_OUT", "TRANSFER_OUT_WITHDRAWAL", "other", 20.0, 300.0),
)
_PAYROLL = ("ACME CORP PAYROLL", "Acme Corp", "INCOME", "INCOME_WAGES", "other")
_RENT = ("RENT PAYMENT ONLINE", None, "RENT_AND_UTILITIES", "RENT_AND_UTILITIES_RENT", "other")
_STRIPE_CATEGORIES = ("electronics", "fashion", "travel", "food_delivery", "digital_goods", "home")
_CARD_COUNTRIES = ("US", "US", "US", "US", "GB", "CA", "DE", "FR")
_DISPUTE_REASONS_NOT_FRAUD = ("product_not_received", "duplicate", "subscription_canceled")


def stable_id(*parts: object, length: int = 24) -> str:
    """A deterministic alphanumeric id from ``parts`` (the shape of Plaid/Stripe ids)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    value = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        value, rem = divmod(value, len(_ALNUM))
        chars.append(_ALNUM[rem])
    return "".join(chars)


def _rng(*parts: object) -> random.Random:
    return random.Random(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest())


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


@dataclass(frozen=True)
class EmulatorConfig:
    start: date
    days: int = 30
    seed: int = 7
    customers: int = 3000           # the simulator's population size: ids C0000001 … C{customers}
    plaid_items: int = 12
    stripe_customers: int = 40
    stripe_charges_per_day: float = 6.0
    plaid_client_id: str = "emulator-client-id"
    plaid_secret: str = "emulator-plaid-secret"
    stripe_api_key: str = "sk_test_emulator_0000000000000000"

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days)

    def window(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]


# --------------------------------------------------------------------------- Plaid


@dataclass(frozen=True)
class PlaidAccount:
    account_id: str
    name: str
    subtype: str
    mask: str


@dataclass(frozen=True)
class PlaidItem:
    index: int
    item_id: str
    access_token: str
    customer_id: str
    institution_id: str
    accounts: tuple[PlaidAccount, ...]


@dataclass(frozen=True)
class PlaidChange:
    """One entry of an item's change log, visible from ``available_at`` on."""

    available_at: datetime
    kind: str  # added | modified | removed
    transaction: dict

    @property
    def key(self) -> str:
        order = {"added": 0, "modified": 1, "removed": 2}[self.kind]
        return f"{_iso(self.available_at)}|{self.transaction['transaction_id']}|{order}"


_CUSTOMER_ID_RE = re.compile(rb'"customer_id"\s*:\s*"C(\d{7})"')


def landed_population(landing_dir: Path) -> int | None:
    """Size of the simulated population in the landing zone (ids are C0000001 … in signup order), if any."""
    folder = Path(landing_dir) / "customers"
    if not folder.is_dir():
        return None
    highest = 0
    for path in folder.glob("date=*/*.jsonl"):
        for match in _CUSTOMER_ID_RE.finditer(path.read_bytes()):
            highest = max(highest, int(match.group(1)))
    return highest or None


def pick_customers(config: EmulatorConfig, count: int, salt: str) -> list[str]:
    rng = _rng(config.seed, salt)
    count = min(count, config.customers)
    return [f"C{i + 1:07d}" for i in sorted(rng.sample(range(config.customers), count))]


def plaid_items(config: EmulatorConfig) -> list[PlaidItem]:
    items = []
    for index, customer_id in enumerate(pick_customers(config, config.plaid_items, "plaid")):
        rng = _rng(config.seed, "item", index)
        accounts = [PlaidAccount(stable_id(config.seed, "acct", index, 0, length=37), "Plaid Checking", "checking",
                                 f"{rng.randrange(10000):04d}")]
        if rng.random() < 0.5:
            accounts.append(PlaidAccount(stable_id(config.seed, "acct", index, 1, length=37), "Plaid Saving",
                                         "savings", f"{rng.randrange(10000):04d}"))
        items.append(PlaidItem(
            index=index,
            item_id=stable_id(config.seed, "item", index, length=37),
            access_token=f"access-sandbox-{stable_id(config.seed, 'token', index, length=32)}",
            customer_id=customer_id,
            institution_id="ins_109508",
            accounts=tuple(accounts),
        ))
    return items


def _plaid_transaction(account_id: str, txn_id: str, amount: float, when: datetime, spec: tuple,
                       *, pending: bool, pending_transaction_id: str | None = None) -> dict:
    description, merchant, primary, detailed, channel = spec[:5]
    return {
        "account_id": account_id,
        "account_owner": None,
        "amount": round(amount, 2),
        "iso_currency_code": "USD",
        "unofficial_currency_code": None,
        "category": None,
        "category_id": None,
        "check_number": None,
        "date": when.date().isoformat(),
        "datetime": _iso(when) if channel != "other" else None,
        "authorized_date": when.date().isoformat(),
        "authorized_datetime": _iso(when) if channel != "other" else None,
        "location": {"address": None, "city": None, "region": None, "postal_code": None, "country": None,
                     "lat": None, "lon": None, "store_number": None},
        "merchant_name": merchant,
        "merchant_entity_id": None,
        "logo_url": None,
        "website": None,
        "name": description,
        "original_description": None,
        "payment_channel": channel,
        "payment_meta": {"reference_number": None, "ppd_id": None, "payee": None, "by_order_of": None,
                         "payer": None, "payment_method": None, "payment_processor": None, "reason": None},
        "pending": pending,
        "pending_transaction_id": pending_transaction_id,
        "personal_finance_category": {"primary": primary, "detailed": detailed, "confidence_level": "VERY_HIGH"},
        "transaction_code": None,
        "transaction_id": txn_id,
    }


def plaid_changes_for_day(config: EmulatorConfig, item: PlaidItem, day: date) -> list[PlaidChange]:
    """The changes caused by the transactions of ``day``: additions, pending→posted swaps, edits, reversals."""
    rng = _rng(config.seed, "plaid-day", item.index, day.toordinal())
    checking = item.accounts[0].account_id
    specs: list[tuple[tuple, float, str]] = []
    if day.day in (1, 15):
        specs.append((_PAYROLL, -round(rng.uniform(1400, 4200), 2), checking))
    if day.day == 1:
        specs.append((_RENT, round(rng.uniform(800, 2200), 2), checking))
    for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4))):
        spec = rng.choice(_SPENDING)
        specs.append((spec, round(rng.uniform(spec[5], spec[6]), 2), checking))
    if len(item.accounts) > 1 and rng.random() < 0.1:
        specs.append((("INTEREST PAYMENT", None, "INCOME", "INCOME_INTEREST_EARNED", "other"),
                      -round(rng.uniform(0.5, 9), 2), item.accounts[1].account_id))

    changes: list[PlaidChange] = []
    for n, (spec, amount, account_id) in enumerate(specs):
        when = _day_start(day) + timedelta(seconds=rng.randrange(6 * 3600, 22 * 3600))
        txn_id = stable_id(config.seed, "txn", item.index, day.toordinal(), n, length=37)
        known_at = when + timedelta(hours=2)
        if spec[4] != "other" and rng.random() < 0.3:
            # Card authorisation first shows as pending; when it posts Plaid removes the pending
            # transaction and adds the posted one (new id, pending_transaction_id set).
            pending = _plaid_transaction(account_id, txn_id, amount, when, spec, pending=True)
            changes.append(PlaidChange(known_at, "added", pending))
            posted_id = stable_id(config.seed, "posted", txn_id, length=37)
            posted_at = known_at + timedelta(hours=rng.randrange(12, 40))
            posted = _plaid_transaction(account_id, posted_id, amount, when, spec, pending=False,
                                        pending_transaction_id=txn_id)
            changes.append(PlaidChange(posted_at, "removed", {"transaction_id": txn_id, "account_id": account_id}))
            changes.append(PlaidChange(posted_at, "added", posted))
            continue
        posted = _plaid_transaction(account_id, txn_id, amount, when, spec, pending=False)
        changes.append(PlaidChange(known_at, "added", posted))
        roll = rng.random()
        if roll < 0.2 and amount > 0:
            # Tip added / merchant name cleaned up a day later.
            edited = copy.deepcopy(posted)
            edited["amount"] = round(amount * 1.15, 2)
            edited["merchant_name"] = (posted["merchant_name"] or "Cash") + " (adjusted)"
            changes.append(PlaidChange(known_at + timedelta(hours=rng.randrange(20, 48)), "modified", edited))
        elif roll < 0.25:
            changes.append(PlaidChange(known_at + timedelta(hours=rng.randrange(24, 72)), "removed",
                                       {"transaction_id": txn_id, "account_id": account_id}))
    return changes


def plaid_change_log(config: EmulatorConfig, item: PlaidItem) -> list[PlaidChange]:
    log = [c for day in config.window() for c in plaid_changes_for_day(config, item, day)]
    return sorted(log, key=lambda c: c.key)


def plaid_balances(config: EmulatorConfig, item: PlaidItem, as_of: datetime) -> list[dict]:
    accounts = []
    for n, account in enumerate(item.accounts):
        rng = _rng(config.seed, "balance", item.index, n, as_of.date().toordinal())
        current = round(rng.uniform(150, 9000), 2)
        accounts.append({
            "account_id": account.account_id,
            "balances": {
                "available": round(current - rng.uniform(0, 120), 2), "current": current, "limit": None,
                "iso_currency_code": "USD", "unofficial_currency_code": None,
                "last_updated_datetime": None,
            },
            "mask": account.mask,
            "name": account.name,
            "official_name": f"Plaid Gold Standard 0% Interest {account.subtype.title()}",
            "type": "depository",
            "subtype": account.subtype,
        })
    return accounts


def plaid_item_object(item: PlaidItem) -> dict:
    return {
        "item_id": item.item_id, "institution_id": item.institution_id, "webhook": None, "error": None,
        "available_products": ["balance"], "billed_products": ["transactions"],
        "consent_expiration_time": None, "update_type": "background",
    }


# --------------------------------------------------------------------------- Stripe


@dataclass
class StripeData:
    """Every Stripe object of the window, with the moment each state change happens."""

    charges: list[dict] = field(default_factory=list)
    payment_intents: list[dict] = field(default_factory=list)
    balance_transactions: list[dict] = field(default_factory=list)
    disputes: list[dict] = field(default_factory=list)
    # charge id → (refund time, refund id); charge id → dispute created
    refunds: dict[str, tuple[int, str]] = field(default_factory=dict)
    dispute_times: dict[str, int] = field(default_factory=dict)

    def visible(self, kind: str, as_of: int) -> list[dict]:
        """Objects of ``kind`` created at or before ``as_of``, in the state they have at ``as_of``."""
        rows = [o for o in getattr(self, kind) if o["created"] <= as_of]
        if kind == "charges":
            rows = [self._charge_state(o, as_of) for o in rows]
        elif kind == "disputes":
            rows = [self._dispute_state(o, as_of) for o in rows]
        return rows

    def _charge_state(self, charge: dict, as_of: int) -> dict:
        refund = self.refunds.get(charge["id"])
        disputed_at = self.dispute_times.get(charge["id"])
        if not (refund and refund[0] <= as_of) and not (disputed_at and disputed_at <= as_of):
            return charge
        charge = copy.deepcopy(charge)
        if refund and refund[0] <= as_of:
            charge.update(refunded=True, amount_refunded=charge["amount"], fraud_details={"user_report": "fraudulent"})
        if disputed_at and disputed_at <= as_of:
            charge["disputed"] = True
        return charge

    @staticmethod
    def _dispute_state(dispute: dict, as_of: int) -> dict:
        if as_of - dispute["created"] < 14 * 86400:
            return dispute
        dispute = copy.deepcopy(dispute)
        dispute["status"] = "lost" if dispute["reason"] == "fraudulent" else "won"
        dispute["is_charge_refundable"] = False
        return dispute


def stripe_customer_map(config: EmulatorConfig) -> dict[str, str]:
    """Stripe customer id (``cus_…``) → platform customer id."""
    return {f"cus_{stable_id(config.seed, 'cus', c, length=14)}": c
            for c in pick_customers(config, config.stripe_customers, "stripe")}


class StripeGenerator:
    def __init__(self, config: EmulatorConfig):
        self.config = config

    @cached_property
    def customers(self) -> list[tuple[str, str]]:
        return sorted(stripe_customer_map(self.config).items())

    def generate(self) -> StripeData:
        data = StripeData()
        for day in self.config.window():
            self._day(day, data)
        for kind in ("charges", "payment_intents", "balance_transactions", "disputes"):
            getattr(data, kind).sort(key=lambda o: (o["created"], o["id"]))
        return data

    def _day(self, day: date, data: StripeData) -> None:
        cfg = self.config
        rng = _rng(cfg.seed, "stripe-day", day.toordinal())
        count = max(0, int(round(rng.gauss(cfg.stripe_charges_per_day, cfg.stripe_charges_per_day ** 0.5))))
        for n in range(count):
            stripe_customer, customer_id = rng.choice(self.customers)
            created = int(_day_start(day).timestamp()) + rng.randrange(86400)
            amount = rng.randrange(500, 60000)
            charge_id = f"ch_{stable_id(cfg.seed, 'ch', day.toordinal(), n)}"
            intent_id = f"pi_{stable_id(cfg.seed, 'pi', day.toordinal(), n)}"
            succeeded = rng.random() > 0.05
            txn_id = f"txn_{stable_id(cfg.seed, 'txn', charge_id)}" if succeeded else None
            category = rng.choice(_STRIPE_CATEGORIES)
            country = rng.choice(_CARD_COUNTRIES)
            charge = copy.deepcopy(_TEMPLATES["charge"])
            charge.update(
                id=charge_id, amount=amount, amount_captured=amount if succeeded else 0, created=created,
                currency="usd", customer=stripe_customer, payment_intent=intent_id, balance_transaction=txn_id,
                paid=succeeded, captured=succeeded, status="succeeded" if succeeded else "failed",
                failure_code=None if succeeded else "card_declined",
                failure_message=None if succeeded else "Your card was declined.",
                description=f"Order {stable_id(cfg.seed, 'order', charge_id, length=8)}",
                metadata={"customer_id": customer_id, "merchant_category": category},
                receipt_url=None, refunds={"data": [], "has_more": False, "object": "list",
                                           "url": f"/v1/charges/{charge_id}/refunds"},
                outcome={**charge["outcome"], "network_status": "approved_by_network" if succeeded else "declined_by_network",
                         "type": "authorized" if succeeded else "issuer_declined",
                         "risk_level": "normal", "risk_score": rng.randrange(0, 60)},
                transfer_data=None,
            )
            charge["payment_method_details"]["card"]["country"] = country
            charge["payment_method_details"]["card"]["last4"] = f"{rng.randrange(10000):04d}"
            data.charges.append(charge)

            intent = copy.deepcopy(_TEMPLATES["payment_intent"])
            intent.update(
                id=intent_id, amount=amount, amount_received=amount if succeeded else 0, created=created - 2,
                currency="usd", customer=stripe_customer, latest_charge=charge_id, canceled_at=None,
                client_secret=f"{intent_id}_secret_{stable_id(cfg.seed, 'cs', intent_id)}",
                status="succeeded" if succeeded else "requires_payment_method",
                last_payment_error=None if succeeded else {"type": "card_error", "code": "card_declined"},
                metadata={"customer_id": customer_id}, next_action=None, processing=None,
            )
            data.payment_intents.append(intent)
            if not succeeded:
                continue
            fee = round(amount * 0.029) + 30
            data.balance_transactions.append(self._balance_txn(txn_id, amount, fee, created, charge_id, "charge", "charge"))

            roll = rng.random()
            if roll < 0.02:  # fraud caught by the merchant: refunded as fraudulent within the hour
                refund_at = created + rng.randrange(600, 3600)
                refund_id = f"re_{stable_id(cfg.seed, 're', charge_id)}"
                data.refunds[charge_id] = (refund_at, refund_id)
                data.balance_transactions.append(self._balance_txn(
                    f"txn_{stable_id(cfg.seed, 'txn', refund_id)}", -amount, 0, refund_at, refund_id, "refund", "refund"))
            elif roll < 0.06:  # chargeback days later: fraudulent (most) or a service dispute
                reason = "fraudulent" if roll < 0.05 else rng.choice(_DISPUTE_REASONS_NOT_FRAUD)
                dispute_at = created + rng.randrange(3 * 86400, 20 * 86400)
                dispute_id = f"dp_{stable_id(cfg.seed, 'dp', charge_id)}"
                dispute = copy.deepcopy(_TEMPLATES["dispute"])
                dispute.update(
                    id=dispute_id, amount=amount, charge=charge_id, payment_intent=intent_id, created=dispute_at,
                    currency="usd", reason=reason, status="needs_response", is_charge_refundable=True,
                    balance_transactions=[],
                )
                dispute["evidence_details"]["due_by"] = dispute_at + 7 * 86400
                dispute["payment_method_details"]["card"]["case_type"] = "chargeback"
                data.disputes.append(dispute)
                data.dispute_times[charge_id] = dispute_at
                data.balance_transactions.append(self._balance_txn(
                    f"txn_{stable_id(cfg.seed, 'txn', dispute_id)}", -amount, 1500, dispute_at, dispute_id,
                    "adjustment", "dispute"))

    @staticmethod
    def _balance_txn(txn_id: str, amount: int, fee: int, created: int, source: str, kind: str, category: str) -> dict:
        txn = copy.deepcopy(_TEMPLATES["balance_transaction"])
        txn.update(
            id=txn_id, amount=amount, fee=fee, net=amount - fee, created=created, available_on=created + 2 * 86400,
            currency="usd", source=source, type=kind, reporting_category=category, status="available",
            description=None,
            fee_details=[{"amount": fee, "application": None, "currency": "usd",
                          "description": "Stripe processing fees", "type": "stripe_fee"}] if fee else [],
        )
        return txn


def stripe_event(event_type: str, obj: dict, *, created: int, seed: int = 0) -> dict:
    """A Stripe event envelope (shape of the published fixture) around ``obj``."""
    event = copy.deepcopy(_TEMPLATES["event"])
    event.update(
        id=f"evt_{stable_id(seed, 'evt', event_type, obj.get('id'), created)}", created=created, type=event_type,
        api_version="2025-03-31.basil", data={"object": obj}, livemode=False, pending_webhooks=1,
        request={"id": None, "idempotency_key": None},
    )
    return event
