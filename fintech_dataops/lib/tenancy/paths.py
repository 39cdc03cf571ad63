"""Which tenant a process works for, and where that tenant's storage root is.

The tenant comes from ``--tenant`` / ``$FINTECH_TENANT`` (operators, Dagster code
locations) or from an API key (the online service), never from data.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

TENANT_ENV = "FINTECH_TENANT"
DEFAULT_TENANT = "default"
TENANTS_FOLDER = "tenants"
PLATFORM_FOLDER = "platform"  # registry + audit log: the operator's, no tenant data
PROFILE_FILE = "tenant.json"  # <tenant root>/tenant.json: branding + settings (lib/tenancy/settings.py)

# Lower-case ASCII, digits and inner hyphens, 2-40 characters: a folder name, a Dagster code
# location name and a run-tag value at once, and never '.', '/', '..' or a look-alike letter.
_NAME_RE = re.compile(r"[a-z](?:[a-z0-9-]{0,38}[a-z0-9])", re.ASCII)


class TenantError(ValueError):
    """A tenant name, setting or operation that is refused."""


class UnknownTenant(TenantError):
    """A tenant that is not in the registry."""


def validate_tenant_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or "--" in name:
        raise TenantError(f"invalid tenant name {name!r}: 2-40 characters, lower-case letters, digits and "
                          "single inner hyphens, starting with a letter")
    return name


def current_tenant(explicit: str | None = None) -> str:
    """The selected tenant: ``explicit``, else ``$FINTECH_TENANT``, else the default tenant."""
    name = explicit or os.environ.get(TENANT_ENV) or DEFAULT_TENANT
    return validate_tenant_name(name)


def tenant_root(platform_dir: Path, tenant: str) -> Path:
    """A tenant's storage root under the platform data dir (the default tenant's is the dir itself)."""
    if validate_tenant_name(tenant) == DEFAULT_TENANT:
        return Path(platform_dir)
    return Path(platform_dir) / TENANTS_FOLDER / tenant


def tenant_pool(pool: str, tenant: str | None = None) -> str:
    """A Dagster concurrency pool of the selected tenant's storage (the default tenant keeps ``pool``)."""
    tenant = current_tenant(tenant)
    return pool if tenant == DEFAULT_TENANT else f"{pool}:{tenant}"


def platform_control_dir(platform_dir: Path) -> Path:
    return Path(platform_dir) / PLATFORM_FOLDER


def scoped_data_dir(platform_dir: Path, tenant: str | None = None) -> Path:
    """The data dir of the selected tenant; refuses a tenant the registry does not know.

    Idempotent: a dir that already is ``…/tenants/<tenant>`` is returned as is, so code that
    resolves an already resolved dir again cannot nest one tenant inside another.
    """
    tenant = current_tenant(tenant)
    platform_dir = Path(platform_dir)
    if tenant == DEFAULT_TENANT:
        return platform_dir
    if platform_dir.name == tenant and platform_dir.parent.name == TENANTS_FOLDER:
        return platform_dir
    root = tenant_root(platform_dir, tenant)
    # The tenant's own profile marks a registered tenant: a process working for it never needs to
    # read the platform registry (which holds every tenant's key hashes).
    if not (root / PROFILE_FILE).is_file():
        raise UnknownTenant(f"tenant {tenant!r} is not registered under {platform_dir} "
                            f"(create it with `fintech-dataops tenant create {tenant}`)")
    return root


def refuse_other_tenants_paths(paths, platform_dir: Path, tenant: str | None = None) -> None:
    """A command working for a tenant may not be pointed at another tenant's storage or the platform's.

    For file arguments (``simulate --out``, ``fraud score INPUT OUTPUT``, …): resolved (symlinks
    followed), a path inside ``<data dir>/tenants/<other>/`` or ``<data dir>/platform/`` is refused
    before anything is opened. Paths elsewhere (an operator's own files) stay the operator's business.
    """
    tenant = current_tenant(tenant)
    platform_dir = Path(platform_dir).expanduser().resolve()
    own = tenant_root(platform_dir, tenant).resolve()
    tenants_dir, control = platform_dir / TENANTS_FOLDER, platform_control_dir(platform_dir)
    for path in paths:
        resolved = Path(path).expanduser().resolve()
        foreign_tenant = resolved.is_relative_to(tenants_dir) and (
            tenant == DEFAULT_TENANT or not resolved.is_relative_to(own))
        if foreign_tenant or resolved.is_relative_to(control):
            raise TenantError(f"{path} is in another tenant's or the platform's storage, not tenant {tenant!r}'s: "
                              "refused")
