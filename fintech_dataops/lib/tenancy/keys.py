"""API keys: generated here, shown once, stored only as a salted scrypt hash.

A key reads ``fdo_<key id>_<secret>``: the key id (not secret) finds the tenant
without trying every hash, the 256-bit secret is what proves it. A tenant's staff keys
(the monitor's analysts, ``lib.tenancy.staff_sessions``) read ``fds_<key id>_<secret>``: the
prefix keeps each kind of key out of the other's door. scrypt makes a
stolen registry file useless for recovering keys; the service verifies a key
once and then remembers only its SHA-256 (see ``KeyVerifier``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

KEY_PREFIX = "fdo"          # the tenant's API key (transaction submission)
STAFF_KEY_PREFIX = "fds"    # a tenant's staff key (an analyst signing in to the monitor)
_KEY_RES = {prefix: re.compile(prefix + r"_([0-9a-f]{16})_([A-Za-z0-9_-]{43})", re.ASCII)
            for prefix in (KEY_PREFIX, STAFF_KEY_PREFIX)}
# scrypt cost: 16 MiB and ~30-60 ms per verification here; paid once per key per service process.
SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES = 2 ** 14, 8, 1, 32


@dataclass(frozen=True)
class StoredKey:
    key_id: str
    salt: str        # hex
    hash: str        # hex scrypt(secret, salt)
    created_at: str

    def as_dict(self) -> dict:
        return {"key_id": self.key_id, "salt": self.salt, "hash": self.hash, "created_at": self.created_at,
                "kdf": f"scrypt:n={SCRYPT_N},r={SCRYPT_R},p={SCRYPT_P}"}

    @classmethod
    def from_dict(cls, values: dict) -> StoredKey:
        return cls(values["key_id"], values["salt"], values["hash"], values["created_at"])


def _scrypt(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=HASH_BYTES)


def new_key(created_at: str, prefix: str = KEY_PREFIX) -> tuple[str, StoredKey]:
    """A fresh key (returned once, in clear) and what the registry stores of it."""
    key_id, secret, salt = secrets.token_hex(8), secrets.token_urlsafe(32), secrets.token_bytes(16)
    stored = StoredKey(key_id, salt.hex(), _scrypt(secret, salt).hex(), created_at)
    return f"{prefix}_{key_id}_{secret}", stored


def split_key(api_key: str, prefix: str = KEY_PREFIX) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key of kind ``prefix``, else None."""
    match = _KEY_RES[prefix].fullmatch(api_key or "")
    return (match.group(1), match.group(2)) if match else None


def verify(api_key: str, stored: StoredKey, prefix: str = KEY_PREFIX) -> bool:
    parts = split_key(api_key, prefix)
    if parts is None or not hmac.compare_digest(parts[0], stored.key_id):
        return False
    return hmac.compare_digest(_scrypt(parts[1], bytes.fromhex(stored.salt)).hex(), stored.hash)


def fingerprint(api_key: str) -> str:
    """What a process may remember of a verified key: its SHA-256 (the key is 256-bit random)."""
    return hashlib.sha256(api_key.encode()).hexdigest()
