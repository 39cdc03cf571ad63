"""The advisor's chat page in a real headless Chromium: ask, get a grounded answer, continue the conversation.

Needs Debian's ``chromium``; skipped with that reason when it is absent. The page is served by uvicorn on a
free loopback port with the advisor router (offline mode: no network).
"""

from __future__ import annotations

import contextlib
import json
import shutil

import pytest

from fintech_dataops_tests.browser.cdp import Chromium
from fintech_dataops_tests.processes import asgi_on_loopback
from fintech_dataops_tests.lib.advisor.advisor_data import INJECTION, OWN_SCORE, build_advisor_warehouse

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium)"),
]


@contextlib.contextmanager
def running_advisor(data_dir):
    from fastapi import FastAPI

    from fintech_dataops.lib.advisor.web import advisor_router

    app = FastAPI()
    app.include_router(advisor_router(data_dir, None, session_secret=""))  # demo mode: customer picked on the page
    with asgi_on_loopback(app) as url:
        yield url


def _ask(browser: Chromium, question: str, turns: int) -> dict:
    browser.evaluate(f"(() => {{ document.getElementById('question').value = {json.dumps(question)}; "
                     "document.getElementById('send').click(); return true; })()")
    browser.wait_for(f"document.querySelectorAll('.turn[data-state=\"answered\"]').length === {turns}", timeout=120)
    return browser.evaluate("(() => { const a = [...document.querySelectorAll('.turn .answer')].pop(); "
                            "return {text: a.textContent, grounded: a.dataset.grounded, declined: a.dataset.declined, "
                            "html: a.innerHTML, meta: a.nextElementSibling.textContent}; })()")


def test_customer_chats_with_the_advisor_in_the_browser(tmp_path, monkeypatch):
    for name in ("FINTECH_LLM_BASE_URL", "FINTECH_LLM_MODEL", "FINTECH_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    data_dir = tmp_path / "data"
    build_advisor_warehouse(data_dir)
    browser = None
    with running_advisor(data_dir) as base:
        try:
            browser = Chromium(CHROMIUM, tmp_path / "profile", window="1200,900")
            browser.open(f"{base}/advisor")
            browser.wait_for("!document.getElementById('demo-banner').hidden")
            first = _ask(browser, "why is my credit score what it is?", 1)
            assert str(OWN_SCORE) in first["text"] and "SP_LOW_INCOME" in first["text"]
            assert first["grounded"] == "true" and "credit.scores" in first["meta"]
            assert browser.evaluate("document.getElementById('who').textContent") == "customer C0000042"
            second = _ask(browser, "where did my money go this month?", 2)
            assert "560.75" in second["text"] and INJECTION in second["text"]
            assert "<" not in second["html"]  # merchant names are rendered as text, never markup
            third = _ask(browser, "what is the credit score of C0000099?", 3)
            assert third["declined"] == "true" and "802" not in third["text"]
        finally:
            if browser is not None:
                browser.close()
    turns = list((data_dir / "landing" / "advisor_conversations").glob("date=*/*.jsonl"))
    assert len(turns) == 3  # the page's turns are landed like every other advisor turn
    assert len({json.loads(p.read_text())["conversation_id"] for p in turns}) == 1


def test_behind_the_multi_tenant_service_a_customer_and_an_analyst_each_ask_their_own_bank(data_dir, tmp_path,
                                                                                          monkeypatch):
    """Two banks hold C0000042 with different scores: a customer token of acme, an analyst signed in at globex."""
    import duckdb
    import httpx

    from fintech_dataops.lib.fraud.engine import FraudEngine
    from fintech_dataops.lib.realtime.app import ServiceConfig
    from fintech_dataops.lib.tenancy.registry import TenantRegistry
    from fintech_dataops.lib.tenancy.service import TenantRouter
    from fintech_dataops_tests.browser.test_white_label import _wait_through_navigation

    for name in ("FINTECH_LLM_BASE_URL", "FINTECH_LLM_MODEL", "FINTECH_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    registry, scores = TenantRegistry(data_dir), {"acme": 657, "globex": 731}
    keys = {name: registry.create(name)[1] for name in scores}
    analyst_key = registry.add_staff_key("globex", "bob")[1]
    for name, score in scores.items():
        build_advisor_warehouse(registry.root(name))
        with duckdb.connect(str(registry.root(name) / "warehouse.duckdb")) as con:
            con.execute("UPDATE credit.scores SET score = ? WHERE customer_id = 'C0000042'", [score])
    config = ServiceConfig(data_dir=data_dir, warm_start=False, batch_window_ms=1.0, rotate_seconds=0.2)
    router = TenantRouter(data_dir, config, engines={name: FraudEngine() for name in scores})
    browser = None
    with asgi_on_loopback(router, lifespan="on", start_loops=3000, join_seconds=60) as base:
        try:
            # The bank's backend opens the customer's session with its API key; the browser gets the token.
            token = httpx.post(f"{base}/advisor/session", headers={"X-API-Key": keys["acme"]},
                               json={"customer_id": "C0000042"}).json()["token"]
            browser = Chromium(CHROMIUM, tmp_path / "profile", window="1200,900")
            browser.open(f"{base}/advisor#token={token}")
            browser.wait_for("document.getElementById('demo-banner').hidden")
            answer = _ask(browser, "why is my credit score what it is?", 1)
            assert "657" in answer["text"] and "731" not in answer["text"]
            assert browser.evaluate("document.getElementById('who').textContent") == "customer C0000042"
            # globex's analyst signs in at the monitor and asks at /monitor/advisor as a credit officer.
            browser.open(f"{base}/monitor/login")
            browser.wait_for("document.getElementById('login') !== null")
            browser.evaluate(f"document.getElementById('staff-key').value = '{analyst_key}'; "
                             "document.getElementById('login').submit()")
            _wait_through_navigation(browser, "location.pathname === '/monitor'")
            browser.open(f"{base}/monitor/advisor")
            browser.wait_for("document.getElementById('who').textContent === 'staff bob'", timeout=60)
            browser.evaluate("document.getElementById('role').value = 'credit'")
            answer = _ask(browser, "what is the credit score of C0000042?", 1)
            assert "731" in answer["text"] and "657" not in answer["text"]
        finally:
            if browser is not None:
                browser.close()
