"""Plaid through ``plaid-python``: balances and ``/transactions/sync`` with a cursor per linked item.

The sync of one item pulls every page while ``has_more``; if Plaid answers
``TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION`` the collected pages are
discarded and the whole update restarts from the cursor it began with. Pages
are landed (one immutable batch, ids never landed twice) before the new cursor
is committed, so a crash in between replays the window without duplicates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import plaid
from plaid.api import plaid_api
from plaid.model.accounts_balance_get_request import AccountsBalanceGetRequest
from plaid.model.item_get_request import ItemGetRequest
from plaid.model.transactions_sync_request import TransactionsSyncRequest

from fintech_dataops.lib.open_banking.errors import (
    CredentialsRejected,
    OpenBankingError,
    SyncRestartLimit,
    plaid_error_code,
)
from fintech_dataops.lib.open_banking.feeds import PLAID_ACCOUNTS, PLAID_TRANSACTIONS
from fintech_dataops.lib.open_banking.landed import LandingOutcome, land_records, landed_ids
from fintech_dataops.lib.open_banking.retry import RetryPolicy, Transient, call_with_retries, parse_retry_after
from fintech_dataops.lib.open_banking.state import SyncStateStore

PLAID_HOSTS = {"sandbox": plaid.Environment.Sandbox, "production": plaid.Environment.Production}
MUTATION_DURING_PAGINATION = "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION"
_CREDENTIAL_ERRORS = {"INVALID_API_KEYS", "INVALID_ACCESS_TOKEN", "ITEM_LOGIN_REQUIRED", "UNAUTHORIZED_ENVIRONMENT"}


def plaid_client(host: str, client_id: str, secret: str) -> plaid_api.PlaidApi:
    configuration = plaid.Configuration(host=host, api_key={"clientId": client_id, "secret": secret})
    return plaid_api.PlaidApi(plaid.ApiClient(configuration))


def classify_plaid(exc: BaseException) -> Transient:
    status = getattr(exc, "status", None)
    if isinstance(exc, plaid.ApiException) and status is not None and (status == 429 or status >= 500):
        headers = getattr(exc, "headers", None) or {}
        return Transient(True, parse_retry_after(headers.get("Retry-After")))
    return Transient(False)


def _translate(exc: BaseException, what: str) -> OpenBankingError:
    code = plaid_error_code(exc) or "unknown"
    status = getattr(exc, "status", "?")
    if code in _CREDENTIAL_ERRORS:
        return CredentialsRejected(
            f"Plaid rejected the credentials for {what} (HTTP {status}, {code}): check PLAID_CLIENT_ID, "
            "PLAID_SECRET, PLAID_ENV and the item's access token in PLAID_ACCESS_TOKENS")
    return OpenBankingError(f"Plaid {what} failed (HTTP {status}, {code})")


def _json_model(model) -> dict:
    """The SDK model as plain JSON (dates and times as ISO-8601 strings, UTC)."""
    return json.loads(json.dumps(plaid.ApiClient.sanitize_for_serialization(model), default=str))


def _iso_utc(value, *, microseconds: bool = False) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if microseconds else "%Y-%m-%dT%H:%M:%SZ")
    return f"{value.isoformat()}T00:00:00Z"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def transaction_change_record(kind: str, txn: dict, *, item_id: str, customer_id: str, received: datetime) -> dict:
    """One landed line: the contract fields plus the transaction exactly as received."""
    canonical = json.dumps(txn, sort_keys=True, separators=(",", ":"))
    pfc = txn.get("personal_finance_category") or {}
    when = txn.get("authorized_datetime") or txn.get("datetime") or txn.get("authorized_date") or txn.get("date")
    return {
        "change_id": _digest(item_id, kind, canonical)[:32],
        "item_id": item_id,
        "customer_id": customer_id,
        "change_type": kind,
        "transaction_id": txn["transaction_id"],
        "account_id": txn.get("account_id"),
        "amount": txn.get("amount"),
        "currency": txn.get("iso_currency_code") or txn.get("unofficial_currency_code"),
        "transaction_date": txn.get("date"),
        "event_time": None if when is None else (when if "T" in when else f"{when}T00:00:00Z"),
        "merchant_name": txn.get("merchant_name"),
        "description": txn.get("name"),
        "payment_channel": txn.get("payment_channel"),
        "category": pfc.get("primary"),
        "country": (txn.get("location") or {}).get("country"),
        "is_pending": txn.get("pending"),
        "received_time": _iso_utc(received),
        "source": "plaid",
        "api_object": txn,
    }


@dataclass
class ItemSyncResult:
    customer_id: str
    item_id: str = ""
    pages: int = 0
    restarts: int = 0
    added: int = 0
    modified: int = 0
    removed: int = 0
    landing: LandingOutcome = field(default_factory=LandingOutcome)
    cursor_advanced: bool = False


@dataclass
class PlaidSyncer:
    api: plaid_api.PlaidApi
    landing_dir: Path
    state: SyncStateStore
    retry: RetryPolicy = RetryPolicy()
    page_size: int = 100
    max_restarts: int = 5
    sleep: Callable[[float], None] | None = None
    log: Callable[[str], None] = lambda message: None

    def _call(self, fn, request, what: str):
        kwargs = {"sleep": self.sleep} if self.sleep else {}
        try:
            return call_with_retries(
                lambda: fn(request), classify_plaid, self.retry,
                on_retry=lambda n, wait, exc: self.log(
                    f"Plaid {what}: HTTP {getattr(exc, 'status', '?')}, retry {n} in {wait:.2f}s"),
                **kwargs,
            )
        except plaid.ApiException as exc:
            if plaid_error_code(exc) == MUTATION_DURING_PAGINATION:
                raise
            raise _translate(exc, what) from None
        except plaid.ApiTypeError as exc:
            raise OpenBankingError(f"Plaid {what}: response did not match the API model ({exc.__class__.__name__})") from None

    def sync_item(self, customer_id: str, access_token: str, *, now: datetime | None = None,
                  after_landing: Callable[[], None] | None = None) -> ItemSyncResult:
        """Pull every change since the item's committed cursor, land it, then commit the new cursor."""
        now = now or datetime.now(timezone.utc)
        result = ItemSyncResult(customer_id=customer_id)
        stored = self.state.load("plaid", customer_id)
        start_cursor = stored.get("cursor") or ""
        item_id = stored.get("item_id") or self._call(
            self.api.item_get, ItemGetRequest(access_token=access_token), f"/item/get for item {customer_id}").item.item_id
        while True:
            try:
                pages, next_cursor = self._pull(access_token, start_cursor, customer_id)
                break
            except plaid.ApiException:
                result.restarts += 1
                self.log(f"Plaid item {customer_id}: transactions changed during pagination; "
                         f"restarting from the cursor the update began with (restart {result.restarts})")
                if result.restarts > self.max_restarts:
                    raise SyncRestartLimit(
                        f"Plaid item {customer_id}: mutation during pagination {result.restarts} times in a row; "
                        "cursor left unchanged, the next run retries") from None
        result.item_id, result.pages = item_id, len(pages)
        records = []
        for page in pages:
            for kind in ("added", "modified", "removed"):
                for txn in getattr(page, kind):
                    records.append(transaction_change_record(
                        kind, _json_model(txn), item_id=item_id, customer_id=customer_id, received=now))
                    setattr(result, kind, getattr(result, kind) + 1)
        since = date.fromisoformat(stored["committed_day"]) if stored.get("committed_day") else None
        batch = f"{customer_id}-{now.strftime('%Y%m%dT%H%M%S%f')}-{_digest(start_cursor, next_cursor)[:10]}"
        result.landing = land_records(
            self.landing_dir, PLAID_TRANSACTIONS.name, now.date(), batch, records, id_field="change_id",
            already_landed=landed_ids(self.landing_dir, PLAID_TRANSACTIONS.name, "change_id", since) if records else set(),
        )
        if after_landing is not None:
            after_landing()
        if next_cursor != start_cursor or not stored:
            self.state.commit("plaid", customer_id, {
                "item_id": item_id, "cursor": next_cursor, "committed_day": now.date().isoformat(),
                "committed_at": _iso_utc(now),
            })
            result.cursor_advanced = next_cursor != start_cursor
        return result

    def _pull(self, access_token: str, start_cursor: str, customer_id: str):
        cursor, pages = start_cursor, []
        while True:
            request = TransactionsSyncRequest(access_token=access_token, count=self.page_size)
            if cursor:
                request.cursor = cursor
            page = self._call(self.api.transactions_sync, request, f"/transactions/sync for item {customer_id}")
            pages.append(page)
            cursor = page.next_cursor
            if not page.has_more:
                return pages, cursor

    def balances(self, customer_id: str, access_token: str, *, now: datetime | None = None) -> tuple[list[dict], str]:
        """Balance snapshot records for every account of the item (``/accounts/balance/get``)."""
        now = now or datetime.now(timezone.utc)
        response = self._call(self.api.accounts_balance_get, AccountsBalanceGetRequest(access_token=access_token),
                              f"/accounts/balance/get for item {customer_id}")
        item_id = response.item.item_id
        records = []
        for account in response.accounts:
            raw = _json_model(account)
            balances = raw.get("balances") or {}
            # To the microsecond: two pulls in one second are two snapshots, not one id twice
            # (the second would be quarantined as a duplicate of the first).
            observed = _iso_utc(now, microseconds=True)
            records.append({
                "snapshot_id": _digest(item_id, raw["account_id"], observed)[:32],
                "item_id": item_id, "customer_id": customer_id, "account_id": raw["account_id"],
                "account_name": raw.get("name"), "account_type": raw.get("type"),
                "account_subtype": raw.get("subtype"),
                "currency": balances.get("iso_currency_code") or balances.get("unofficial_currency_code"),
                "available_balance": balances.get("available"), "current_balance": balances.get("current"),
                "credit_limit": balances.get("limit"), "observed_time": observed,
                "source": "plaid", "api_object": raw,
            })
        return records, item_id

    def land_balances(self, items: dict[str, str], *, now: datetime | None = None) -> tuple[LandingOutcome, int]:
        now = now or datetime.now(timezone.utc)
        records = []
        for customer_id, token in sorted(items.items()):
            records.extend(self.balances(customer_id, token, now=now)[0])
        batch = f"balances-{now.strftime('%Y%m%dT%H%M%S%f')}"
        outcome = land_records(self.landing_dir, PLAID_ACCOUNTS.name, now.date(), batch, records,
                               id_field="snapshot_id", already_landed=set())
        return outcome, len(items)
