"""White label in a real headless Chromium: two banks side by side, each sees its own name, logo and colour.

The live ``/monitor`` page of each bank is opened through ONE multi-tenant service (an analyst of the
bank signs in with their staff key: an HttpOnly session cookie, no header), and each bank's monitor
report file is opened too. Needs Debian's ``chromium``.
"""

from __future__ import annotations

import contextlib
import shutil

import duckdb
import pytest

from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.monitor.report import render_report
from fintech_dataops.lib.realtime.app import ServiceConfig
from fintech_dataops.lib.tenancy.branding import brand_report
from fintech_dataops.lib.tenancy.registry import TenantRegistry
from fintech_dataops.lib.tenancy.service import TenantRouter
from fintech_dataops_tests.analytics_data import build_tiny_warehouse
from fintech_dataops_tests.browser.cdp import Chromium
from fintech_dataops_tests.processes import asgi_on_loopback

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium)"),
]
BANKS = {"acme": ("Acme Bank", "#0a7d3b"), "globex": ("Globex Savings", "#8b1a1a")}
LOGO = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect width="40" height="40" fill="{}"/></svg>'
BRAND = ("({name: document.getElementById('tenant-name')?.textContent, "
         "tenant: document.getElementById('tenant-brand')?.dataset.tenant, "
         "color: getComputedStyle(document.getElementById('tenant-brand')).color, "
         "logo: document.getElementById('tenant-logo')?.naturalWidth, "
         "others: document.body.innerHTML.includes('{other}')})")


@contextlib.contextmanager
def running_service(data_dir):
    config = ServiceConfig(data_dir=data_dir, warm_start=False, batch_window_ms=1.0, rotate_seconds=0.2)
    app = TenantRouter(data_dir, config, engines={name: FraudEngine() for name in BANKS})
    with asgi_on_loopback(app, lifespan="on", start_loops=3000, join_seconds=60) as url:
        yield url

SIGN_OUT = ("fetch('/monitor/session').then(r => r.json()).then(s => fetch('/monitor/logout', "
            "{method: 'POST', headers: {'X-CSRF-Token': s.csrf_token}})).then(r => r.status)")


def _wait_through_navigation(browser, condition: str, seconds: float = 60.0):
    """``wait_for`` while a form submission navigates (the old page's context may vanish mid-call)."""
    import time

    from fintech_dataops_tests.browser.cdp import BrowserError

    deadline = time.monotonic() + seconds
    while True:
        try:
            return browser.wait_for(condition, timeout=max(0.1, deadline - time.monotonic()))
        except BrowserError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _rgb(color: str) -> str:
    return "rgb({}, {}, {})".format(*(int(color[i:i + 2], 16) for i in (1, 3, 5)))


def test_two_banks_each_see_their_own_brand_on_the_live_page_and_the_report(data_dir, tmp_path):
    registry = TenantRegistry(data_dir)
    staff = {}
    for name, (display, color) in BANKS.items():
        logo = tmp_path / f"{name}.svg"
        logo.write_text(LOGO.format(color))
        registry.create(name, display_name=display, color=color, logo=logo)
        _, staff[name] = registry.add_staff_key(name, f"analyst@{name}")
        with duckdb.connect(str(build_tiny_warehouse(tmp_path / f"{name}.duckdb"))) as con:
            report = render_report(con, registry.root(name) / "reports" / "monitor.html")
        brand_report(report.path, registry.root(name))

    browser = None
    with running_service(data_dir) as base:
        try:
            browser = Chromium(CHROMIUM, tmp_path / "profile")
            browser.send("Network.enable")
            for name, (display, color) in BANKS.items():
                other = next(BANKS[o][0] for o in BANKS if o != name)
                browser.open(f"{base}/monitor")  # no session: the sign-in page
                browser.wait_for("document.getElementById('login') !== null")
                browser.evaluate(f"document.getElementById('staff-key').value = '{staff[name]}'; "
                                 "document.getElementById('login').submit()")
                _wait_through_navigation(browser, "document.getElementById('tenant-logo')?.complete === true")
                seen = browser.evaluate(BRAND.replace("{other}", other))
                assert seen == {"name": display, "tenant": name, "color": _rgb(color), "logo": 40, "others": False}
                # The page's own calls ride on the session; the page's script cannot read the cookie.
                browser.wait_for(f"document.getElementById('who').textContent.includes('analyst@{name}')")
                assert browser.evaluate("document.cookie") == ""
                assert browser.evaluate(SIGN_OUT) == 200
                browser.open((registry.root(name) / "reports" / "monitor.html").as_uri())
                browser.wait_for("document.getElementById('tenant-logo')?.complete === true")
                seen = browser.evaluate(BRAND.replace("{other}", other))
                assert seen == {"name": display, "tenant": name, "color": _rgb(color), "logo": 40, "others": False}
            # Signed out, the service shows no bank's page at all: only the sign-in form.
            browser.open(f"{base}/monitor")
            browser.wait_for("document.getElementById('login') !== null")
            assert browser.evaluate("document.getElementById('tenant-brand')") is None
        finally:
            if browser is not None:
                browser.close()
