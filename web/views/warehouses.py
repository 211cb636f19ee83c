"""Warehouses: where stock lives, which one is preferred (priority), its address (the service parses
the region and coordinates), whether it is active, and which channels it may serve."""
from __future__ import annotations

import csv
import io

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from server.auth import policy
from server.core import clock
from server.core.actor import Actor
from server.core.errors import DomainError, NotFound
from server.inventory import queries
from server.inventory import service as inventory
from server.inventory.warehouses import ADDRESS_FIELDS
from web import nav
from web.access import require, translator
from web.nav import N_
from web.templating import flash, is_htmx, redirect, render
from web.views._common import PAGE_SIZE, tristate
from web.views.inventory import form_errors

nav.register("warehouses", N_("Warehouses"), "/warehouses", permission="inventory.manage", icon="building",
             order=40, section="admin", description=N_("Warehouses, their addresses, priority and channels"))

FIELD_MAP = {"address.countryCode": "country_code", "address": "address", "channel": "channels"}


def _filters(q: str, active: str) -> dict:
    return {"q": q.strip(), "active": active if active in ("1", "0") else ""}


async def _list_context(request: Request, filters: dict, after: str | None) -> dict:
    actor = require(request, "inventory.view")
    page = await queries.warehouses_page(actor, search=filters["q"], active=tristate(filters["active"]),
                                         first=PAGE_SIZE, after=after or None)
    return {"page": page, "filters": filters, "channel_names": await _channel_names(actor)}


async def _channel_names(actor: Actor) -> dict[int, str]:
    return {c["id"]: c["name"] for c in await queries.channel_choices(actor)}


async def _get(actor: Actor, warehouse_id: int) -> dict:
    """One warehouse of the actor's merchant by id (another merchant's: 404)."""
    page = await queries.warehouses_page(actor, ids=[warehouse_id], first=1)
    if not page.items:
        raise NotFound("warehouse not found", code="not_found", field="id")
    return page.items[0]


@get("/warehouses", name="warehouses")
async def warehouses_index(request: Request, q: FromQuery[str] = "", active: FromQuery[str] = "",
                           after: FromQuery[str | None] = None) -> Response:
    context = await _list_context(request, _filters(q, active), after)
    if is_htmx(request):
        return await render(request, "warehouses/_rows.html" if after else "warehouses/_list.html", context)
    context["nav_key"] = "warehouses"
    return await render(request, "warehouses/index.html", context)


@get("/warehouses/export.csv", name="warehouses_export")
async def warehouses_export(request: Request, q: FromQuery[str] = "", active: FromQuery[str] = "",
                            ids: FromQuery[list[int] | None] = None) -> Response:
    actor = require(request, "inventory.view")
    filters = _filters(q, active)
    names = await _channel_names(actor)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["code", "name", "priority", "active", *ADDRESS_FIELDS, "region_code", "latitude", "longitude",
                     "channels", "skus_stocked", "units_on_hand"])
    after = None
    while True:
        page = await queries.warehouses_page(actor, search=filters["q"], active=tristate(filters["active"]),
                                             ids=ids or None, first=500, after=after)
        for w in page.items:
            served = "all" if w["serves_all_channels"] else "; ".join(names.get(c, str(c)) for c in w["channel_ids"])
            writer.writerow([w["code"], w["name"], w["priority"], "yes" if w["active"] else "no",
                             *[w[k] for k in ADDRESS_FIELDS], w["region_code"],
                             "" if w["latitude"] is None else w["latitude"],
                             "" if w["longitude"] is None else w["longitude"], served, w["skus_stocked"],
                             w["units_on_hand"]])
        if not page.has_next:
            break
        after = page.end_cursor
    name = f"warehouses-{clock.now():%Y%m%d-%H%M}.csv"
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


async def _form_context(actor: Actor) -> dict:
    return {"channels": await queries.channel_choices(actor),
            "can_pick_channels": policy.can(actor, "channels.view")}


