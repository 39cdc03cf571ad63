"""One code location per tenant: ``fintech_dataops.tenant_definitions:<tenant>``.

Getting the attribute ``acme`` selects tenant ``acme`` for this process (``$FINTECH_TENANT``)
and builds the platform's Definitions, so every resource resolves ``<data dir>/tenants/acme``.
Dagster loads the same pointer in the code server, each run worker and each step process,
so the selection holds in all of them. A process serves one tenant: asking for a second
one is refused rather than mixing storages. Generated workspaces: ``fintech-dataops tenant workspace``.
"""

from __future__ import annotations

import os

_built: dict[str, object] = {}


def __getattr__(name: str):
    from fintech_dataops.lib.tenancy.paths import DEFAULT_TENANT, TENANT_ENV, TenantError, validate_tenant_name

    if name.startswith("__"):
        raise AttributeError(name)
    try:
        tenant = validate_tenant_name(name)
    except TenantError as exc:
        raise AttributeError(str(exc)) from None
    if tenant in _built:
        return _built[tenant]
    selected = os.environ.get(TENANT_ENV)
    if _built or (selected and selected != tenant) or tenant == DEFAULT_TENANT:
        raise AttributeError(f"this process works for tenant {selected or next(iter(_built))!r}, "
                             f"not {tenant!r}: one tenant per code location")
    os.environ[TENANT_ENV] = tenant  # before any resource resolves its data dir
    from fintech_dataops.defs import build_defs
    from fintech_dataops.lib.ingestion.landing import resolve_data_dir

    resolve_data_dir()  # an unregistered tenant fails the location load with a clear message
    _built[tenant] = build_defs()
    return _built[tenant]


def tenant_job(job_name: str):
    """``job_name`` of the tenant this process works for (``$FINTECH_TENANT``): the reconstructable
    target of ``fintech-dataops tenant backfill`` (every step process of the multiprocess executor
    calls it again, with the tenant inherited from its parent)."""
    tenant = os.environ.get("FINTECH_TENANT")
    if not tenant:
        raise RuntimeError("tenant_job needs $FINTECH_TENANT: the tenant whose job this is")
    return __getattr__(tenant).resolve_job_def(job_name)
