"""The Jinja environment and `render()`: one way for every page to become a response.

`await render(request, "users/index.html", {...})` adds the common context (actor, language,
timezone, CSRF token, visible nav, flashes, merchant) and returns an HTML Response. Error handlers,
which Litestar calls synchronously, use `render_now()` (same thing without loading the merchant).
"""
from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response
from litestar.enums import MediaType
from markupsafe import Markup

from server.auth import service as auth_service
from server.auth.middleware import set_cookie
from server.auth.roles import PERMISSIONS, ROLE_LABELS, ROLES
from server.core import clock
from server.core.actor import Actor
from server.core.i18n import LANGUAGE_NAMES, compile_catalogs
from web import formatting, nav
from web.access import can, current_path, page_actor, request_language

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
FLASH_COOKIE = "oms_flash"

# The merchant last loaded for each tenant: error pages (rendered synchronously, without a query)
# show its name in the sidebar; every normal page loads it fresh.
_merchants: dict[int, dict | None] = {}


def role_label(role: str) -> str:
    return formatting.gettext(ROLE_LABELS.get(role, role))


def permission_label(permission: str) -> str:
    return formatting.gettext(PERMISSIONS.get(permission, permission))


def field_value(value: object, field: str = "") -> str:
    """A recorded value, readable: role and language codes by their names, the rest formatted."""
    if field == "role" and isinstance(value, str):
        return role_label(value)
    if field == "language" and isinstance(value, str) and value in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[value]
    return formatting.fmt_value(value)


@cache
def environment() -> Environment:
    compile_catalogs()
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Translations are text, not HTML: escape them here (Jinja's newstyle gettext would otherwise
    # mark them safe as they are); values passed in with `_("…%(x)s", x=…)` are escaped by Jinja.
    env.install_gettext_callables(
        lambda message: Markup.escape(formatting.gettext(message)),
        lambda singular, plural, n: Markup.escape(formatting.ngettext(singular, plural, n)),
        newstyle=True)
    env.filters.update({
        "dt": formatting.fmt_datetime,
        "date": formatting.fmt_date,
        "iso": formatting.fmt_iso,
        "reltime": formatting.fmt_reltime,
        "money": formatting.fmt_money,
        "number": formatting.fmt_number,
        "value": formatting.fmt_value,
        "field_value": field_value,
        "role_label": role_label,
        "permission_label": permission_label,
    })
    env.globals.update({
        "ROLES": ROLES,
        "PERMISSIONS": PERMISSIONS,
        "LANGUAGE_NAMES": LANGUAGE_NAMES,
        "nav_sections": nav.SECTIONS,
        "url_with": url_with,
        "role_choices": lambda roles: [(r, role_label(r)) for r in roles],
    })
    return env


def url_with(path: str, params: dict[str, Any] | None = None, **overrides: Any) -> str:
    """`path?…` from the current filters plus overrides, leaving out empty values."""
    merged = {**(params or {}), **overrides}
    query = urlencode({k: v for k, v in merged.items() if v not in (None, "")})
    return f"{path}?{query}" if query else path


def is_htmx(request: Request) -> bool:
    """An htmx request that wants a fragment (a boosted navigation still wants the full page)."""
    headers = request.headers
    return (headers.get("hx-request") == "true" and headers.get("hx-boosted") != "true"
            and headers.get("hx-history-restore-request") != "true")


# -- flash messages: one short-lived cookie, shown on the next full page -------------------------

def flash(request: Request, message: str, level: str = "success") -> None:
    """Queue a message (already translated) for the next full page this browser loads."""
    raw = json.dumps([level, message], ensure_ascii=False).encode()
    set_cookie(request, FLASH_COOKIE, base64.urlsafe_b64encode(raw).decode(), max_age=60)


def _pop_flashes(request: Request) -> list[dict]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    set_cookie(request, FLASH_COOKIE, "", max_age=0)
    try:
        level, message = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, TypeError):
        return []
    if level not in ("success", "info", "warning", "error"):
        level = "info"
    return [{"level": level, "message": str(message)[:500]}]


# -- rendering ----------------------------------------------------------------------------------

def _timezone(actor: Actor | None) -> str:
    return actor.timezone if actor is not None else "UTC"


def base_context(request: Request) -> dict[str, Any]:
    actor = page_actor(request)
    state = request.scope.get("state", {})
    fragment = is_htmx(request)
    merchant = None
    if actor is not None and actor.merchant_id is not None:
        merchant = _merchants.get(actor.merchant_id)
    return {
        "request": request,
        "actor": actor,
        "merchant": merchant,
        "lang": request_language(request),
        "tz": _timezone(actor),
        "csrf_token": state.get("csrf_token", ""),
        "nav": nav.grouped(actor),
        "nav_key": "",
        "path": request.url.path,
        "here": current_path(request),
        "htmx": fragment,
        "flashes": [] if fragment else _pop_flashes(request),
        "can": lambda permission: can(request, permission),
        "now": clock.now(),
    }


def render_now(request: Request, template: str, context: dict[str, Any] | None = None, *,
               status: int = 200, headers: dict[str, str] | None = None) -> Response:
    ctx = base_context(request)
    ctx.update(context or {})
    with formatting.page_locale(ctx["lang"], ctx["tz"]):
        html = environment().get_template(template).render(ctx)
    response_headers = {"Vary": "HX-Request, Cookie", "Cache-Control": "no-store", **(headers or {})}
    return Response(html, status_code=status, media_type=MediaType.HTML, headers=response_headers)


async def load_merchant(actor: Actor | None) -> dict | None:
    if actor is None or actor.merchant_id is None:
        return None
    merchant = await auth_service.current_merchant(actor)
    _merchants[actor.merchant_id] = merchant
    return merchant


async def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
                 status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Render a page or fragment for this request (the view picks the template)."""
    await load_merchant(page_actor(request))
    return render_now(request, template, context, status=status, headers=headers)


def redirect(request: Request, location: str, *, status: int = 303) -> Response:
    """A redirect that htmx follows as a full navigation (HX-Location would keep the fragment)."""
    if is_htmx(request):
        return Response(b"", status_code=204, headers={"HX-Redirect": location}, media_type=MediaType.TEXT)
    return Response(b"", status_code=status, headers={"Location": location}, media_type=MediaType.TEXT)
