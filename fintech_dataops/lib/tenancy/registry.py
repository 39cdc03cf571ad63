"""The tenant registry and lifecycle: create, list, rotate a key, delete — each one audited.

``<data dir>/platform/tenants.json`` holds each tenant's name, creation time and
its API keys as salted scrypt hashes (never a key in clear). Every operation is
appended to ``<data dir>/platform/tenant_audit.jsonl`` — who, when, what, never a
key — each line carrying the SHA-256 of the line before it, so an edited or
removed line breaks the chain (``verify_audit_log``). Changes are serialised by a
file lock and written atomically.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from fintech_dataops.lib.ingestion.landing import write_atomic
from fintech_dataops.lib.tenancy import advisor_sessions, keys
from fintech_dataops.lib.tenancy.paths import (
    DEFAULT_TENANT,
    TenantError,
    UnknownTenant,
    platform_control_dir,
    tenant_root,
    validate_tenant_name,
)
from fintech_dataops.lib.tenancy.settings import (
    BRANDING_FOLDER,
    LOGO_TYPES,
    MAX_LOGO_BYTES,
    PROFILE_FILE,
    TenantProfile,
    TenantSettings,
    profile_json,
    read_profile,
)

REGISTRY_FILE = "tenants.json"
_ANALYST_RE = re.compile(r"[A-Za-z0-9._@-]{1,64}", re.ASCII)  # as the monitor's staff keys name analysts
AUDIT_FILE = "tenant_audit.jsonl"
_GENESIS = "0" * 64


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return f"uid:{os.getuid()}"


class TenantRegistry:
    def __init__(self, platform_dir: Path):
        self.platform_dir = Path(platform_dir)
        self.control_dir = platform_control_dir(self.platform_dir)
        self.path = self.control_dir / REGISTRY_FILE
        self.audit_path = self.control_dir / AUDIT_FILE

    # -- reading -------------------------------------------------------------------------------
    def _load(self) -> dict[str, dict]:
        if not self.path.is_file():
            return {}
        return json.loads(self.path.read_bytes())["tenants"]

    def names(self) -> list[str]:
        return sorted(self._load())

    def root(self, name: str) -> Path:
        return tenant_root(self.platform_dir, name)

    def profile(self, name: str) -> TenantProfile:
        self._require(self._load(), name)
        profile = read_profile(self.root(name))
        if profile is None:
            raise UnknownTenant(f"tenant {name!r} has no profile ({PROFILE_FILE}) under {self.root(name)}")
        return profile

    def listing(self) -> list[dict]:
        rows = []
        for name, row in sorted(self._load().items()):
            profile = read_profile(self.root(name))
            rows.append({
                "tenant": name, "display_name": profile.display_name if profile else None,
                "color": profile.color if profile else None, "created_at": row["created_at"],
                "key_ids": [k["key_id"] for k in row["keys"]], "data_dir": str(self.root(name)),
                "staff": sorted(k["analyst"] for k in row.get("staff", [])),
            })
        return rows

    def stored_keys(self) -> dict[str, str]:
        """key id → tenant, for the service's lookup (the hashes stay in the registry)."""
        return {k["key_id"]: name for name, row in self._load().items() for k in row["keys"]}

    def authenticate(self, api_key: str) -> str | None:
        """The tenant whose key this is, else None (scrypt-verified; constant-time compares)."""
        parts = keys.split_key(api_key)
        if parts is None:
            return None
        for name, row in self._load().items():
            for stored in row["keys"]:
                if stored["key_id"] == parts[0]:
                    return name if keys.verify(api_key, keys.StoredKey.from_dict(stored)) else None
        return None

    def authenticate_staff(self, staff_key: str) -> tuple[str, str, str] | None:
        """(tenant, analyst, key id) of a tenant's staff key, else None (scrypt-verified)."""
        parts = keys.split_key(staff_key, keys.STAFF_KEY_PREFIX)
        if parts is None:
            return None
        for name, row in self._load().items():
            for stored in row.get("staff", []):
                if stored["key_id"] == parts[0]:
                    ok = keys.verify(staff_key, keys.StoredKey.from_dict(stored), keys.STAFF_KEY_PREFIX)
                    return (name, stored["analyst"], stored["key_id"]) if ok else None
        return None

    def staff_key_ids(self) -> set[tuple[str, str]]:
        """(tenant, key id) of every staff key in force: a session of any other key has ended."""
        return {(name, k["key_id"]) for name, row in self._load().items() for k in row.get("staff", [])}

    # -- changing (locked, audited) ----------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[dict[str, dict]]:
        self.control_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.control_dir, 0o700)  # the operator's: tenants' processes have no business here
        with open(self.control_dir / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            tenants = self._load()
            yield tenants
            write_atomic(self.path, (json.dumps({"tenants": tenants}, indent=2, sort_keys=True) + "\n").encode())
            os.chmod(self.path, 0o600)

    def _audit(self, action: str, tenant: str, actor: str | None, **details) -> None:
        previous = _GENESIS
        if self.audit_path.is_file():
            lines = self.audit_path.read_bytes().splitlines()
            if lines:
                previous = hashlib.sha256(lines[-1]).hexdigest()
        entry = {"at": _now(), "actor": actor or default_actor(), "action": action, "tenant": tenant,
                 "details": details, "prev_sha256": previous}
        with open(self.audit_path, "ab") as handle:
            handle.write(json.dumps(entry, sort_keys=True).encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(self.audit_path, 0o600)

    @staticmethod
    def _require(tenants: dict, name: str) -> dict:
        validate_tenant_name(name)
        if name not in tenants:
            raise UnknownTenant(f"no tenant {name!r}")
        return tenants[name]

    def create(self, name: str, *, display_name: str | None = None, color: str | None = None,
               currency: str | None = None, logo: Path | None = None, actor: str | None = None) -> tuple[dict, str]:
        """Register ``name`` with its own storage root; returns (listing row, API key shown once)."""
        validate_tenant_name(name)
        if name == DEFAULT_TENANT:
            raise TenantError(f"{DEFAULT_TENANT!r} is the platform's own tenant (no --tenant): pick another name")
        logo_bytes = _read_logo(logo) if logo is not None else None
        profile = TenantProfile(
            tenant=name, display_name=display_name or name, color=color or "#1f4e79",
            logo=f"logo{Path(logo).suffix.lower()}" if logo is not None else None,
            settings=TenantSettings(reporting_currency=currency),
        )
        with self._locked() as tenants:
            if name in tenants:
                raise TenantError(f"tenant {name!r} exists already")
            root = self.root(name)
            if root.exists():
                raise TenantError(f"{root} exists but is not a registered tenant: remove it first")
            api_key, stored = keys.new_key(_now())
            root.mkdir(parents=True, mode=0o700)
            if logo_bytes is not None:
                write_atomic(root / BRANDING_FOLDER / profile.logo, logo_bytes)
            write_atomic(root / PROFILE_FILE, profile_json(profile))
            advisor_sessions.write_secret(root)  # the bank's own advisor-session secret (never shown)
            tenants[name] = {"created_at": _now(), "keys": [stored.as_dict()]}
            self._audit("create", name, actor, display_name=profile.display_name, key_id=stored.key_id)
        return self.listing_row(name), api_key

    def listing_row(self, name: str) -> dict:
        return next(row for row in self.listing() if row["tenant"] == name)

    def configure(self, name: str, *, actor: str | None = None, display_name: str | None = None,
                  color: str | None = None, logo: Path | None = None, settings: dict | None = None) -> TenantProfile:
        """Change branding and/or settings (``settings`` is merged into the current ones, then validated)."""
        logo_bytes = _read_logo(logo) if logo is not None else None
        with self._locked() as tenants:
            self._require(tenants, name)
            root = self.root(name)
            current = read_profile(root)
            values = current.model_dump(mode="json")
            if display_name is not None:
                values["display_name"] = display_name
            if color is not None:
                values["color"] = color
            if logo is not None:
                values["logo"] = f"logo{Path(logo).suffix.lower()}"
            if settings:
                values["settings"] = {**values["settings"], **settings}
            profile = TenantProfile.model_validate(values)  # refuses before anything is written
            if logo_bytes is not None:
                if current.logo and current.logo != profile.logo:
                    (root / BRANDING_FOLDER / current.logo).unlink(missing_ok=True)
                write_atomic(root / BRANDING_FOLDER / profile.logo, logo_bytes)
            write_atomic(root / PROFILE_FILE, profile_json(profile))
            changed = sorted(k for k, v in {"display_name": display_name, "color": color, "logo": logo}.items()
                             if v is not None) + sorted(f"settings.{k}" for k in (settings or {}))
            self._audit("configure", name, actor, changed=changed)
        return profile

    def rotate_key(self, name: str, *, actor: str | None = None) -> tuple[str, str]:
        """A new key replaces every old one at once, and a new advisor-session secret the old one;
        returns (key id, key shown once)."""
        with self._locked() as tenants:
            row = self._require(tenants, name)
            api_key, stored = keys.new_key(_now())
            revoked = [k["key_id"] for k in row["keys"]]
            row["keys"] = [stored.as_dict()]
            advisor_sessions.write_secret(self.root(name))  # rotated with the key: open customer sessions end
            self._audit("rotate-key", name, actor, key_id=stored.key_id, revoked_key_ids=revoked,
                        advisor_session_secret="rotated")
        return stored.key_id, api_key

    def add_staff_key(self, name: str, analyst: str, *, actor: str | None = None) -> tuple[str, str]:
        """A staff key for one analyst of one tenant (replacing that analyst's previous key); (key id, key once)."""
        if not _ANALYST_RE.fullmatch(analyst or ""):
            raise TenantError("analyst names are 1-64 letters, digits and . _ @ -")
        with self._locked() as tenants:
            row = self._require(tenants, name)
            staff_key, stored = keys.new_key(_now(), keys.STAFF_KEY_PREFIX)
            revoked = [k["key_id"] for k in row.get("staff", []) if k["analyst"] == analyst]
            row["staff"] = [k for k in row.get("staff", []) if k["analyst"] != analyst]
            row["staff"].append({**stored.as_dict(), "analyst": analyst})
            self._audit("add-staff-key", name, actor, analyst=analyst, key_id=stored.key_id,
                        revoked_key_ids=revoked)
        return stored.key_id, staff_key

    def revoke_staff_key(self, name: str, analyst: str, *, actor: str | None = None) -> list[str]:
        """Remove an analyst's staff key (their open sessions end with it); the revoked key ids."""
        with self._locked() as tenants:
            row = self._require(tenants, name)
            revoked = [k["key_id"] for k in row.get("staff", []) if k["analyst"] == analyst]
            if not revoked:
                raise TenantError(f"tenant {name!r} has no staff key for {analyst!r}")
            row["staff"] = [k for k in row["staff"] if k["analyst"] != analyst]
            self._audit("revoke-staff-key", name, actor, analyst=analyst, revoked_key_ids=revoked)
        return revoked

    def delete(self, name: str, *, actor: str | None = None) -> dict:
        """Remove every file of the tenant and its registry row; the audit log keeps that it happened."""
        with self._locked() as tenants:
            self._require(tenants, name)
            root = self.root(name)
            files = sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0
            size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0
            if root.exists():
                shutil.rmtree(root)
            del tenants[name]
            self._audit("delete", name, actor, files_removed=files, bytes_removed=size)
        return {"tenant": name, "deleted": True, "files_removed": files, "bytes_removed": size}


def _read_logo(logo: Path) -> bytes:
    logo = Path(logo)
    if logo.suffix.lower() not in LOGO_TYPES:
        raise TenantError(f"logo must be one of {sorted(LOGO_TYPES)}, got {logo.name!r}")
    data = logo.read_bytes()
    if len(data) > MAX_LOGO_BYTES:
        raise TenantError(f"logo is {len(data):,} bytes: at most {MAX_LOGO_BYTES:,}")
    return data


def verify_audit_log(path: Path) -> int:
    """Number of entries when the chain is intact; raises TenantError at the first broken link."""
    previous, count = _GENESIS, 0
    if not Path(path).is_file():
        return 0
    for number, line in enumerate(Path(path).read_bytes().splitlines(), start=1):
        if json.loads(line).get("prev_sha256") != previous:
            raise TenantError(f"audit log broken at line {number}: an earlier line was changed or removed")
        previous, count = hashlib.sha256(line).hexdigest(), count + 1
    return count
