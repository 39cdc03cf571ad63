"""Errors of the open-banking sync, worded for the operator and never carrying a secret.

SDK exceptions are translated, not chained (``raise … from None``): their text
can include request details, and a Dagster failure event prints the whole chain.
"""

from __future__ import annotations

import json


class OpenBankingError(RuntimeError):
    """A sync failed; the message says what to check. Contains no credential."""


class CredentialsRejected(OpenBankingError):
    """The API refused the configured credentials (wrong key, wrong environment, revoked token)."""


class SyncRestartLimit(OpenBankingError):
    """Plaid kept reporting mutation during pagination; the cursor was not advanced."""


def plaid_error_code(exc: BaseException) -> str | None:
    """``error_code`` of a Plaid error response (``plaid.ApiException.body``), if any."""
    body = getattr(exc, "body", None)
    if not body:
        return None
    try:
        return json.loads(body).get("error_code")
    except (ValueError, AttributeError, TypeError):
        return None


def redact(text: str, *secrets: str | None) -> str:
    """Replace every configured secret in ``text`` (a defence in depth for log lines)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
