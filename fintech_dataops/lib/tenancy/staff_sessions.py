"""Browser sessions for a tenant's staff: sign in once with a staff key, then a cookie scoped to that tenant.

A browser cannot send an API-key header on a page load, and a bank's analysts must not hold the
bank's transaction-submission key anyway. So each tenant has its own staff keys (``fds_…``, one
per analyst, created with ``fintech-dataops tenant staff-key``, stored as scrypt hashes in the
registry). ``POST /monitor/login`` with a staff key opens a session: a random 256-bit token in an
``HttpOnly; SameSite=Strict`` cookie limited to ``/monitor`` (``Secure`` on HTTPS), naming one
tenant and one analyst. The token is kept only as its SHA-256; sessions end after
``idle_seconds`` without use, ``ttl_seconds`` at most, on ``/monitor/logout``, when the analyst's
key is revoked or the tenant deleted, and with the process.

Every state-changing request made with the cookie must also carry the session's CSRF token in
``X-CSRF-Token`` (the page reads it from ``GET /monitor/session``, which another site's script
cannot read) and, when the browser sends one, an ``Origin`` equal to the service's own.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie

COOKIE_NAME = "fdo_staff_session"
COOKIE_PATH = "/monitor"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class StaffSession:
    tenant: str
    analyst: str
    key_id: str
    csrf_token: str
    expires_at: float     # absolute end (clock seconds)
    idle_until: float     # extended by each use


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class StaffSessions:
    """Open sessions by the SHA-256 of their token (the token itself lives only in the browser)."""

    def __init__(self, *, ttl_seconds: float = 8 * 3600, idle_seconds: float = 30 * 60, max_sessions: int = 10_000,
                 clock=time.monotonic):
        self.ttl_seconds, self.idle_seconds, self.max_sessions = ttl_seconds, idle_seconds, max_sessions
        self._clock = clock
        self._sessions: dict[str, StaffSession] = {}

    def open(self, tenant: str, analyst: str, key_id: str) -> tuple[str, StaffSession]:
        now = self._clock()
        self._sessions = {d: s for d, s in self._sessions.items() if min(s.expires_at, s.idle_until) > now}
        while len(self._sessions) >= self.max_sessions:  # oldest first: dicts keep insertion order
            self._sessions.pop(next(iter(self._sessions)))
        token = secrets.token_urlsafe(32)
        session = StaffSession(tenant, analyst, key_id, secrets.token_urlsafe(32), now + self.ttl_seconds,
                               now + self.idle_seconds)
        self._sessions[_digest(token)] = session
        return token, session

    def get(self, token: str | None) -> StaffSession | None:
        if not token:
            return None
        digest = _digest(token)
        session = self._sessions.get(digest)
        if session is None:
            return None
        now = self._clock()
        if now >= session.expires_at or now >= session.idle_until:
            del self._sessions[digest]
            return None
        session.idle_until = min(session.expires_at, now + self.idle_seconds)
        return session

    def close(self, token: str | None) -> None:
        if token:
            self._sessions.pop(_digest(token), None)

    def keep_only(self, valid: set[tuple[str, str]]) -> None:
        """End every session whose (tenant, staff key id) is no longer in force (revoked, tenant deleted)."""
        self._sessions = {d: s for d, s in self._sessions.items() if (s.tenant, s.key_id) in valid}

    def __len__(self) -> int:
        return len(self._sessions)


def session_token(cookie_header: str) -> str | None:
    if not cookie_header:
        return None
    cookie = SimpleCookie()
    try:
        cookie.load(cookie_header)
    except Exception:  # a malformed Cookie header is no session
        return None
    morsel = cookie.get(COOKIE_NAME)
    return morsel.value if morsel else None


def set_cookie(token: str, max_age: int, *, secure: bool) -> str:
    return (f"{COOKIE_NAME}={token}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict"
            + ("; Secure" if secure else ""))


def clear_cookie(*, secure: bool) -> str:
    return (f"{COOKIE_NAME}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict"
            + ("; Secure" if secure else ""))


def csrf_ok(session: StaffSession, supplied: str, origin: str, own_origin: str) -> bool:
    """A cookie-authenticated change is ours when it carries the session's token and, if sent, our Origin."""
    if origin and origin != own_origin:
        return False
    return bool(supplied) and hmac.compare_digest(supplied.encode(), session.csrf_token.encode())


def login_page(message: str = "") -> str:
    note = f"<p id='login-error' role='alert'>{html.escape(message)}</p>" if message else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in: fraud monitor</title>
<style>body{{font-family:system-ui,sans-serif;background:#f5f6f8;display:flex;justify-content:center;padding-top:12vh}}
form{{background:#fff;padding:24px 28px;box-shadow:0 1px 3px #0003;display:grid;gap:10px;min-width:320px}}
#login-error{{color:#b00020;margin:0}}</style></head>
<body><form id="login" method="post" action="{COOKIE_PATH}/login"><h1>Fraud monitor</h1>{note}
<label>staff key <input id="staff-key" name="staff_key" type="password" autocomplete="off" required></label>
<button type="submit">sign in</button></form></body></html>"""
