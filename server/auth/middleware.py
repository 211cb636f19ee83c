"""Who is calling, for every HTTP request: request id, staff session or API key, CSRF cookie.

A pure ASGI middleware so that pages, GraphQL and webhooks share one place that resolves the actor
(stored in scope["state"]["actor"]). CSRF *validation* needs the parsed form, so it happens in the
app's before_request hook (`check_csrf`), which Litestar runs after routing with body caching.
"""
from __future__ import annotations

import logging
import uuid
from http.cookies import SimpleCookie
from typing import Any

from litestar import Request, Response
from litestar.enums import ScopeType

from server.auth import apikeys
from server.auth import service as auth_service
from server.core import crypto
from server.core import log as oms_log
from server.settings import get_settings

SESSION_COOKIE = "oms_session"
CSRF_COOKIE = "oms_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "_csrf"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# machine endpoints authenticated by their own signatures or keys, never by cookies
CSRF_EXEMPT_PREFIXES = ("/webhooks/", "/sandbox/", "/healthz", "/readyz")

log = logging.getLogger("oms.http")


def cookie_header(name: str, value: str, *, max_age: int | None = None, http_only: bool = True) -> bytes:
    s = get_settings()
    parts = [f"{name}={value}", "Path=/", "SameSite=Lax"]
    if http_only:
        parts.append("HttpOnly")
    if s.cookie_secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts).encode()


class AuthMiddleware:
    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        rid = headers.get("x-request-id", "")[:64] or uuid.uuid4().hex
        token = oms_log.request_id.set(rid)
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is treated as no cookies
            cookies = SimpleCookie()
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        client = scope.get("client") or ("", 0)
        ip = headers.get("x-forwarded-for", "").split(",")[0].strip() if get_settings().extra.get(
            "trust_proxy") else client[0]
        state["ip"] = ip or ""
        csrf = cookies[CSRF_COOKIE].value if CSRF_COOKIE in cookies else ""
        new_csrf = not csrf
        state["csrf_token"] = csrf or crypto.token(24)
        state["actor"] = None
        state["auth"] = None

        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            actor = await apikeys.actor_for_key(auth[7:].strip())
            state["auth"] = "api_key" if actor else "invalid_key"
            state["actor"] = actor.with_request(rid, state["ip"]) if actor else None
        elif SESSION_COOKIE in cookies:
            session_token = cookies[SESSION_COOKIE].value
            actor = await auth_service.actor_for_session(session_token)
            if actor:
                state["auth"] = "session"
                state["session_token"] = session_token
                state["actor"] = actor.with_request(rid, state["ip"])

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                hdrs = list(message.get("headers", []))
                hdrs.append((b"x-request-id", rid.encode()))
                if new_csrf and not state.get("csrf_cookie_set"):
                    hdrs.append((b"set-cookie", cookie_header(CSRF_COOKIE, state["csrf_token"])))
                for cookie in state.get("set_cookies", []):
                    hdrs.append((b"set-cookie", cookie))
                message["headers"] = hdrs
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            oms_log.request_id.reset(token)


async def check_csrf(request: Request) -> Response | None:
    """before_request: every unsafe request that could ride on cookies must echo the CSRF token
    (form field `_csrf` or header `X-CSRF-Token`, which htmx sends on every request)."""
    if request.method in SAFE_METHODS or request.url.path.startswith(CSRF_EXEMPT_PREFIXES):
        return None
    if request.scope["state"].get("auth") in ("api_key", "invalid_key"):
        return None  # bearer keys are not sent by browsers on their own: no CSRF risk
    expected = request.cookies.get(CSRF_COOKIE, "")
    supplied = request.headers.get(CSRF_HEADER, "")
    if not supplied and "form" in request.headers.get("content-type", ""):
        form = await request.form()
        supplied = str(form.get(CSRF_FIELD, ""))
    if not expected or not supplied or not crypto.equal(expected, supplied):
        log.warning("csrf check failed", extra={"path": request.url.path})
        return Response({"errors": [{"code": "csrf_failed", "message":
                                     "the form expired or came from another site; reload the page and try again"}]},
                        status_code=403)
    return None


def set_cookie(request: Request, name: str, value: str, *, max_age: int | None = None) -> None:
    """Queue a Set-Cookie for this response (picked up by the middleware)."""
    request.scope["state"].setdefault("set_cookies", []).append(cookie_header(name, value, max_age=max_age))


def rotate_csrf(request: Request) -> str:
    """New CSRF token at login/logout (a token fixed before login must not survive it)."""
    token = crypto.token(24)
    request.scope["state"]["csrf_token"] = token
    request.scope["state"]["csrf_cookie_set"] = True
    set_cookie(request, CSRF_COOKIE, token)
    return token
