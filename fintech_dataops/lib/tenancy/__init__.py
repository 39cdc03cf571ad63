"""Tenants: one platform, many banks, isolated by construction.

A tenant is a bank. Everything a tenant owns lives under its own storage root
(``<data dir>/tenants/<name>/``: landing zone, warehouse, models, published PM
view, reports, WAL), so every command, asset and service that resolves its data
dir through ``lib.ingestion.landing.resolve_data_dir`` works per tenant without a single
``WHERE tenant = …``. No tenant selected = the default tenant = the data dir
itself (today's layout). The registry (names, branding, hashed API keys) and the
append-only audit log of tenant operations live under ``<data dir>/platform/``,
which belongs to the operator, never to a tenant.
"""
