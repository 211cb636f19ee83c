"""Who is looking at a page, what they may open, and which language they read.

Views never decide permissions themselves: `require()` hands the check to auth.policy.authorize,
the one gate. A page that needs a sign-in raises AuthenticationRequired, which web.errors turns
into a 303 to /login?next=…; a missing permission raises PermissionDenied -> the 403 page.
"""
from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlsplit

from litestar import Request

from server.auth import policy
from server.core.actor import Actor
from server.core.errors import AuthenticationRequired
from server.core.i18n import gettext_for, negotiate, normalize

LANG_COOKIE = "lang"


def page_actor(request: Request) -> Actor | None:
    """The signed-in staff user, or None. (API keys are for GraphQL, not for pages.)"""
    actor = request.scope.get("state", {}).get("actor")
    return actor if actor is not None and actor.kind == "user" else None


def require(request: Request, permission: str | None = None) -> Actor:
    """The staff actor of this request, holding `permission` when one is named."""
    actor = page_actor(request)
    if actor is None:
        raise AuthenticationRequired("sign in to continue", code="login_required")
    if permission:
        policy.authorize(actor, permission)
    return actor


def can(request: Request, permission: str) -> bool:
    """For showing or hiding a button; the service still authorizes the action itself."""
    return policy.can(page_actor(request), permission)


def request_language(request: Request) -> str:
    actor = page_actor(request)
    if actor is not None:
        return normalize(actor.language)
    return negotiate(request.headers.get("accept-language"), request.cookies.get(LANG_COOKIE))


def translator(request: Request) -> Callable[[str], str]:
    """`_ = translator(request)` in a view, then `_("Saved.")` (extracted like template strings)."""
    return gettext_for(request_language(request)).gettext


def safe_next(target: str | None, default: str = "/", *, allow_login: bool = False) -> str:
    """Only a local path may be a redirect target (no open redirect through ?next=). The sign-in and
    sign-out paths are refused too (a loop after signing in) unless `allow_login` says otherwise."""
    if not target or any(ord(c) < 32 for c in target) or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if parts.path.startswith("/logout") or (parts.path.startswith("/login") and not allow_login):
        return default
    return target


def current_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def login_url(request: Request) -> str:
    here = current_path(request)
    return "/login" if here == "/" else f"/login?next={quote(here, safe='')}"
