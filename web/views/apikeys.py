"""API keys for partners' systems: create (the full key is shown once), list, revoke."""
from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from server.auth import apikeys
from server.core.errors import DomainError
from web import nav
from web.access import request_language, require, translator
from web.messages import error_message
from web.nav import N_
from web.templating import flash, is_htmx, redirect, render
from web.views._common import PAGE_SIZE, field_errors, form_data, grantable_roles

nav.register("api_keys", N_("API keys"), "/api-keys", permission="apikeys.manage", icon="key",
             order=20, section="admin", description=N_("Keys for partner systems using the GraphQL API"))


async def _list_context(request: Request, after: str | None) -> dict:
    actor = require(request, "apikeys.manage")
    page = await apikeys.list_keys(actor, first=PAGE_SIZE, after=after or None)
    return {"page": page, "grantable": grantable_roles(actor)}


@get("/api-keys", name="api_keys")
async def keys_index(request: Request, after: FromQuery[str | None] = None) -> Response:
    context = await _list_context(request, after)
    if is_htmx(request):
        return await render(request, "apikeys/_rows.html" if after else "apikeys/_list.html", context)
    context.update({"nav_key": "api_keys", "form": {"role": "partner_readonly"}, "open_create": not context["page"].items})
    return await render(request, "apikeys/index.html", context)


@post("/api-keys", name="api_keys_create")
async def keys_create(request: Request) -> Response:
    actor = require(request, "apikeys.manage")
    data = await form_data(request)
    context: dict = {"form": data, "grantable": grantable_roles(actor)}
    status = 200
    try:
        record, key = await apikeys.create(actor, name=data.get("name", ""), role=data.get("role", ""))
        context.update({"created": record, "full_key": key, "form": {"role": data.get("role", "")}})
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        context["errors"] = field_errors(exc, error_message(exc, request_language(request)))
        status = 422
    if is_htmx(request):
        headers = {"HX-Trigger": "keys-changed"} if status == 200 else None
        return await render(request, "apikeys/_create.html", context, status=status, headers=headers)
    context.update(await _list_context(request, None))
    context["nav_key"] = "api_keys"
    return await render(request, "apikeys/index.html", context, status=status)


@post("/api-keys/{key_id:int}/revoke", name="api_key_revoke")
async def key_revoke(request: Request, key_id: FromPath[int]) -> Response:
    actor = require(request, "apikeys.manage")
    _ = translator(request)
    record = await apikeys.revoke(actor, key_id)
    if is_htmx(request):
        return await render(request, "apikeys/_row.html", {"key": record, "just_saved": True})
    flash(request, _("API key %(name)s revoked. Requests using it are refused from now on.")
          % {"name": record["name"]})
    return redirect(request, "/api-keys")


ROUTES = [keys_index, keys_create, key_revoke]
