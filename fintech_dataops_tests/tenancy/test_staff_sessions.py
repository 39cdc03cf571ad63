"""Each bank's analysts sign in to their own monitor; a session of bank A never sees or acts on bank B.

The multi-tenant service in-process (``TenantRouter`` behind Starlette's test client): per-tenant
staff keys open browser sessions (HttpOnly, SameSite=Strict cookie, CSRF token for changes), and
both banks hold an alert for the same transaction and customer ids.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from fintech_dataops.lib.fraud.engine import FraudEngine
from fintech_dataops.lib.realtime.app import ServiceConfig
from fintech_dataops.lib.tenancy.paths import TenantError
from fintech_dataops.lib.tenancy.service import TenantRouter
from fintech_dataops.lib.tenancy.staff_sessions import COOKIE_NAME
from fintech_dataops_tests.lib.realtime.helpers import tx

ORIGIN = "http://testserver"  # the test client's own origin


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _router(data_dir, clock=None):
    config = ServiceConfig(data_dir=data_dir, batch_window_ms=1.0, rotate_seconds=0.2, warm_start=False)
    return TenantRouter(data_dir, config, engines={"acme": FraudEngine(), "globex": FraudEngine()},
                        clock=clock or Clock())


def _sign_in(client: TestClient, staff_key: str) -> str:
    answer = client.post("/monitor/login", data={"staff_key": staff_key}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/monitor", answer.text
    return client.get("/monitor/session").json()["csrf_token"]


def _case_files(root):
    return sorted(p.relative_to(root).as_posix() for p in (root / "landing").rglob("*")
                  if p.is_file() and "case" in p.as_posix())


@pytest.fixture()
def banks_with_alerts(data_dir, two_banks):
    registry, keys = two_banks
    staff = {"acme": registry.add_staff_key("acme", "alice", actor="test")[1],
             "globex": registry.add_staff_key("globex", "bob", actor="test")[1]}
    return registry, keys, staff


class _Person:
    """One person's browser (their own cookie jar) on a client shared with the others."""

    def __init__(self, client: TestClient):
        self.client = client
        self.cookies = type(client.cookies)()  # the test client's own cookie class

    def __getattr__(self, method: str):
        call = getattr(self.client, method)

        def request(*args, **kwargs):
            self.client.cookies = self.cookies
            try:
                return call(*args, **kwargs)
            finally:
                self.cookies = type(self.client.cookies)(self.client.cookies)

        return request


