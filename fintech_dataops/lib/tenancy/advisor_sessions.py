"""Advisor customer sessions per bank: each tenant's own signing secret, tokens that name their bank.

In single-tenant mode the bank signs customer tokens with ``FINTECH_ADVISOR_SESSION_SECRET``
(``lib.advisor.web``). Behind the multi-tenant service that one variable would be a secret shared
by every bank, so each tenant has its own: 256 random bits in ``<tenant root>/advisor_session.secret``
(0600, in the tenant's own storage), written at ``tenant create``, replaced at ``tenant rotate-key``
(every open customer session ends with the old key), removed with the tenant. It never leaves the
platform: the bank's backend, after signing its customer in, asks the service for a token with its
API key (``POST /advisor/session``), and hands the token to the customer's browser.

A token is ``fdt_<tenant>.<customer id>.<expiry>.<HMAC-SHA256>``; the MAC covers the tenant name,
and is checked with the named tenant's secret, so a token of bank A is refused at bank B (its MAC
does not verify with B's secret, and a request carrying A's token with B's key is refused).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from fintech_dataops.lib.advisor.scope import CUSTOMER_ID_RE
from fintech_dataops.lib.ingestion.landing import write_atomic
from fintech_dataops.lib.tenancy.paths import TenantError, validate_tenant_name

SECRET_FILE = "advisor_session.secret"
TOKEN_PREFIX = "fdt_"
MAX_TTL_SECONDS = 8 * 3600
DEFAULT_TTL_SECONDS = 3600
# Where the multi-tenant router puts the customer it verified (an ASGI scope key: no client can set it).
CUSTOMER_SCOPE_KEY = "fintech.advisor_customer"


def write_secret(root: Path) -> None:
    """A fresh secret for the tenant at ``root`` (replacing any previous one: its tokens stop working)."""
    path = Path(root) / SECRET_FILE
    write_atomic(path, secrets.token_hex(32).encode())  # mkstemp: created 0600, then renamed in place
    os.chmod(path, 0o600)


def read_secret(root: Path) -> bytes | None:
    try:
        secret = (Path(root) / SECRET_FILE).read_bytes().strip()
    except FileNotFoundError:
        return None
    return secret or None


def token_tenant(token: str) -> str | None:
    """The tenant a token names (not yet verified), or None for anything that is not a customer token."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    tenant = token[len(TOKEN_PREFIX):].split(".", 1)[0]
    try:
        return validate_tenant_name(tenant)
    except TenantError:
        return None


def _mac(secret: bytes, payload: str) -> str:
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()


def sign(tenant: str, customer_id: str, secret: bytes, ttl_seconds: int = DEFAULT_TTL_SECONDS,
         now: float | None = None) -> tuple[str, int]:
    """(token, expiry as epoch seconds) for one customer of one bank."""
    validate_tenant_name(tenant)
    if not CUSTOMER_ID_RE.fullmatch(customer_id or ""):
        raise TenantError("customer_id must look like C0000042")
    if not 1 <= int(ttl_seconds) <= MAX_TTL_SECONDS:
        raise TenantError(f"ttl_seconds must be 1-{MAX_TTL_SECONDS}")
    expires = int((now if now is not None else time.time()) + int(ttl_seconds))
    payload = f"{TOKEN_PREFIX}{tenant}.{customer_id}.{expires}"
    return f"{payload}.{_mac(secret, payload)}", expires


def verify(token: str, tenant: str, secret: bytes | None, now: float | None = None) -> str | None:
    """The customer id of a valid, unexpired token of ``tenant`` signed with its ``secret``; None otherwise."""
    if not secret or token_tenant(token) != tenant:
        return None
    try:
        named, customer_id, expires, mac = token[len(TOKEN_PREFIX):].split(".")
        expired = int(expires) < (now if now is not None else time.time())
    except ValueError:
        return None
    expected = _mac(secret, f"{TOKEN_PREFIX}{named}.{customer_id}.{expires}")
    if expired or not hmac.compare_digest(mac, expected) or not CUSTOMER_ID_RE.fullmatch(customer_id):
        return None
    return customer_id
