"""Catalog: products and SKUs (list, create, edit, CSV import with preview, CSV export) and channel
listings (platform SKU ↔ merchant SKU: filter, match by hand, export).

Thin: server/catalog/service.py and server/catalog/csv_io.py do the work and authorize.
"""
from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from server.catalog import csv_io
from server.catalog import service as catalog
from server.channels import service as channels
from server.core.errors import DomainError, ErrorList, NotFound
from server.core.money import from_minor
from server.inventory import queries as inventory_queries
from web import nav
from web.access import can, request_language, require, translator
from web.messages import error_message
from web.nav import N_
from web.templating import flash, is_htmx, redirect, render
from web.views._common import PAGE_SIZE, form_data, tristate
from web.views._csv_import import MAX_IMPORT_BODY, preview_or_apply

nav.register("catalog", N_("Catalog"), "/catalog", permission="catalog.view", icon="catalog", order=50,
             description=N_("Products, SKUs and how each platform's listings map to them"))

SKU_FORM_FIELDS = ("code", "name", "barcode", "spec", "category", "weight_g", "cost", "list_price", "currency")
# service error fields -> form inputs
_FIELD_MAP = {"weightG": "weight_g", "cost_minor": "cost", "list_price_minor": "list_price"}


def _ids(values: list[str] | None) -> list[int] | None:
    out = [int(v) for v in (values or []) if str(v).isdigit() and len(str(v)) < 19]
    return out or None


def _errors(exc: DomainError, lang: str) -> dict[str, str]:
    errors = exc.errors if isinstance(exc, ErrorList) and exc.errors else [exc]
    out: dict[str, str] = {}
    for e in errors:
        out.setdefault(_FIELD_MAP.get(e.field or "", e.field or "_form"), error_message(e, lang))
    return out