def test_a_banks_staff_session_sees_and_acts_on_its_own_queue_only(data_dir, banks_with_alerts):
    registry, keys, staff = banks_with_alerts
    start = datetime.now(timezone.utc).replace(microsecond=0)
    router = _router(data_dir)
    # One service lifespan, as in production (each TestClient context would start the banks' services
    # again on the same WALs, which a second live writer may not claim); one cookie jar per person.
    with TestClient(router) as http:
        alice, bob, machine = _Person(http), _Person(http), _Person(http)
        for name, amount in (("acme", 950.0), ("globex", 990.0)):
            machine.post("/v1/transactions", json=tx("T2", "C0000001", amount, at=start),
                         headers={"X-API-Key": keys[name]})
        # A browser without a session is sent to the sign-in page; keys of the wrong kind do not sign in.
        first = alice.get("/monitor", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"] == "/monitor/login"
        assert "staff_key" in alice.get("/monitor/login").text
        for wrong in (keys["acme"], staff["acme"][:-1] + "x", "alice"):
            assert alice.post("/monitor/login", data={"staff_key": wrong}, follow_redirects=False).status_code == 401
        answer = alice.post("/monitor/login", data={"staff_key": staff["acme"]}, follow_redirects=False)
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(COOKIE_NAME + "=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "Path=/monitor" in cookie and staff["acme"] not in cookie
        alice_csrf = alice.get("/monitor/session").json()
        assert alice_csrf["tenant"] == "acme" and alice_csrf["analyst"] == "alice"
        bob_csrf = _sign_in(bob, staff["globex"])

        page = alice.get("/monitor")
        assert page.status_code == 200 and "data-tenant='acme'" in page.text and "Globex" not in page.text
        queue = alice.get("/monitor/api/queue", params={"view": "all"}).json()
        assert queue["analyst"] == "alice" and [a["amount"] for a in queue["alerts"]] == [950.0]
        assert [a["amount"] for a in bob.get("/monitor/api/queue", params={"view": "all"}).json()["alerts"]] == [990.0]
        assert alice.get("/monitor/api/alerts/T2").json()["alert"]["amount"] == 950.0

        # Changes need the session's CSRF token and, when sent, this service's Origin.
        assign = "/monitor/api/alerts/T2/assign"
        assert alice.post(assign, json={}).status_code == 403
        assert alice.post(assign, json={}, headers={"X-CSRF-Token": bob_csrf}).status_code == 403
        assert alice.post(assign, json={}, headers={"X-CSRF-Token": alice_csrf["csrf_token"],
                                                    "Origin": "https://evil.example"}).status_code == 403
        assert _case_files(registry.root("acme")) == []
        done = alice.post(assign, json={}, headers={"X-CSRF-Token": alice_csrf["csrf_token"], "Origin": ORIGIN})
        assert done.status_code == 200, done.text
        assert done.json()["case"]["assignee"] == "alice"
        # ... at acme only: globex's T2 (same id) has no case, and bob's view of it is untouched.
        assert _case_files(registry.root("acme")) and _case_files(registry.root("globex")) == []
        assert bob.get("/monitor/api/alerts/T2").json()["case"] is None

        # Mixing banks on one request is refused, whichever credentials are combined.
        session_cookie = {"Cookie": f"{COOKIE_NAME}={alice.cookies.get(COOKIE_NAME)}"}
        assert machine.get("/monitor/api/queue", headers={**session_cookie, "X-API-Key": keys["globex"]}
                           ).status_code == 403
        assert machine.get("/monitor/api/queue", headers={**session_cookie, "X-Staff-Key": staff["globex"]}
                           ).status_code == 403
        # A staff session cannot submit transactions; the API key alone reaches no analyst's view.
        assert machine.post("/v1/transactions", json=tx("T3", "C0000001"), headers=session_cookie).status_code == 401
        assert machine.get("/monitor/api/queue", headers={"X-API-Key": keys["acme"]}).status_code == 401
        # A staff key also works as a header (scripts), for its own bank only.
        by_header = machine.get("/monitor/api/queue", params={"view": "all"}, headers={"X-Staff-Key": staff["globex"]})
        assert [a["amount"] for a in by_header.json()["alerts"]] == [990.0]

        # Revoking alice's key ends her session at once; bob signs out.
        registry.revoke_staff_key("acme", "alice", actor="test")
        assert alice.get("/monitor/api/queue").status_code == 401
        assert bob.post("/monitor/logout", headers={"X-CSRF-Token": bob_csrf}).status_code == 200
        assert bob.get("/monitor/api/queue").status_code == 401
        assert bob.get("/monitor/session").status_code == 401
        # Offboarding a bank ends its staff's sessions and keys in the running service.
        _sign_in(bob, staff["globex"])
        registry.delete("globex", actor="test")
        assert bob.get("/monitor/api/queue").status_code == 401
        assert machine.get("/monitor/api/queue", headers={"X-Staff-Key": staff["globex"]}).status_code == 401
        assert machine.post("/v1/transactions", json=tx("T4"), headers={"X-API-Key": keys["globex"]}).status_code == 401


def test_sessions_end_after_idle_time_and_staff_key_rules(data_dir, banks_with_alerts):
    registry, keys, staff = banks_with_alerts
    clock = Clock()
    router = _router(data_dir, clock)
    with TestClient(router) as browser:
        _sign_in(browser, staff["acme"])
        clock.now += router.sessions.idle_seconds - 1
        assert browser.get("/monitor/api/queue").status_code == 200  # in use: kept alive
        clock.now += router.sessions.idle_seconds - 1
        assert browser.get("/monitor/api/queue").status_code == 200
        clock.now += router.sessions.idle_seconds
        assert browser.get("/monitor/api/queue").status_code == 401
    # Sign-in attempts are throttled per client address (each may cost a scrypt verification).
    with TestClient(router) as guesser:
        wrong = staff["globex"][:-1] + ("x" if staff["globex"][-1] != "x" else "y")
        answers = [guesser.post("/monitor/login", data={"staff_key": wrong}, follow_redirects=False).status_code
                   for _ in range(12)]
        assert 429 in answers and set(answers) == {401, 429}
        assert guesser.post("/monitor/login", data={"staff_key": staff["acme"]}, follow_redirects=False
                            ).status_code == 429  # even a right key waits its turn
        clock.now += 2 / 0.5
        assert guesser.post("/monitor/login", data={"staff_key": staff["acme"]}, follow_redirects=False
                            ).status_code == 303
    # A new key for the same analyst replaces the old one; bad analyst names are refused.
    _, fresh = registry.add_staff_key("acme", "alice", actor="test")
    assert registry.authenticate_staff(staff["acme"]) is None
    assert registry.authenticate_staff(fresh)[:2] == ("acme", "alice")
    for bad in ("", "al ice", "x" * 65):
        with pytest.raises(TenantError):
            registry.add_staff_key("acme", bad, actor="test")
    assert "fds_" not in registry.path.read_text() and "fds_" not in registry.audit_path.read_text()


def test_a_tenants_rate_limit_from_its_settings_binds_that_tenant_only(data_dir, two_banks):
    from pydantic import ValidationError

    registry, keys = two_banks
    for bad in ({"max_requests_per_second": 0}, {"request_burst": 5}, {"max_requests_per_second": -1},
                {"max_requests_per_second": 10, "request_burst": 0}):
        with pytest.raises(ValidationError):
            registry.configure("acme", settings=bad, actor="test")
    registry.configure("acme", settings={"max_requests_per_second": 1, "request_burst": 2}, actor="test")
    clock = Clock()
    with TestClient(_router(data_dir, clock)) as client:
        acme, globex = ({"X-API-Key": keys[n]} for n in ("acme", "globex"))
        answers = [client.post("/v1/transactions", json=tx(f"A{i}"), headers=acme).status_code for i in range(3)]
        assert answers == [200, 200, 429]
        refused = client.post("/v1/transactions", json=tx("A9"), headers=acme)
        assert refused.status_code == 429 and float(refused.headers["retry-after"]) > 0
        assert all(client.post("/v1/transactions", json=tx(f"G{i}"), headers=globex).status_code == 200
                   for i in range(5))  # globex has no limit of its own
        clock.now += 1.0
        assert client.post("/v1/transactions", json=tx("A3"), headers=acme).status_code == 200
        # A settings change applies at the next request: acme's limit lifted.
        registry.configure("acme", settings={"max_requests_per_second": None, "request_burst": None}, actor="test")
        assert all(client.post("/v1/transactions", json=tx(f"A{i}"), headers=acme).status_code == 200
                   for i in range(4, 9))
