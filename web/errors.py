"""How pages show errors: a 422 fragment for htmx, a full page otherwise."""
from __future__ import annotations

from litestar import Request, Response
from litestar.exceptions import HTTPException

from server.core.errors import DomainError


def render_error(request: Request, exc: DomainError) -> Response:
    return Response({"errors": [exc.as_dict()]}, status_code=exc.status)


def render_http_error(request: Request, exc: HTTPException) -> Response:
    return Response({"errors": [{"code": "http_error", "message": exc.detail}]}, status_code=exc.status_code)
