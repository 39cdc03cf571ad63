"""The advisor behind the multi-tenant service: customer sessions per bank, staff as for /monitor.

Each bank signs its customers' advisor tokens with its own secret (in its own storage, 0600, rotated
with the key, removed with the bank); a token names its bank and is refused anywhere else, though
both banks hold customer ``C0000042`` (with different credit scores).
"""

from __future__ import annotations

import json
import stat

import duckdb
import pytest
from fastapi.testclient import TestClient

from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.realtime.app import ServiceConfig
from fintech_dataops.lib.tenancy import advisor_sessions
from fintech_dataops.lib.tenancy.service import TenantRouter
from fintech_dataops_tests.lib.advisor.advisor_data import build_advisor_warehouse

SCORES = {"acme": 657, "globex": 731}  # C0000042's stored score at each bank
ASK = "/advisor/api/ask"


@pytest.fixture()
def banks(data_dir, two_banks, monkeypatch):
    for name in ("FINTECH_LLM_BASE_URL", "FINTECH_LLM_MODEL", "FINTECH_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FINTECH_ADVISOR_SESSION_SECRET", "a-platform-wide-secret-must-not-be-used")
    registry, keys = two_banks
    for name, score in SCORES.items():
        build_advisor_warehouse(registry.root(name))
        with duckdb.connect(str(registry.root(name) / "warehouse.duckdb")) as con:
            con.execute("UPDATE credit.scores SET score = ? WHERE customer_id = 'C0000042'", [score])
    staff = {"acme": registry.add_staff_key("acme", "alice", actor="test")[1],
             "globex": registry.add_staff_key("globex", "bob", actor="test")[1]}
    config = ServiceConfig(data_dir=data_dir, batch_window_ms=1.0, rotate_seconds=0.2, warm_start=False)
    router = TenantRouter(data_dir, config, engines={"acme": FraudEngine(), "globex": FraudEngine()})
    return registry, keys, staff, router


def _token(http: TestClient, api_key: str, customer: str = "C0000042") -> str:
    answer = http.post("/advisor/session", headers={"X-API-Key": api_key}, json={"customer_id": customer})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return answer.json()["token"]


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_each_bank_has_its_own_secret_in_its_own_storage(banks, data_dir, caplog):
    registry, keys, _, _ = banks
    secrets = {}
    for name in SCORES:
        path = registry.root(name) / advisor_sessions.SECRET_FILE
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        secrets[name] = path.read_bytes()
    assert secrets["acme"] != secrets["globex"] and len(secrets["acme"]) == 64
    # Never in the registry, the audit log or the listing.
    platform = b"".join(p.read_bytes() for p in (data_dir / "platform").iterdir() if p.is_file())
    assert all(s not in platform for s in secrets.values())
    # Rotated with the key (audited), removed with the bank.
    registry.rotate_key("acme", actor="test")
    assert (registry.root("acme") / advisor_sessions.SECRET_FILE).read_bytes() != secrets["acme"]
    audit = [json.loads(line) for line in registry.audit_path.read_text().splitlines()]
    assert audit[-1]["action"] == "rotate-key" and audit[-1]["details"]["advisor_session_secret"] == "rotated"
    registry.delete("globex", actor="test")
    assert not registry.root("globex").exists()


