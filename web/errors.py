"""How pages show errors.

- not signed in -> 303 to /login?next=… (htmx: HX-Redirect, so the whole page navigates)
- PermissionDenied -> the 403 page; NotFound -> the 404 page; RateLimited -> 429
- any other DomainError -> 422: a fragment for htmx, the full page with the message otherwise

htmx error fragments go to the element the request targeted when that element is a form's result
area (its id ends in "-result"); otherwise they are re-targeted to the page's flash area.
"""
from __future__ import annotations

from urllib.parse import quote, urlsplit

from litestar import Request, Response
from litestar.enums import MediaType
from litestar.exceptions import HTTPException

from server.auth.middleware import check_csrf
from server.core.errors import AuthenticationRequired, DomainError, RateLimited
from server.core.i18n import gettext_for
from web.access import login_url, page_actor, request_language, safe_next
from web.messages import error_message
from web.nav import N_
from web.templating import is_htmx, render_now

TITLES = {
    400: N_("Bad request"),
    401: N_("Please sign in"),
    403: N_("Access denied"),
    404: N_("Page not found"),
    405: N_("Not allowed"),
    409: N_("Conflict"),
    422: N_("Please check your input"),
    429: N_("Too many attempts"),
    500: N_("Something went wrong"),
}

HTTP_MESSAGES = {
    400: N_("The request could not be understood. Check the address or the form and try again."),
    404: N_("There is no page at this address."),
    405: N_("This page cannot be used that way."),
}


def _htmx_headers(request: Request) -> dict[str, str]:
    target = request.headers.get("hx-target", "")
    if target.endswith("-result"):
        return {}
    return {"HX-Retarget": "#flashes", "HX-Reswap": "innerHTML"}


def _login_redirect(request: Request) -> Response:
    if is_htmx(request):
        page = urlsplit(request.headers.get("hx-current-url", ""))
        here = safe_next(page.path + (f"?{page.query}" if page.query else ""))
        return Response(b"", status_code=401, headers={"HX-Redirect": f"/login?next={quote(here, safe='')}"},
                        media_type=MediaType.TEXT)
    return Response(b"", status_code=303, headers={"Location": login_url(request)}, media_type=MediaType.TEXT)


def error_response(request: Request, status: int, message: str, *, headers: dict | None = None) -> Response:
    context = {"status": status, "title": TITLES.get(status, TITLES[422 if status < 500 else 500]),
               "message": message}
    if is_htmx(request):
        return render_now(request, "errors/_fragment.html", context, status=status,
                          headers={**_htmx_headers(request), **(headers or {})})
    return render_now(request, "errors/page.html", context, status=status, headers=headers)


def render_error(request: Request, exc: DomainError) -> Response:
    if isinstance(exc, AuthenticationRequired):
        return _login_redirect(request)
    status = exc.status if exc.status in (403, 404, 429) else 422
    headers = {"Retry-After": str(max(1, int(exc.retry_after)))} if isinstance(exc, RateLimited) else None
    actor = page_actor(request)
    message = error_message(exc, request_language(request), actor.role if actor else None)
    return error_response(request, status, message, headers=headers)


def render_http_error(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if status == 401:
        return _login_redirect(request)
    message = HTTP_MESSAGES.get(status, TITLES.get(status, TITLES[500]))
    return error_response(request, status, gettext_for(request_language(request)).gettext(message),
                          headers=dict(exc.headers or {}))


async def check_page_csrf(request: Request) -> Response | None:
    """before_request of the page routes: the same CSRF check as the rest of the app
    (server.auth.middleware.check_csrf), answered with a readable 403 page instead of JSON."""
    failed = await check_csrf(request)
    if failed is None:
        return None
    message = error_message(DomainError("", code="csrf_failed"), request_language(request))
    return error_response(request, 403, message)
