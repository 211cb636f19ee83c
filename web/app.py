"""The staff admin's wiring: templates and the page routes of every area.

Areas live in web/views/<area>.py. Each module registers its sidebar entry (web.nav.register) and
lists its handlers in ROUTES; web_routes() imports every module of the package, so a new area is
one new module and nothing else.
"""
from __future__ import annotations

import importlib
import logging
import pkgutil

from litestar import Request, Response, Router
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from server.core.errors import DomainError
from web import views
from web.errors import check_page_csrf, error_response, render_error, render_http_error
from web.templating import WEB_DIR, environment

log = logging.getLogger("oms.web")


def template_config() -> TemplateConfig:
    """Jinja with the i18n extension (per-request language) and the formatting filters; compiles
    the translation catalogs first when a .mo is missing or stale."""
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))


def area_modules() -> list:
    modules = []
    for info in sorted(pkgutil.iter_modules(views.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            modules.append(importlib.import_module(f"{views.__name__}.{info.name}"))
    return modules


def render_unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return render_http_error(request, exc)
    log.exception("unhandled error on a page", extra={"path": request.url.path})
    from web.access import translator  # noqa: PLC0415

    _ = translator(request)
    rid = request.scope.get("state", {}).get("request_id", "")
    message = _("Something went wrong on our side. The request id is %(id)s.") % {"id": rid}
    return error_response(request, 500, message)


def web_routes() -> list:
    handlers = []
    for module in area_modules():
        handlers.extend(getattr(module, "ROUTES", []))
    pages = Router(
        path="/",
        route_handlers=handlers,
        before_request=check_page_csrf,
        exception_handlers={DomainError: render_error, HTTPException: render_http_error,
                            Exception: render_unexpected},
        include_in_schema=False,
    )
    static = create_static_files_router(
        path="/static", directories=[WEB_DIR / "static"], name="static",
        cache_control=CacheControlHeader(max_age=3600, public=True),
    )
    return [pages, static]
