"""The ``/advisor`` chat page and its JSON API (a FastAPI router mounted by the decision service).

- ``GET  /advisor``           the chat page (self-contained HTML, no CDN)
- ``POST /advisor/api/ask``   ``{"question", "conversation_id"?, "customer_id"?, "role"?}`` → the answer JSON
  (``answer``, ``tools_used``, ``sources``, ``grounded``, ``declined``, ``mode``, ``conversation_id``)

Who is asking comes from the credential, never from the question:

- a **customer** sends ``Authorization: Bearer <session token>`` issued by the bank's sign-in
  (``sign_customer_token``: customer id, expiry, HMAC-SHA256 with ``FINTECH_ADVISOR_SESSION_SECRET``);
- **staff** send their monitor staff key (``X-Staff-Key``, ``lib.monitor.staff``) and a ``role``;
- with no session secret configured the page runs in **demo mode**: the customer id is picked on the
  page (the service only listens on loopback), and every answer says so.

Behind the multi-tenant service (``delegated=True``) the router in front has verified who asks — a
customer token of that bank (``lib.tenancy.advisor_sessions``) or one of the bank's analysts (staff key
or ``/monitor`` sign-in) — and passes the identity in the ASGI scope, which no client can set; this
router then reads no secret from the environment and has no demo mode.

A conversation is bound to the session that opened it: another session cannot continue it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from fintech_dataops.lib.advisor.scope import CUSTOMER_ID_RE, STAFF_ROLES, Session

SESSION_SECRET_ENV = "FINTECH_ADVISOR_SESSION_SECRET"
MAX_QUESTION_CHARS = 2_000
MAX_BODY_BYTES = 16 * 1024
MAX_CONVERSATIONS = 1_000
PAGE = Path(__file__).with_name("advisor_page.html")


def sign_customer_token(customer_id: str, secret: str, ttl_seconds: int = 3600, now: float | None = None) -> str:
    expires = int((now or time.time()) + ttl_seconds)
    payload = f"{customer_id}.{expires}"
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{mac}"


def verify_customer_token(token: str, secret: str, now: float | None = None) -> str | None:
    """The customer id of a valid, unexpired token; None otherwise."""
    try:
        customer_id, expires, mac = token.split(".")
        expired = int(expires) < (now or time.time())
    except ValueError:
        return None
    expected = hmac.new(secret.encode(), f"{customer_id}.{expires}".encode(), hashlib.sha256).hexdigest()
    if expired or not hmac.compare_digest(mac, expected) or not CUSTOMER_ID_RE.fullmatch(customer_id):
        return None
    return customer_id


def _json(payload, status: int = 200) -> Response:
    return Response(orjson.dumps(payload, default=str), status_code=status, media_type="application/json")


def page_html(base: str = "/advisor", demo: bool = False) -> str:
    html = PAGE.read_text(encoding="utf-8").replace("__DEMO__", "true" if demo else "false")
    return html.replace("__BASE__", base)


def advisor_router(data_dir: Path | str, staff=None, *, session_secret: str | None = None,
                   advisor_factory: Callable[[Path], object] | None = None, base: str = "/advisor",
                   delegated: bool = False) -> APIRouter:
    """``session_secret`` defaults to ``$FINTECH_ADVISOR_SESSION_SECRET`` (read now, at app creation);
    ``delegated``: identities are verified in front (the multi-tenant router) and arrive in the ASGI scope."""
    from fintech_dataops.lib.advisor.service import Conversation
    from fintech_dataops.lib.monitor.staff import STAFF_SCOPE_KEY

    secret = "" if delegated else (session_secret if session_secret is not None
                                   else os.environ.get(SESSION_SECRET_ENV, ""))
    demo = not secret and not delegated
    router = APIRouter()
    conversations: OrderedDict[str, Conversation] = OrderedDict()
    lock = threading.Lock()
    built: dict[str, object] = {}

    def advisor():
        with lock:  # built on first use: the service starts without importing pydantic-ai
            if "advisor" not in built:
                if advisor_factory is not None:
                    built["advisor"] = advisor_factory(Path(data_dir))
                else:
                    from fintech_dataops.lib.advisor.models import LLMSettings
                    from fintech_dataops.lib.advisor.service import Advisor

                    built["advisor"] = Advisor(Path(data_dir), LLMSettings.from_env())
            return built["advisor"]

    def delegated_session(request: Request, body: dict) -> tuple[Session | None, Response | None]:
        from fintech_dataops.lib.tenancy.advisor_sessions import CUSTOMER_SCOPE_KEY

        if request.scope.get(STAFF_SCOPE_KEY):
            role = body.get("role")
            if role not in STAFF_ROLES:
                return None, _json({"error": f"role must be one of {', '.join(STAFF_ROLES)}"}, 400)
            return Session(role), None
        customer = request.scope.get(CUSTOMER_SCOPE_KEY)
        if customer:
            return Session("customer", customer), None
        return None, _json({"error": "sign in first: a customer session token from your bank "
                                     "(Authorization: Bearer fdt_…), or staff (X-Staff-Key, /monitor/login)"}, 401)

    def session_for(request: Request, body: dict) -> tuple[Session | None, Response | None]:
        if delegated:
            return delegated_session(request, body)
        staff_key = request.headers.get("x-staff-key")
        if staff_key:
            if staff is None or staff.analyst_for(staff_key) is None:
                return None, _json({"error": "invalid staff key"}, 401)
            role = body.get("role")
            if role not in STAFF_ROLES:
                return None, _json({"error": f"role must be one of {', '.join(STAFF_ROLES)}"}, 400)
            return Session(role), None
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and secret:
            customer = verify_customer_token(auth[7:].strip(), secret)
            if customer is None:
                return None, _json({"error": "invalid or expired session token"}, 401)
            return Session("customer", customer), None
        if demo:
            customer = str(body.get("customer_id") or "")
            if not CUSTOMER_ID_RE.fullmatch(customer):
                return None, _json({"error": "demo mode: pick a customer id such as C0000042"}, 400)
            return Session("customer", customer), None
        return None, _json({"error": "sign in first (Authorization: Bearer <session token>)"}, 401)

    @router.get(base, response_class=HTMLResponse)
    async def page():
        return HTMLResponse(page_html(base, demo))

    @router.post(base + "/api/ask")
    async def ask(request: Request):
        import anyio.to_thread

        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return _json({"error": "request too large"}, 413)
        try:
            body = orjson.loads(raw or b"{}")
            assert isinstance(body, dict)
        except (orjson.JSONDecodeError, AssertionError):
            return _json({"error": "body must be a JSON object"}, 400)
        question = str(body.get("question") or "").strip()
        if not question or len(question) > MAX_QUESTION_CHARS:
            return _json({"error": f"question must be 1-{MAX_QUESTION_CHARS} characters"}, 400)
        session, refused = session_for(request, body)
        if refused is not None:
            return refused
        conversation_id = str(body.get("conversation_id") or "")
        with lock:
            conversation = conversations.get(conversation_id)
            if conversation is not None and conversation.session != session:
                return _json({"error": "this conversation belongs to another session"}, 403)
            if conversation is None:
                conversation = Conversation(session)
                conversations[conversation.conversation_id] = conversation
                while len(conversations) > MAX_CONVERSATIONS:
                    conversations.popitem(last=False)
            conversations.move_to_end(conversation.conversation_id)
        # The agent and its DuckDB look-ups block: a worker thread, so the decision path never waits on them.
        answer = await anyio.to_thread.run_sync(lambda: advisor().ask(conversation, question))
        return _json({**answer.to_json(), "conversation_id": conversation.conversation_id, "demo": demo,
                      "session": {"role": session.role, "customer_id": session.customer_id}})

    return router
