"""Your own account: language, timezone, display name, password."""
from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from litestar import Request, Response, get, post

from server.auth import service as auth_service
from server.auth.middleware import set_cookie
from server.core.errors import DomainError, ValidationError
from server.core.i18n import LANGUAGES, gettext_for
from web.access import LANG_COOKIE, request_language, require
from web.messages import error_message
from web.templating import flash, is_htmx, redirect, render
from web.views._common import field_errors, form_data

COMMON_TIMEZONES = ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo",
                    "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "UTC")


@cache
def timezone_choices() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(common zones first, then every IANA zone)."""
    every = tuple(sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))))
    return COMMON_TIMEZONES, every


async def _context(request: Request, **extra: object) -> dict:
    actor = require(request)
    user = await auth_service.current_user(actor)
    common, every = timezone_choices()
    return {"nav_key": "profile", "user": user, "languages": LANGUAGES, "common_zones": common,
            "all_zones": every, "prefs": user, "errors": {}, "password_errors": {}, **extra}


@get("/profile", name="profile")
async def profile(request: Request) -> Response:
    return await render(request, "profile/index.html", await _context(request))


@post("/profile", name="profile_save")
async def profile_save(request: Request) -> Response:
    actor = require(request)
    data = await form_data(request)
    try:
        user = await auth_service.update_user(actor, actor.user_id, name=data.get("name"),
                                              language=data.get("language") or None,
                                              timezone=data.get("timezone") or None)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        context = await _context(request)
        context.update({"prefs": {**context["user"], **data},
                        "errors": field_errors(exc, error_message(exc, request_language(request)))})
        return await render(request, "profile/index.html", context, status=422)
    set_cookie(request, LANG_COOKIE, user["language"], max_age=365 * 24 * 3600)
    flash(request, gettext_for(user["language"]).gettext("Your preferences are saved."))
    return redirect(request, "/profile")


@post("/profile/password", name="profile_password")
async def profile_password(request: Request) -> Response:
    actor = require(request)
    data = await form_data(request)
    lang = request_language(request)
    status, extra = 200, {}
    try:
        if data.get("new", "") != data.get("confirm", ""):
            raise ValidationError("the new passwords differ", code="password_mismatch", field="confirm")
        await auth_service.change_password(actor, current=data.get("current", ""), new=data.get("new", ""))
        extra["password_saved"] = True
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        status, extra["password_errors"] = 422, field_errors(exc, error_message(exc, lang))
    if is_htmx(request):
        return await render(request, "profile/_password.html", {"password_errors": {}, **extra}, status=status)
    if status == 200:
        flash(request, gettext_for(lang).gettext("Your password is changed."))
        return redirect(request, "/profile")
    return await render(request, "profile/index.html", await _context(request, **extra), status=status)


ROUTES = [profile, profile_save, profile_password]
