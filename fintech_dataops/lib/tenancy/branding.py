"""White label: a tenant's name, logo and colour on the pages and reports it sees.

A small injection into finished HTML (a ``<style>`` before ``</head>``, a brand block at the top
of ``<body>``), so the monitor page and report keep their own templates and gain branding without
knowing about tenants. The logo is inlined (data: URI): pages stay self-contained. Every value is
escaped; the colour is a validated ``#rrggbb``. The default tenant has no profile: no change.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from fintech_dataops.lib.tenancy.settings import logo_data_uri, read_profile


@dataclass(frozen=True)
class Branding:
    tenant: str
    display_name: str
    color: str
    logo_uri: str | None = None

    def style(self) -> str:
        return (f"<style id='tenant-style'>:root{{--tenant-color:{self.color}}}"
                f"#tenant-brand{{display:flex;align-items:center;gap:10px;padding:8px 16px;"
                f"border-bottom:4px solid {self.color};font:600 16px system-ui,sans-serif;color:{self.color}}}"
                f"#tenant-brand img{{height:32px;width:auto}}header{{border-top:4px solid {self.color}}}</style>")

    def block(self) -> str:
        logo = (f"<img id='tenant-logo' alt='{html.escape(self.display_name, quote=True)} logo' "
                f"src='{html.escape(self.logo_uri, quote=True)}'>" if self.logo_uri else "")
        return (f"<div id='tenant-brand' data-tenant='{html.escape(self.tenant, quote=True)}' "
                f"data-color='{self.color}'>{logo}<span id='tenant-name'>{html.escape(self.display_name)}</span></div>")


def branding_for(root: Path) -> Branding | None:
    """The branding of the tenant whose storage root is ``root``; None for the default tenant."""
    profile = read_profile(root)
    if profile is None:
        return None
    return Branding(profile.tenant, profile.display_name, profile.color, logo_data_uri(root, profile))


def brand_page(page: str, branding: Branding | None) -> str:
    if branding is None:
        return page
    head_end = page.find("</head>")
    page = page[:head_end] + branding.style() + page[head_end:] if head_end >= 0 else branding.style() + page
    body = page.find("<body")
    if body >= 0:
        body_end = page.index(">", body) + 1
        return page[:body_end] + branding.block() + page[body_end:]
    return branding.block() + page


def brand_report(path: Path, root: Path) -> None:
    """Brand a rendered report file in place (atomically) with the tenant of storage root ``root``."""
    branding = branding_for(root)
    if branding is None:
        return
    from fintech_dataops.lib.ingestion.landing import write_atomic

    write_atomic(Path(path), brand_page(Path(path).read_text(encoding="utf-8"), branding).encode("utf-8"))
