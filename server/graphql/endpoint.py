"""The /graphql endpoint: strawberry's Litestar controller with the house's HTTP rules.

- POST only, JSON only, one operation per request (no batching, no subscriptions over websockets).
- Who is calling comes from AuthMiddleware (`Authorization: Bearer <key>` or the staff session
  cookie). Without a valid caller: 401 with `WWW-Authenticate: Bearer` and a GraphQL-shaped JSON body.
- Cookie sessions must echo the CSRF token (`X-CSRF-Token`), as everywhere else; bearer keys need not.
- A rate limit per key/user (limits.check_rate): 429 with `Retry-After`.
- Transport errors (malformed JSON, wrong content type, no query) are 400 with a JSON body whose
  message says what to fix; strawberry's own answers are plain text.
- GET serves GraphiQL in dev only; queries over GET are not offered (a GET must never act on a
  cookie's behalf), so GET answers 405 otherwise.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from cross_web import HTTPException
from litestar import MediaType, Request, Response, get, post
from litestar.status_codes import HTTP_200_OK
from strawberry.http import GraphQLRequestData
from strawberry.litestar import make_graphql_controller
from strawberry.litestar.controller import GraphQLController

from server.auth.middleware import CSRF_HEADER, check_csrf
from server.graphql import limits
from server.graphql.context import context_getter
from server.graphql.schema import build_schema
from server.settings import get_settings

log = logging.getLogger("oms.graphql")

PATH = "/graphql"


def error_response(status: int, message: str, code: str, headers: dict[str, str] | None = None,
                   **extensions: Any) -> Response:
    """A GraphQL-shaped error body for answers given before (or instead of) execution."""
    return Response({"errors": [{"message": message, "extensions": {"code": code, **extensions}}]},
                    status_code=status, headers=headers or {}, media_type=MediaType.JSON)


def graphiql_enabled() -> bool:
    return get_settings().env == "dev"


async def gate(request: Request) -> Response | None:
    """before_request for /graphql: authentication, CSRF for cookie sessions, rate limit.

    A controller-level before_request replaces the app's (Litestar runs the closest layer's hook
    only), so the app's CSRF check is called from here, after authentication: a request without
    credentials learns that it needs them (401) rather than that a CSRF token is missing.
    """
    if request.method != "POST":
        return None
    state = request.scope["state"]
    actor = state.get("actor")
    if actor is None:
        if state.get("auth") == "invalid_key":
            return error_response(401, "the API key is not valid: it is unknown, mistyped or revoked",
                                  "unauthenticated",
                                  {"WWW-Authenticate": 'Bearer realm="oms", error="invalid_token"'})
        return error_response(401, "authentication required: send an API key as `Authorization: Bearer <key>` "
                                   "(or sign in to the admin for a session)", "unauthenticated",
                              {"WWW-Authenticate": 'Bearer realm="oms"'})
    if state.get("auth") == "session":
        refused = await check_csrf(request)
        if refused is not None:
            return error_response(403, f"signed-in requests must send the `{CSRF_HEADER}` header with the "
                                       "value of the `oms_csrf` cookie", "csrf_failed")
    identity = f"key:{actor.api_key_id}" if actor.api_key_id is not None else f"user:{actor.user_id}"
    verdict = await limits.check_rate(identity)
    if verdict is not None:
        state["rate_limit"] = verdict
        if not verdict.allowed:
            return error_response(
                429, f"rate limit exceeded: {verdict.limit} requests per minute; retry in {verdict.retry_after}s",
                "rate_limited", {"Retry-After": str(verdict.retry_after), **_rate_headers(verdict)},
                retryAfter=verdict.retry_after)
    return None


def _rate_headers(verdict: limits.RateVerdict) -> dict[str, str]:
    return {"X-RateLimit-Limit": str(verdict.limit), "X-RateLimit-Remaining": str(verdict.remaining)}


class OMSGraphQLController(GraphQLController):
    """Overrides of strawberry's controller; the schema and context come from make_graphql_controller."""

    before_request = staticmethod(gate)
    allow_queries_via_get = False
    websocket_endpoint = None  # no subscriptions yet; a websocket would bypass the HTTP gate

    @get(status_code=HTTP_200_OK, include_in_schema=False)
    async def handle_http_get(self, request: Request) -> Response:
        accepts_html = "text/html" in request.headers.get("accept", "")
        if graphiql_enabled() and accepts_html and "query" not in request.query_params:
            return await self.render_graphql_ide(request)
        return error_response(405, "send GraphQL operations as POST with a JSON body "
                                   '({"query": "...", "variables": {...}}); GET is not accepted',
                              "method_not_allowed", {"Allow": "POST"})

    @post(status_code=HTTP_200_OK)
    async def handle_http_post(self, request: Request, context: Any, root_value: Any,
                               response: Response) -> Response:
        # strawberry keeps the sub-response on the controller instance (shared by concurrent
        # requests); this controller keeps it on the request instead
        request.scope["state"]["graphql_sub_response"] = response
        verdict = request.scope["state"].get("rate_limit")
        if verdict is not None:
            response.headers.update(_rate_headers(verdict))
        return await self.execute_request(request=request, context=context, root_value=root_value)

    async def get_sub_response(self, request: Request) -> Response:
        return request.scope["state"]["graphql_sub_response"]

    async def execute_request(self, request: Request, context: Any, root_value: Any) -> Response:
        try:
            return await self.run(request, context=context, root_value=root_value)
        except HTTPException as exc:
            return error_response(exc.status_code, _readable(exc.reason), "bad_request")

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HTTPException(400, f"the request body is not valid JSON ({exc})") from exc

    async def parse_http_body(self, request: Any) -> GraphQLRequestData:
        if request.method == "POST" and "application/json" in (request.content_type or ""):
            body = await request.get_body()
            data = self.parse_json(body) if body.strip() else None
            if isinstance(data, list):
                raise HTTPException(400, "batched operations are not accepted; send one JSON object per request")
            if not isinstance(data, dict):
                raise HTTPException(400, 'the request body must be a JSON object such as '
                                         '{"query": "{ viewer { role } }", "variables": {}}')
        return await super().parse_http_body(request)

    async def render_graphql_ide(self, request: Request) -> Response:
        # the staff session's CSRF cookie is HttpOnly: hand its value to GraphiQL, under our header name
        token = json.dumps(request.scope["state"].get("csrf_token", ""))
        html = (self.graphql_ide_html.replace('Cookies.get("csrftoken")', token)
                .replace('"x-csrftoken"', json.dumps(CSRF_HEADER)))
        return Response(html, media_type=MediaType.HTML)


_READABLE = {
    "Unsupported content type": "send the operation as JSON with `Content-Type: application/json`",
    "No GraphQL query found in the request": 'the JSON body has no "query"; send {"query": "...", '
                                             '"variables": {...}}',
    "Batching is not enabled": "batched operations are not accepted; send one JSON object per request",
}


def _readable(reason: str) -> str:
    return _READABLE.get(reason, reason)


def graphql_routes() -> list:
    """The route handlers to mount (create_app includes them)."""
    base = make_graphql_controller(build_schema(), path=PATH, graphql_ide="graphiql", allow_queries_via_get=False,
                                   context_getter=context_getter)
    controller = type("GraphQLEndpoint", (OMSGraphQLController, base), {})
    return [controller]