async def _read_form(request: Request, actor: Actor) -> tuple[dict, dict]:
    """(the form as typed, for re-showing it; the service input)."""
    form = await request.form()
    typed = {k: str(v).strip() for k, v in form.items() if k not in ("_csrf", "channels")}
    typed["channels"] = [str(v) for v in form.getall("channels", [])]
    typed["active"] = "1" if form.get("active") else ""
    data: dict = {"code": typed.get("code", ""), "name": typed.get("name", ""),
                  "priority": typed.get("priority") or 0, "active": bool(form.get("active")),
                  "address": {k: typed.get(k, "") for k in ADDRESS_FIELDS}}
    if policy.can(actor, "channels.view"):
        serves_all = typed.get("serves", "all") != "some"
        data["serves_all_channels"] = serves_all
        data["channels"] = [] if serves_all else typed["channels"]
    return typed, data


def _as_form(w: dict) -> dict:
    return {**{k: w[k] for k in ("code", "name", *ADDRESS_FIELDS)}, "priority": str(w["priority"]),
            "active": "1" if w["active"] else "", "serves": "all" if w["serves_all_channels"] else "some",
            "channels": [str(c) for c in w["channel_ids"]]}


@get("/warehouses/new", name="warehouse_new")
async def warehouse_new(request: Request) -> Response:
    actor = require(request, "inventory.manage")
    context = await _form_context(actor)
    context.update({"nav_key": "warehouses", "form": {"active": "1", "serves": "all", "country_code": "CN",
                                                      "priority": "0", "channels": []}})
    return await render(request, "warehouses/new.html", context)


@post("/warehouses/new", name="warehouse_create")
async def warehouse_create(request: Request) -> Response:
    actor = require(request, "inventory.manage")
    _ = translator(request)
    typed, data = await _read_form(request, actor)
    try:
        created = await inventory.create_warehouse(actor, data)
    except DomainError as exc:
        if exc.status == 403:
            raise
        context = await _form_context(actor)
        context.update({"nav_key": "warehouses", "form": typed,
                        "errors": form_errors(request, exc, typed, FIELD_MAP)})
        template = "warehouses/_form.html" if is_htmx(request) else "warehouses/new.html"
        return await render(request, template, context | {"action": "/warehouses/new"}, status=422)
    flash(request, _("Warehouse %(code)s created.") % {"code": created["code"]})
    return redirect(request, f"/warehouses/{created['id']}")


@get("/warehouses/{warehouse_id:int}", name="warehouse_edit")
async def warehouse_edit(request: Request, warehouse_id: FromPath[int]) -> Response:
    actor = require(request, "inventory.view")
    warehouse = await _get(actor, warehouse_id)
    context = await _form_context(actor)
    context.update({"nav_key": "warehouses", "warehouse": warehouse, "form": _as_form(warehouse),
                    "can_manage": policy.can(actor, "inventory.manage")})
    return await render(request, "warehouses/edit.html", context)


@post("/warehouses/{warehouse_id:int}", name="warehouse_update")
async def warehouse_update(request: Request, warehouse_id: FromPath[int]) -> Response:
    actor = require(request, "inventory.manage")
    _ = translator(request)
    warehouse = await _get(actor, warehouse_id)
    typed, data = await _read_form(request, actor)
    try:
        await inventory.update_warehouse(actor, warehouse["code"], data)
    except DomainError as exc:
        if exc.status == 403:
            raise
        context = await _form_context(actor)
        context.update({"nav_key": "warehouses", "warehouse": warehouse, "form": typed, "can_manage": True,
                        "errors": form_errors(request, exc, typed, FIELD_MAP)})
        template = "warehouses/_form.html" if is_htmx(request) else "warehouses/edit.html"
        return await render(request, template, context | {"action": f"/warehouses/{warehouse_id}"}, status=422)
    flash(request, _("Changes saved."))
    return redirect(request, f"/warehouses/{warehouse_id}")


ROUTES = [warehouses_index, warehouses_export, warehouse_new, warehouse_create, warehouse_edit, warehouse_update]
