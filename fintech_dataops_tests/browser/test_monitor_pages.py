"""The static monitor report renders in a real headless Chromium (the live monitor: test_fraud_monitor.py).

Needs Debian's ``chromium`` (``apt-get install -y chromium``); skipped with that
reason when it is absent. No network: pages are loaded from a file and from a
server on 127.0.0.1.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from fintech_dataops.lib.monitor.report import render_report
from fintech_dataops_tests.analytics_data import build_tiny_warehouse

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,  # starts a browser process
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium)"),
]
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "monitor.png"


def chromium(url: str, profile: Path, *extra: str) -> str:
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
        f"--user-data-dir={profile}", "--virtual-time-budget=15000", *extra, url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_monitor_report_renders_plots_tiles_and_alerts(tmp_path):
    con = duckdb.connect(str(build_tiny_warehouse(tmp_path / "w.duckdb", with_latency=True)))
    from fintech_dataops.lib.analytics import kpis

    for name, compute in kpis.KPI_FUNCTIONS.items():
        kpis.write_kpi(con, compute(con, []) if name == "ingest_rate" else compute(con))
    report = render_report(con, tmp_path / "reports" / "monitor.html")
    con.close()
    html_text = report.path.read_text()
    # Self-contained: plotly.js is inlined, nothing is fetched from a CDN.
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=", html_text)

    dom = chromium(report.path.as_uri(), tmp_path / "profile-dom", "--dump-dom")
    for section in ("kpi-tiles", "plot-alerts-by-rule", "plot-score-distribution", "plot-fpr-recall",
                    "plot-dq-by-feed", "plot-credit-by-band", "latest-alerts"):
        assert re.search(rf'<section id="{section}" data-state="rendered"|<div id="{section}"', dom), section
    # Plotly ran in the browser: each of the five figures drew its SVG.
    assert dom.count('class="main-svg"') >= 5
    assert 'data-kpi="value_at_risk_protected"' in dom and "$6,950" in dom
    assert dom.count("<tr>") >= 6  # header + 5 alerts
    assert "<script>alert(1)</script>" not in dom  # reasons are escaped text

    screenshot = tmp_path / "monitor.png"
    chromium(report.path.as_uri(), tmp_path / "profile-shot", f"--screenshot={screenshot}", "--window-size=1400,1800",
             "--hide-scrollbars")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000


def test_save_the_report_screenshot_for_the_readme(tmp_path):
    """Renders the README's report screenshot from the deterministic data.

    The suite never writes into the checkout: docs/monitor.png is only replaced when asked,
    ``FINTECH_UPDATE_SCREENSHOT=1 python -m pytest fintech_dataops_tests/browser/test_monitor_pages.py``.
    """
    con = duckdb.connect(str(build_tiny_warehouse(tmp_path / "w.duckdb", with_latency=True)))
    from fintech_dataops.lib.analytics import kpis

    for name, compute in kpis.KPI_FUNCTIONS.items():
        kpis.write_kpi(con, compute(con, []) if name == "ingest_rate" else compute(con))
    report = render_report(con, tmp_path / "monitor.html")
    con.close()
    DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shot = tmp_path / "monitor.png"
    chromium(report.path.as_uri(), tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,1600",
             "--hide-scrollbars")
    assert shot.stat().st_size > 20_000
    if os.environ.get("FINTECH_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, DOCS_SCREENSHOT)
