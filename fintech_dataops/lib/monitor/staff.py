"""Staff keys: who may act on fraud cases, separate from the transaction-submission key.

Keys are configured as SHA-256 hashes, never in clear: ``FINTECH_STAFF_KEYS`` (``analyst:sha256hex``
entries separated by commas) or ``FINTECH_STAFF_KEYS_FILE`` (one ``analyst:sha256hex`` per line,
``#`` comments). A request sends its key in ``X-Staff-Key``; the key is hashed and compared in
constant time with every configured hash, and the analyst it names is who acted. The hash of a
key is ``fintech-dataops monitor --hash-key`` (reads the key from stdin).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

STAFF_KEYS_ENV = "FINTECH_STAFF_KEYS"
STAFF_KEYS_FILE_ENV = "FINTECH_STAFF_KEYS_FILE"
HEADER = "x-staff-key"
# Where a trusted front (the multi-tenant router, lib/tenancy/service.py) puts the analyst it verified:
# an ASGI scope key, which no client can set (headers, cookies and query strings are not scope keys).
STAFF_SCOPE_KEY = "fintech.staff_analyst"
_ENTRY = re.compile(r"^\s*([A-Za-z0-9._@-]{1,64})\s*:\s*([0-9a-fA-F]{64})\s*$")


class StaffKeyConfigError(ValueError):
    """A malformed staff-key entry (the entry is not echoed: it may hold a secret)."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_entries(text: str, where: str) -> dict[str, str]:
    hashes: dict[str, str] = {}
    for number, raw in enumerate(re.split(r"[,\n]", text), 1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        match = _ENTRY.match(entry)
        if not match:
            raise StaffKeyConfigError(f"{where}: entry {number} is not 'analyst:<sha256 hex of the key>'")
        hashes[match.group(2).lower()] = match.group(1)
    return hashes


@dataclass(frozen=True)
class StaffKeys:
    """Hash of a key → the analyst it belongs to."""

    by_hash: Mapping[str, str] = field(default_factory=dict, repr=False)
    # True: identities are verified in front of the app (per tenant) and arrive in the ASGI scope;
    # this app then knows no key itself, and a request without a verified analyst is refused.
    delegated: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StaffKeys:
        env = os.environ if environ is None else environ
        hashes: dict[str, str] = {}
        if env.get(STAFF_KEYS_ENV):
            hashes.update(parse_entries(env[STAFF_KEYS_ENV], STAFF_KEYS_ENV))
        if env.get(STAFF_KEYS_FILE_ENV):
            path = Path(env[STAFF_KEYS_FILE_ENV])
            hashes.update(parse_entries(path.read_text(encoding="utf-8"), str(path)))
        return cls(hashes)

    @property
    def configured(self) -> bool:
        return bool(self.by_hash) or self.delegated

    def analyst_of(self, request) -> str | None:
        """The analyst a request acts as: verified in front (delegated), else by its ``X-Staff-Key``."""
        if self.delegated:
            return request.scope.get(STAFF_SCOPE_KEY)
        return self.analyst_for(request.headers.get(HEADER))

    def analyst_for(self, supplied: str | None) -> str | None:
        """The analyst whose key this is, else None (every hash compared, in constant time each)."""
        if not supplied:
            return None
        digest = hash_key(supplied)
        found = None
        for known, analyst in self.by_hash.items():
            if hmac.compare_digest(known, digest):
                found = analyst
        return found

    def refuse_shared_with(self, api_key: str | None) -> None:
        """A staff key must not be the transaction-submission key (one leak would open both doors)."""
        if api_key and self.analyst_for(api_key) is not None:
            raise StaffKeyConfigError("a staff key equals the transaction-submission API key: use separate keys")
