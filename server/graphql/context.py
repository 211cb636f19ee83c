"""The GraphQL context: who is calling, resolved once per request by the auth middleware."""
from __future__ import annotations

from typing import Any

from litestar import Request
from strawberry.types import Info

from server.core.actor import Actor
from server.core.errors import AuthenticationRequired


async def context_getter(request: Request) -> dict[str, Any]:
    """Merged by strawberry's Litestar integration with its own `request` and `response` keys."""
    state = request.scope.get("state", {})
    return {"actor": state.get("actor"), "auth": state.get("auth"), "request_id": state.get("request_id", "")}


def get_actor(info: Info) -> Actor:
    """The calling staff user or API key. The endpoint answers 401 before execution when there is
    none; this check keeps a resolver safe even if it is ever executed some other way."""
    actor = info.context.get("actor") if isinstance(info.context, dict) else None
    if actor is None:
        raise AuthenticationRequired("send an API key as `Authorization: Bearer <key>` or sign in")
    return actor