def _csv_response(chunks, filename: str) -> Stream:
    return Stream(content=chunks, media_type="text/csv; charset=utf-8",
                  headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# -- SKUs -------------------------------------------------------------------------------------------

async def _sku_list_context(request: Request, q: str, category: str, active: str, after: str | None) -> dict:
    actor = require(request, "catalog.view")
    page = await catalog.list_skus(actor, first=PAGE_SIZE, after=after or None, search=q.strip(),
                                   category=category, active=tristate(active))
    return {"page": page, "filters": {"q": q, "category": category, "active": active},
            "can_manage": can(request, "catalog.manage")}


@get("/catalog", name="catalog")
async def catalog_index(request: Request, q: FromQuery[str] = "", category: FromQuery[str] = "",
                        active: FromQuery[str] = "", after: FromQuery[str | None] = None) -> Response:
    context = await _sku_list_context(request, q, category, active, after)
    if is_htmx(request):
        return await render(request, "catalog/_rows.html" if after else "catalog/_list.html", context)
    actor = require(request, "catalog.view")
    context.update({"nav_key": "catalog", "tab": "skus", "categories": await catalog.sku_categories(actor)})
    return await render(request, "catalog/index.html", context)


@get("/catalog/export.csv", name="catalog_export")
async def catalog_export(request: Request, q: FromQuery[str] = "", category: FromQuery[str] = "",
                         active: FromQuery[str] = "", ids: FromQuery[list[str] | None] = None) -> Stream:
    actor = require(request, "catalog.view")
    chunks = csv_io.export_skus_csv(actor, search=q.strip(), category=category, active=tristate(active),
                                    ids=_ids(ids))
    return _csv_response(chunks, "skus.csv")


def _sku_form(sku: dict) -> dict:
    cur = sku["currency"].strip()
    return {"code": sku["code"], "name": sku["name"], "barcode": sku["barcode"], "spec": sku["spec"],
            "category": sku["category"], "weight_g": sku["weight_g"], "currency": cur,
            "cost": from_minor(sku["cost_minor"], cur), "list_price": from_minor(sku["list_price_minor"], cur),
            "active": sku["active"]}


async def _sku_page(request: Request, template_ctx: dict, status: int = 200) -> Response:
    actor = require(request, "catalog.view")
    template_ctx.setdefault("categories", await catalog.sku_categories(actor))
    template_ctx.update({"nav_key": "catalog", "can_manage": can(request, "catalog.manage")})
    if is_htmx(request):
        return await render(request, "catalog/_sku_form.html", template_ctx, status=status)
    return await render(request, "catalog/sku.html", template_ctx, status=status)


@get("/catalog/skus/new", name="sku_new")
async def sku_new(request: Request) -> Response:
    require(request, "catalog.manage")
    return await _sku_page(request, {"sku": None, "form": {"currency": "CNY"}, "errors": {}})


@post("/catalog/skus", name="sku_create")
async def sku_create(request: Request) -> Response:
    actor = require(request, "catalog.manage")
    data = await form_data(request)
    _ = translator(request)
    payload = {k: data.get(k, "") for k in SKU_FORM_FIELDS}
    try:
        sku = await catalog.create_sku(actor, payload)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        return await _sku_page(request, {"sku": None, "form": data,
                                         "errors": _errors(exc, request_language(request))}, 422)
    flash(request, _("SKU %(code)s created.") % {"code": sku["code"]})
    return redirect(request, f"/catalog/skus/{sku['id']}")


@get("/catalog/skus/{sku_id:int}", name="sku_edit")
async def sku_edit(request: Request, sku_id: FromPath[int]) -> Response:
    actor = require(request, "catalog.view")
    sku = await catalog.get_sku(actor, sku_id)
    extra: dict = {"components": None, "sku_listings": None}
    if can(request, "inventory.view"):  # read-only panels: what a kit is made of, where the SKU is listed
        extra["components"] = await inventory_queries.kit_components(actor, sku_id) if sku["is_kit"] else None
        extra["sku_listings"] = await inventory_queries.listings_for_sku(actor, sku_id)
    return await _sku_page(request, {"sku": sku, "form": _sku_form(sku), "errors": {}, **extra})


@post("/catalog/skus/{sku_id:int}", name="sku_update")
async def sku_update(request: Request, sku_id: FromPath[int]) -> Response:
    actor = require(request, "catalog.manage")
    data = await form_data(request)
    _ = translator(request)
    sku = await catalog.get_sku(actor, sku_id)
    payload = {k: data.get(k, "") for k in SKU_FORM_FIELDS}
    payload["active"] = data.get("active") == "1"
    # empty text fields clear them; empty numbers mean zero (the form always shows them)
    for key in ("weight_g", "cost", "list_price"):
        payload[key] = payload[key] or "0"
    try:
        await catalog.update_sku(actor, sku_id, payload)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        return await _sku_page(request, {"sku": sku, "form": {**data, "active": data.get("active") == "1"},
                                         "errors": _errors(exc, request_language(request))}, 422)
    flash(request, _("Changes saved."))
    return redirect(request, f"/catalog/skus/{sku_id}")


@get("/catalog/sku-options", name="sku_options")
async def sku_options(request: Request, q: FromQuery[str] = "", sku: FromQuery[str] = "") -> Response:
    """<option>s for a SKU code picker (datalist), searched by code, name or barcode."""
    actor = require(request, "catalog.view")
    q = q or sku
    page = await catalog.list_skus(actor, first=20, search=q.strip()) if q.strip() else None
    return await render(request, "catalog/_sku_options.html", {"skus": page.items if page else []})


# -- CSV import -------------------------------------------------------------------------------------

@get("/catalog/import", name="catalog_import")
async def catalog_import(request: Request) -> Response:
    require(request, "catalog.manage")
    return await render(request, "catalog/import.html", {"nav_key": "catalog", "tab": "import", "mode": "all_or_nothing"})


@post("/catalog/import", name="catalog_import_post", request_max_body_size=MAX_IMPORT_BODY)
async def catalog_import_post(request: Request) -> Response:
    """step=preview: read the file and show what would happen, every bad row by line; step=apply:
    import it in the chosen mode (the previewed file travels back in a hidden field)."""
    actor = require(request, "catalog.manage")
    context: dict = {"nav_key": "catalog", "tab": "import"}
    status = await preview_or_apply(request, context, lambda data: csv_io.preview_sku_import(actor, data),
                                    lambda data, mode: csv_io.apply_sku_import(actor, data, mode))
    template = "catalog/_import_result.html" if is_htmx(request) else "catalog/import.html"
    return await render(request, template, context, status=status)


# -- listings -------------------------------------------------------------------------------------

async def _listing_context(request: Request, channel: str, unmatched: str, q: str, after: str | None) -> dict:
    actor = require(request, "catalog.view")
    channel_id = int(channel) if channel.isdigit() else None
    page = await catalog.list_listings(actor, channel_id=channel_id, unmatched=tristate(unmatched),
                                       search=q.strip(), first=PAGE_SIZE, after=after or None)
    return {"page": page, "filters": {"channel": channel, "unmatched": unmatched, "q": q},
            "can_manage": can(request, "catalog.manage")}


async def _channel_choices(request: Request) -> list[tuple[int, str]]:
    actor = require(request, "catalog.view")
    if not can(request, "channels.view"):
        return []
    return [(c["id"], c["name"]) for c in await channels.list_channels(actor)]


@get("/listings", name="listings")
async def listings_index(request: Request, channel: FromQuery[str] = "", unmatched: FromQuery[str] = "",
                         q: FromQuery[str] = "", after: FromQuery[str | None] = None) -> Response:
    context = await _listing_context(request, channel, unmatched, q, after)
    if is_htmx(request):
        return await render(request, "catalog/_listing_rows.html" if after else "catalog/_listing_list.html", context)
    context.update({"nav_key": "catalog", "tab": "listings", "channels": await _channel_choices(request)})
    return await render(request, "catalog/listings.html", context)


@get("/listings/export.csv", name="listings_export")
async def listings_export(request: Request, channel: FromQuery[str] = "", unmatched: FromQuery[str] = "",
                          q: FromQuery[str] = "", ids: FromQuery[list[str] | None] = None) -> Stream:
    actor = require(request, "catalog.view")
    chunks = csv_io.export_listings_csv(actor, channel_id=int(channel) if channel.isdigit() else None,
                                        unmatched=tristate(unmatched), search=q.strip(), ids=_ids(ids))
    return _csv_response(chunks, "listings.csv")


@post("/listings/{listing_id:int}/match", name="listing_match")
async def listing_match(request: Request, listing_id: FromPath[int]) -> Response:
    """Match a platform SKU to a merchant SKU (by code); orders waiting on it are released."""
    actor = require(request, "catalog.manage")
    data = await form_data(request)
    _ = translator(request)
    errors: dict[str, str] = {}
    try:
        await catalog.match_listing(actor, listing_id, data.get("sku", ""))
    except DomainError as exc:
        if exc.status == 403 or (exc.status == 404 and exc.field == "listing"):
            raise
        errors = {"sku": error_message(exc, request_language(request))}
    page = await catalog.list_listings(actor, listing_id=listing_id, first=1)
    if not page.items:
        raise NotFound("listing not found", field="listing")
    if is_htmx(request):
        return await render(request, "catalog/_listing_row.html", {
            "item": page.items[0], "can_manage": True, "errors": errors, "just_saved": not errors, "sku_typed": data.get("sku", "")},
            status=422 if errors else 200)
    if errors:
        flash(request, errors["sku"], "error")
    else:
        flash(request, _("Listing matched to %(code)s.") % {"code": page.items[0]["sku_code"]})
    return redirect(request, "/listings?unmatched=1")


ROUTES = [catalog_index, catalog_export, sku_new, sku_create, sku_edit, sku_update, sku_options, catalog_import,
          catalog_import_post, listings_index, listings_export, listing_match]
