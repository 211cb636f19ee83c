"""create_app(): the Litestar application — pages, GraphQL, webhooks, health — over one service layer."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from litestar import Litestar, Request, Response
from litestar.config.compression import CompressionConfig
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware

from server.auth.middleware import AuthMiddleware, check_csrf
from server.core import db, http, queue
from server.core import log as oms_log
from server.core.errors import DomainError, RateLimited
from server.health import healthz, readyz
from server.settings import get_settings

log = logging.getLogger("oms.app")


@contextlib.asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    # Close the DB pool only if this lifespan opened it: a second app in the same process (the
    # tests' live server next to the in-process app) shares the pool and must not close it under
    # the first. The HTTP client and arq pool are recreated on next use, so closing them is safe.
    owns_pool = db.DB.pool is None
    await db.start_pool()
    try:
        yield
    finally:
        await http.close()
        await queue.close()
        if owns_pool:
            await db.close_pool()


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") or request.headers.get("hx-request") == "true"


def domain_error_handler(request: Request, exc: DomainError) -> Response:
    if wants_html(request) and not request.url.path.startswith(("/graphql", "/webhooks")):
        from web.errors import render_error  # noqa: PLC0415 - pages render errors their way

        return render_error(request, exc)
    headers = {"Retry-After": str(int(exc.retry_after) or 1)} if isinstance(exc, RateLimited) else {}
    return Response({"errors": [exc.as_dict()]}, status_code=exc.status, headers=headers)


def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        if wants_html(request):
            from web.errors import render_http_error  # noqa: PLC0415

            return render_http_error(request, exc)
        return Response({"errors": [{"code": "http_error", "message": exc.detail}]},
                        status_code=exc.status_code, headers=exc.headers)
    log.exception("unhandled error", extra={"path": request.url.path})
    return Response({"errors": [{"code": "internal_error",
                                 "message": "something went wrong on our side; the request id is in X-Request-ID"}]},
                    status_code=500)


def create_app() -> Litestar:
    s = get_settings()
    oms_log.setup(s.log_level, s.log_json)
    from server.graphql.endpoint import graphql_routes  # noqa: PLC0415 - surfaces import services
    from server.webhooks import webhook_routes  # noqa: PLC0415
    from web.app import template_config, web_routes  # noqa: PLC0415

    handlers = [healthz, readyz, *graphql_routes(), *webhook_routes(), *web_routes()]
    lifespans = [lifespan]
    if s.sandbox:
        from server.channels.sandbox.app import sandbox_routes, ticker  # noqa: PLC0415

        handlers.extend(sandbox_routes())
        lifespans.append(lambda app: ticker(s.sandbox_tick_seconds))
    return Litestar(
        route_handlers=handlers,
        lifespan=lifespans,
        middleware=[DefineMiddleware(AuthMiddleware)],
        before_request=check_csrf,
        exception_handlers={DomainError: domain_error_handler, Exception: unexpected_error_handler},
        template_config=template_config(),
        compression_config=CompressionConfig(backend="gzip", minimum_size=1024),
        debug=False,
        openapi_config=None,
    )
