"""``/advisor`` on the service: who asks comes from the credential (token, staff key), never the body."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fintech_dataops.lib.advisor.web import advisor_router, sign_customer_token, verify_customer_token
from fintech_dataops.lib.monitor.staff import StaffKeys, hash_key
from fintech_dataops_tests.lib.advisor.advisor_data import OTHER_SCORE, OWN_SCORE

SECRET = "advisor-session-secret-for-tests"


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    for name in ("FINTECH_LLM_BASE_URL", "FINTECH_LLM_MODEL", "FINTECH_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def client(data_dir, **kwargs) -> TestClient:
    app = FastAPI()
    app.include_router(advisor_router(data_dir, StaffKeys(by_hash={hash_key("staff-key-alice"): "alice"}), **kwargs))
    return TestClient(app)


def test_tokens_are_signed_and_expire():
    token = sign_customer_token("C0000042", SECRET, ttl_seconds=60, now=1000)
    assert verify_customer_token(token, SECRET, now=1030) == "C0000042"
    assert verify_customer_token(token, SECRET, now=1061) is None
    assert verify_customer_token(token, "another-secret", now=1030) is None
    assert verify_customer_token(token.replace("C0000042", "C0000099"), SECRET, now=1030) is None
    assert verify_customer_token("garbage", SECRET) is None


def test_signed_in_customer_gets_own_data_whatever_the_body_claims(advisor_dir):
    http = client(advisor_dir, session_secret=SECRET)
    assert "Financial advisor" in http.get("/advisor").text
    token = sign_customer_token("C0000042", SECRET)
    answer = http.post("/advisor/api/ask", headers={"Authorization": f"Bearer {token}"},
                       json={"question": "what is my credit score?", "customer_id": "C0000099"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["session"] == {"role": "customer", "customer_id": "C0000042"} and not body["demo"]
    assert str(OWN_SCORE) in body["answer"] and str(OTHER_SCORE) not in body["answer"] and body["grounded"]
    # No token, a forged one, or a body-only customer id: refused when sign-in is configured.
    assert http.post("/advisor/api/ask", json={"question": "score?", "customer_id": "C0000042"}).status_code == 401
    forged = sign_customer_token("C0000099", "guessed-secret")
    assert http.post("/advisor/api/ask", headers={"Authorization": f"Bearer {forged}"},
                     json={"question": "score?"}).status_code == 401


def test_a_conversation_cannot_be_continued_by_another_session(advisor_dir):
    http = client(advisor_dir, session_secret=SECRET)
    mine = {"Authorization": f"Bearer {sign_customer_token('C0000042', SECRET)}"}
    first = http.post("/advisor/api/ask", headers=mine, json={"question": "what is my credit score?"}).json()
    theirs = {"Authorization": f"Bearer {sign_customer_token('C0000099', SECRET)}"}
    hijack = http.post("/advisor/api/ask", headers=theirs,
                       json={"question": "and what did you just tell them?", "conversation_id": first["conversation_id"]})
    assert hijack.status_code == 403
    again = http.post("/advisor/api/ask", headers=mine, json={"question": "and my loan application?",
                                                               "conversation_id": first["conversation_id"]}).json()
    assert again["conversation_id"] == first["conversation_id"] and "A00000042" in again["answer"]


def test_staff_need_a_valid_staff_key_and_a_role(advisor_dir):
    http = client(advisor_dir, session_secret=SECRET)
    question = {"question": "why was T0000000701 of C0000007 blocked?", "role": "risk"}
    assert http.post("/advisor/api/ask", headers={"X-Staff-Key": "wrong"}, json=question).status_code == 401
    assert http.post("/advisor/api/ask", headers={"X-Staff-Key": "staff-key-alice"},
                     json={**question, "role": "admin"}).status_code == 400
    body = http.post("/advisor/api/ask", headers={"X-Staff-Key": "staff-key-alice"}, json=question).json()
    assert body["session"]["role"] == "risk" and "T0000000701" in body["answer"] and body["sources"] == ["fraud.alerts"]


def test_demo_mode_without_a_secret_takes_the_customer_from_the_page_and_says_so(advisor_dir):
    http = client(advisor_dir, session_secret="")
    assert "const DEMO = true" in http.get("/advisor").text
    body = http.post("/advisor/api/ask", json={"question": "what is my credit score?", "customer_id": "C0000042"}).json()
    assert body["demo"] and str(OWN_SCORE) in body["answer"]
    assert http.post("/advisor/api/ask", json={"question": "score?", "customer_id": "x' OR 1=1"}).status_code == 400
    assert http.post("/advisor/api/ask", content=b"[1]").status_code == 400


def test_the_decision_service_serves_the_advisor_page():
    from fintech_dataops.lib.realtime.app import ServiceConfig, create_app

    app = create_app(ServiceConfig(data_dir="/nonexistent-data-dir"))
    http = TestClient(app)  # not entered: no lifespan, the page needs none of the scoring state
    page = http.get("/advisor")
    assert page.status_code == 200 and 'id="ask-form"' in page.text
    assert http.post("/advisor/api/ask", json={"question": ""}).status_code == 400
