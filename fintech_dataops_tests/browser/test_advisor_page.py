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