def test_a_customer_token_works_at_its_own_bank_only(banks):
    registry, keys, staff, router = banks
    with TestClient(router) as http:
        acme = _token(http, keys["acme"])
        globex = _token(http, keys["globex"])
        assert acme.startswith("fdt_acme.") and globex.startswith("fdt_globex.")
        # Each token reaches its own bank's customer, whatever the body claims.
        for name, token in (("acme", acme), ("globex", globex)):
            answer = http.post(ASK, headers=_bearer(token),
                               json={"question": "what is my credit score?", "customer_id": "C0000099"})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["session"] == {"role": "customer", "customer_id": "C0000042"} and not body["demo"]
            other = "globex" if name == "acme" else "acme"
            assert str(SCORES[name]) in body["answer"] and str(SCORES[other]) not in body["answer"]
        # Bank A's token at bank B: with B's key, B's staff key, or renamed to B (its MAC is A's).
        assert http.post(ASK, headers={**_bearer(acme), "X-API-Key": keys["globex"]},
                         json={"question": "score?"}).status_code == 403
        assert http.post(ASK, headers={**_bearer(acme), "X-Staff-Key": staff["globex"]},
                         json={"question": "score?", "role": "credit"}).status_code == 403
        renamed = acme.replace("fdt_acme.", "fdt_globex.", 1)
        assert http.post(ASK, headers=_bearer(renamed), json={"question": "score?"}).status_code == 401
        # Signed with the platform-wide variable instead of the bank's own secret: refused.
        forged, _ = advisor_sessions.sign("acme", "C0000042", b"a-platform-wide-secret-must-not-be-used")
        assert http.post(ASK, headers=_bearer(forged), json={"question": "score?"}).status_code == 401
        # An API key alone is the bank's backend, not a customer: no body-chosen customer (no demo mode).
        refused = http.post(ASK, headers={"X-API-Key": keys["acme"]},
                            json={"question": "score?", "customer_id": "C0000042"})
        assert refused.status_code == 401
        assert http.post(ASK, json={"question": "score?", "customer_id": "C0000042"}).status_code == 401
        # Only the bank's key opens sessions; a customer token cannot mint another.
        assert http.post("/advisor/session", headers=_bearer(acme), json={"customer_id": "C0000099"}).status_code == 401
        assert http.post("/advisor/session", headers={"X-API-Key": keys["acme"]},
                         json={"customer_id": "robert'); drop"}).status_code == 400
        # The page loads without a credential (its script sends the token) and is not in demo mode.
        page = http.get("/advisor")
        assert page.status_code == 200 and "const DEMO = false" in page.text
        # Rotating the bank's key ends its customers' sessions; the other bank's go on.
        registry.rotate_key("acme", actor="test")
        assert http.post(ASK, headers=_bearer(acme), json={"question": "score?"}).status_code == 401
        assert http.post(ASK, headers=_bearer(globex), json={"question": "what is my credit score?"}).status_code == 200


def test_staff_ask_their_own_bank_with_a_staff_key_or_the_monitor_sign_in(banks):
    _, keys, staff, router = banks
    question = {"question": "what is the credit score of C0000042?", "role": "credit"}
    with TestClient(router) as http:
        answer = http.post(ASK, headers={"X-Staff-Key": staff["globex"]}, json=question)
        assert answer.status_code == 200, answer.text
        assert answer.json()["session"] == {"role": "credit", "customer_id": None}
        assert str(SCORES["globex"]) in answer.json()["answer"] and str(SCORES["acme"]) not in answer.json()["answer"]
        assert http.post(ASK, headers={"X-Staff-Key": staff["globex"], "X-API-Key": keys["acme"]},
                         json=question).status_code == 403
        assert http.post(ASK, headers={"X-Staff-Key": "fds_not.a-key"}, json=question).status_code == 401
    with TestClient(router) as browser:
        assert browser.post("/monitor/login", data={"staff_key": staff["acme"]},
                            follow_redirects=False).status_code == 303
        csrf = browser.get("/monitor/session").json()["csrf_token"]
        assert browser.post("/monitor/advisor/api/ask", json=question).status_code == 403  # no CSRF token
        answer = browser.post("/monitor/advisor/api/ask", headers={"X-CSRF-Token": csrf}, json=question)
        assert answer.status_code == 200, answer.text
        assert str(SCORES["acme"]) in answer.json()["answer"] and str(SCORES["globex"]) not in answer.json()["answer"]
        # The session cookie (Path=/monitor) is no credential at /advisor; the API key alone is not staff.
        assert browser.post(ASK, json=question).status_code == 401
    with TestClient(router) as machine:
        assert machine.post("/monitor/advisor/api/ask", headers={"X-API-Key": keys["acme"]},
                            json=question).status_code == 401
