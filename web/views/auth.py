"""Sign-in, sign-out and the language switcher."""
from __future__ import annotations

from typing import Annotated

from litestar import Request, Response, get, post
from litestar.params import QueryParameter

from server.auth import service as auth_service
from server.auth.middleware import SESSION_COOKIE, rotate_csrf, set_cookie
from server.core.errors import AuthenticationRequired, RateLimited
from server.core.i18n import LANGUAGES, gettext_for
from server.settings import get_settings
from web.access import LANG_COOKIE, page_actor, request_language, safe_next, translator
from web.messages import error_message
from web.templating import flash, redirect, render

LANG_COOKIE_AGE = 365 * 24 * 3600


@get("/login", name="login")
async def login_page(request: Request,
                     next_: Annotated[str | None, QueryParameter(name="next")] = None) -> Response:
    target = safe_next(next_)
    if page_actor(request) is not None:
        return redirect(request, target)
    return await render(request, "auth/login.html", {"next": target if next_ else "", "email": ""})


@post("/login", name="login_submit")
async def login_submit(request: Request) -> Response:
    form = await request.form()
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    next_ = str(form.get("next", ""))
    context = {"next": safe_next(next_) if next_ else "", "email": email}
    lang = request_language(request)
    try:
        result = await auth_service.login(email, password, ip=request.scope["state"].get("ip", ""),
                                          user_agent=request.headers.get("user-agent", ""))
    except RateLimited as exc:
        context["error"] = error_message(exc, lang)
        return await render(request, "auth/login.html", context, status=429,
                            headers={"Retry-After": str(max(1, int(exc.retry_after)))})
    except AuthenticationRequired as exc:
        context["error"] = error_message(exc, lang)
        return await render(request, "auth/login.html", context, status=401)
    set_cookie(request, SESSION_COOKIE, result.token, max_age=get_settings().session_max_age)
    rotate_csrf(request)
    return redirect(request, safe_next(next_))


@post("/logout", name="logout")
async def logout(request: Request) -> Response:
    actor = page_actor(request)
    token = request.scope["state"].get("session_token")
    if token:
        await auth_service.logout(token, actor)
    set_cookie(request, SESSION_COOKIE, "", max_age=0)
    rotate_csrf(request)
    if actor is not None:
        # the sign-in page keeps the language the user was reading
        set_cookie(request, LANG_COOKIE, actor.language, max_age=LANG_COOKIE_AGE)
    _ = translator(request)
    flash(request, _("You have signed out."), "info")
    return redirect(request, "/login")


@post("/language", name="language")
async def switch_language(request: Request) -> Response:
    """Signed in: saved to the profile (through the service). Anonymous: a `lang` cookie."""
    form = await request.form()
    lang = str(form.get("lang", ""))
    target = safe_next(str(form.get("next", "")) or None, allow_login=True)  # the sign-in page keeps its ?next=
    if lang not in LANGUAGES:
        return redirect(request, target)
    actor = page_actor(request)
    if actor is not None:
        await auth_service.update_user(actor, actor.user_id, language=lang)
    set_cookie(request, LANG_COOKIE, lang, max_age=LANG_COOKIE_AGE)
    if actor is not None:
        flash(request, gettext_for(lang).gettext("Language saved to your profile."), "info")
    return redirect(request, target)


ROUTES = [login_page, login_submit, logout, switch_language]
