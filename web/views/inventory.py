"""Stock: every SKU with its stock per warehouse, receipts, and one SKU's levels, adjustments,
stocktakes, ledger, reservations and channel listings. Thin: reads come from server.inventory
(queries, stock, fulfilment), writes go through the inventory service, which authorizes."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from server.auth import policy
from server.catalog import service as catalog
from server.core import clock
from server.core.errors import DomainError, ErrorList
from server.inventory import queries
from server.inventory import service as inventory
from web import nav
from web.access import request_language, require, translator
from web.messages import error_message
from web.nav import N_
from web.templating import flash, is_htmx, redirect, render, url_with
from web.views._common import PAGE_SIZE, form_data

nav.register("inventory", N_("Inventory"), "/inventory", permission="inventory.view", icon="stock", order=50,
             description=N_("Stock per SKU and warehouse, receipts, adjustments and stocktakes"))

MOVEMENT_KINDS = {
    "receipt": N_("Receipt"),
    "adjustment": N_("Adjustment"),
    "reservation": N_("Reservation"),
    "release": N_("Release"),
    "shipment": N_("Shipment"),
    "transfer_out": N_("Transfer out"),
    "transfer_in": N_("Transfer in"),
    "return": N_("Return"),
}
EXPORT_LIMIT = 100_000


# -- errors as the form shows them -----------------------------------------------------------------

def form_errors(request: Request, exc: DomainError, values: dict[str, str] | None = None,
                fields: dict[str, str] | None = None) -> dict[str, str]:
    """{form field: translated message} for a service error (every error of an ErrorList).
    `fields` renames service fields to the form's input names; `values` are what was typed."""
    _ = translator(request)
    values, fields = values or {}, fields or {}
    out: dict[str, str] = {}
    for err in (exc.errors if isinstance(exc, ErrorList) else [exc]):
        name = fields.get(err.field or "", err.field or "_form")
        out.setdefault(name, _message(request, _, err, values))
    return out


def _message(request: Request, _: Callable[[str], str], exc: DomainError, values: dict[str, str]) -> str:
    d = exc.details or {}
    if exc.code == "insufficient_stock" and "reserved" in d:
        return _("%(reserved)s of the %(on_hand)s units of %(sku)s on hand at %(warehouse)s are reserved for "
                 "orders: only %(available)s can be removed.") % {
            "reserved": d["reserved"], "on_hand": d["on_hand"], "sku": d["sku"], "warehouse": d["warehouse"],
            "available": d["on_hand"] - d["reserved"]}
    if exc.code == "negative_stock":
        if "on_hand" in d:
            return _("Only %(on_hand)s of %(sku)s are on hand at %(warehouse)s; stock cannot go below zero.") % d
        return _("Stock cannot go below zero.")
    if exc.code == "unknown_sku":
        return _("There is no SKU with the code %(code)s.") % {"code": values.get("sku", "")}
    if exc.code == "unknown_warehouse":
        return _("Choose one of your warehouses.")
    if exc.code == "kit_not_stocked":
        return _("This SKU is a kit: stock its components; the kit's availability follows them.")
    if exc.code == "duplicate_code" and exc.field == "code":
        return _("A warehouse with this code already exists.")
    if exc.code == "invalid" and exc.field == "code":
        return _("Use up to 32 characters, without spaces.")
    if exc.code == "invalid" and exc.field == "priority":
        return _("Enter a whole number.")
    if exc.code == "invalid" and exc.field == "address.countryCode":
        return _("Unknown country: use a two-letter code such as CN.")
    if exc.code == "required" and exc.field == "reason":
        return _("Say why the stock changes (damaged, found, stocktake…).")
    if exc.code == "invalid" and exc.field == "quantity":
        return _("Enter a whole number greater than 0.")
    if exc.code == "invalid" and exc.field == "delta":
        return _("Enter a whole number other than 0 (negative to remove units).")
    if exc.code in ("invalid", "required") and exc.field == "countedQuantity":
        return _("Enter the counted quantity: a whole number, 0 or more.")
    return error_message(exc, request_language(request))


def _int_or_none(value: str) -> int | None:
    value = (value or "").strip()
    return int(value) if value.lstrip("-").isdigit() else None


# -- the stock list -------------------------------------------------------------------------------

def _filters(q: str, warehouse: str, category: str, low: str, out: str) -> dict:
    return {"q": q.strip(), "warehouse": warehouse.strip(), "category": category.strip(), "low": low.strip(),
            "out": "1" if out == "1" else ""}


async def _overview(request: Request, filters: dict, *, after: str | None = None, first: int = PAGE_SIZE,
                    sku_ids: list[int] | None = None):
    actor = require(request, "inventory.view")
    return await queries.stock_overview(
        actor, warehouse=filters["warehouse"] or None, category=filters["category"] or None, search=filters["q"],
        low_stock=_int_or_none(filters["low"]), out_of_stock=filters["out"] == "1", sku_ids=sku_ids,
        first=first, after=after or None)


async def _list_context(request: Request, filters: dict, after: str | None) -> dict:
    actor = require(request, "inventory.view")
    warehouses = await inventory.list_warehouses(actor)
    shown = [w for w in warehouses if w["code"] == filters["warehouse"]] if filters["warehouse"] else \
        [w for w in warehouses if w["active"]]
    return {"page": await _overview(request, filters, after=after), "filters": filters, "warehouses": warehouses,
            "columns": shown, "low_default": 5}


@get("/inventory", name="inventory")
async def inventory_index(request: Request, q: FromQuery[str] = "", warehouse: FromQuery[str] = "",
                          category: FromQuery[str] = "", low: FromQuery[str] = "", out: FromQuery[str] = "",
                          after: FromQuery[str | None] = None) -> Response:
    actor = require(request, "inventory.view")
    context = await _list_context(request, _filters(q, warehouse, category, low, out), after)
    if is_htmx(request):
        return await render(request, "inventory/_rows.html" if after else "inventory/_list.html", context)
    context.update({"nav_key": "inventory", "categories": await queries.categories(actor),
                    "receive": {"warehouse": warehouse}})
    return await render(request, "inventory/index.html", context)


@get("/inventory/export.csv", name="inventory_export")
async def inventory_export(request: Request, q: FromQuery[str] = "", warehouse: FromQuery[str] = "",
                           category: FromQuery[str] = "", low: FromQuery[str] = "", out: FromQuery[str] = "",
                           ids: FromQuery[list[int] | None] = None) -> Response:
    """The SKUs matching the filters (or only the selected `ids`) with totals and per-warehouse
    available, as CSV (UTF-8 with BOM so spreadsheet programs read Chinese names right)."""
    actor = require(request, "inventory.view")
    filters = _filters(q, warehouse, category, low, out)
    warehouses = [w for w in await inventory.list_warehouses(actor)
                  if (w["code"] == filters["warehouse"] if filters["warehouse"] else w["active"])]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["sku", "name", "category", "kit", "on_hand", "reserved", "available", "incoming",
                     *[f"available_{w['code']}" for w in warehouses]])
    after, written = None, 0
    while written < EXPORT_LIMIT:
        page = await _overview(request, filters, after=after, first=500, sku_ids=ids or None)
        for it in page.items:
            per = {w["warehouse_id"]: w for w in it["warehouses"]}
            writer.writerow([it["code"], it["name"], it["category"], "yes" if it["is_kit"] else "",
                             "" if it["is_kit"] else it["on_hand"], "" if it["is_kit"] else it["reserved"],
                             it["available"], "" if it["is_kit"] else it["incoming"],
                             *[per[w["id"]]["available"] if w["id"] in per else 0 for w in warehouses]])
        written += len(page.items)
        if not page.has_next:
            break
        after = page.end_cursor
    name = f"stock-{clock.now():%Y%m%d-%H%M}.csv"
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@post("/inventory/receive", name="inventory_receive")
async def inventory_receive(request: Request) -> Response:
    actor = require(request, "inventory.adjust")
    _ = translator(request)
    data = await form_data(request)
    context: dict = {"receive": data, "warehouses": await inventory.list_warehouses(actor, active=True)}
    status = 200
    try:
        level = await inventory.receive(actor, data.get("warehouse", ""), data.get("sku", ""),
                                        data.get("quantity", ""), data.get("reference", ""))
        context.update(received=level, receive={"warehouse": data.get("warehouse", "")})
    except DomainError as exc:
        if exc.status == 403:
            raise
        context["errors"] = form_errors(request, exc, data)
        status = 422
    if is_htmx(request):
        headers = {"HX-Trigger": "stock-changed"} if status == 200 else None
        return await render(request, "inventory/_receive.html", context, status=status, headers=headers)
    if status == 200:
        level = context["received"]
        flash(request, _("Received %(quantity)s × %(sku)s at %(warehouse)s. Available now: %(available)s.") % {
            "quantity": data.get("quantity"), "sku": level["sku_code"], "warehouse": level["warehouse_code"],
            "available": level["available"]})
        return redirect(request, "/inventory")
    filters = _filters("", "", "", "", "")
    context.update(await _list_context(request, filters, None))
    context.update({"nav_key": "inventory", "categories": await queries.categories(actor), "receive": data})
    return await render(request, "inventory/index.html", context, status=status)


# -- one SKU ----------------------------------------------------------------------------------------

async def _sku(request: Request, sku_id: int) -> dict:
    actor = require(request, "inventory.view")
    return await catalog.get_sku(actor, sku_id)   # another merchant's SKU: NotFound -> 404


async def _levels_context(request: Request, sku: dict) -> dict:
    actor = require(request, "inventory.view")
    avail = await inventory.availability(actor, sku["code"])
    per = {w["warehouse_id"]: w for w in avail["warehouses"]}
    levels = []
    for w in await inventory.list_warehouses(actor):
        entry = per.get(w["id"], {})
        levels.append({"warehouse": w, "on_hand": entry.get("on_hand", 0), "reserved": entry.get("reserved", 0),
                       "available": entry.get("available", 0), "stocked": w["id"] in per})
    incoming = {r["warehouse_id"]: r["incoming"] for r in (await inventory.list_levels(
        actor, sku=sku["code"], first=500)).items} if not avail["kit"] else {}
    for level in levels:
        level["incoming"] = incoming.get(level["warehouse"]["id"], 0)
    return {"sku": sku, "kit": avail["kit"], "levels": levels, "total_available": avail["available"],
            "totals": {k: sum(lv[k] for lv in levels if lv["warehouse"]["active"])
                       for k in ("on_hand", "reserved", "incoming")},
            "can_adjust": policy.can(actor, "inventory.adjust")}


def _movement_filters(warehouse: str, kind: str) -> dict:
    return {"warehouse": warehouse.strip(), "kind": kind if kind in MOVEMENT_KINDS else ""}


async def _movements_context(request: Request, sku: dict, filters: dict, after: str | None) -> dict:
    actor = require(request, "inventory.view")
    page = await inventory.list_movements(actor, sku["code"], warehouse=filters["warehouse"] or None,
                                          kind=filters["kind"] or None, first=PAGE_SIZE, after=after or None)
    return {"sku": sku, "moves": page, "move_filters": filters, "kinds": MOVEMENT_KINDS}


async def _listings(actor, sku: dict) -> tuple[list[dict], bool]:
    """The SKU's channel listings; with channel stock sync (server.inventory.channel_stock), each also
    carries its sellable quantity and push state (last pushed quantity, when, result, error)."""
    listings = await queries.listings_for_sku(actor, sku["id"])
    try:
        from server.inventory import channel_stock  # noqa: PLC0415 - built alongside these pages
    except ImportError:
        return listings, False
    reader = getattr(channel_stock, "list_listings", None)
    if reader is None or not listings:
        return listings, False
    by_channel: dict[int, list[int]] = {}
    for item in listings:
        by_channel.setdefault(item["channel_id"], []).append(item["id"])
    pushed: dict[int, dict] = {}
    try:
        for channel_id, ids in by_channel.items():
            page = await reader(actor, channel_id, listing_ids=ids, first=len(ids))
            pushed.update({it["id"]: it for it in page.items})
    except (DomainError, TypeError):
        return listings, False
    keys = ("sellable", "available", "last_pushed_qty", "last_pushed_at", "last_result", "last_error", "state")
    return [item | {k: pushed.get(item["id"], {}).get(k) for k in keys} for item in listings], True


@get("/inventory/skus/{sku_id:int}", name="inventory_sku")
async def inventory_sku(request: Request, sku_id: FromPath[int], warehouse: FromQuery[str] = "",
                        kind: FromQuery[str] = "") -> Response:
    actor = require(request, "inventory.view")
    sku = await _sku(request, sku_id)
    context = await _levels_context(request, sku)
    context.update(await _movements_context(request, sku, _movement_filters(warehouse, kind), None))
    listings, pushed = await _listings(actor, sku)
    reservations = await inventory.list_reservations(actor, sku=sku["code"], first=100)
    context.update({
        "nav_key": "inventory", "listings": listings, "listings_pushed": pushed, "reservations": reservations,
        "components": await queries.kit_components(actor, sku["id"]) if context["kit"] else [],
        "can_orders": policy.can(actor, "orders.view"),
    })
    return await render(request, "inventory/sku.html", context)


@get("/inventory/skus/{sku_id:int}/movements", name="inventory_sku_movements")
async def inventory_sku_movements(request: Request, sku_id: FromPath[int], warehouse: FromQuery[str] = "",
                                  kind: FromQuery[str] = "", after: FromQuery[str | None] = None) -> Response:
    sku = await _sku(request, sku_id)
    filters = _movement_filters(warehouse, kind)
    if not is_htmx(request):
        return redirect(request, url_with(f"/inventory/skus/{sku_id}", filters))
    context = await _movements_context(request, sku, filters, after)
    return await render(request, "inventory/_movement_rows.html" if after else "inventory/_movements.html", context)


@post("/inventory/skus/{sku_id:int}/adjust", name="inventory_sku_adjust")
async def inventory_sku_adjust(request: Request, sku_id: FromPath[int]) -> Response:
    """mode=delta (delta, reason) or mode=count (counted, reason) for one warehouse."""
    actor = require(request, "inventory.adjust")
    _ = translator(request)
    sku = await _sku(request, sku_id)
    data = await form_data(request)
    mode = "count" if data.get("mode") == "count" else "delta"
    warehouse_ref = data.get("warehouse", "")
    status, errors, done = 200, {}, None
    try:
        if mode == "count":
            counted = data.get("counted", "")
            level = await inventory.adjust(actor, warehouse_ref, sku["code"], reason=data.get("reason", ""),
                                           counted_quantity=int(counted) if counted.lstrip("-").isdigit() else
                                           (counted or None))
        else:
            delta = data.get("delta", "")
            level = await inventory.adjust(actor, warehouse_ref, sku["code"], reason=data.get("reason", ""),
                                           delta=int(delta) if delta.lstrip("-").isdigit() else (delta or None))
        done = {"warehouse_id": level["warehouse_id"], "delta": level["delta"], "mode": mode,
                "on_hand": level["on_hand"], "available": level["available"], "warehouse": level["warehouse_code"]}
    except DomainError as exc:
        if exc.status in (403, 404) and exc.code not in ("unknown_warehouse", "no_stock_level"):
            raise
        field_map = {"countedQuantity": "counted", "delta": "counted"} if mode == "count" else \
            {"countedQuantity": "delta"}
        errors = form_errors(request, exc, data, field_map)
        status = 422
    if is_htmx(request):
        context = await _levels_context(request, sku)
        context.update({"done": done, "errors": errors, "form": data, "form_mode": mode,
                        "form_warehouse": warehouse_ref})
        headers = {"HX-Trigger": "stock-changed"} if status == 200 else None
        return await render(request, "inventory/_levels.html", context, status=status, headers=headers)
    if status == 200:
        flash(request, _("Stock of %(sku)s at %(warehouse)s changed by %(delta)s; %(on_hand)s on hand now.") % {
            "sku": sku["code"], "warehouse": done["warehouse"], "delta": f"{done['delta']:+d}",
            "on_hand": done["on_hand"]})
        return redirect(request, f"/inventory/skus/{sku_id}")
    context = await _levels_context(request, sku)
    context.update(await _movements_context(request, sku, _movement_filters("", ""), None))
    listings, pushed = await _listings(actor, sku)
    context.update({"nav_key": "inventory", "errors": errors, "form": data, "form_mode": mode,
                    "form_warehouse": warehouse_ref, "listings": listings, "listings_pushed": pushed,
                    "reservations": await inventory.list_reservations(actor, sku=sku["code"], first=100),
                    "components": await queries.kit_components(actor, sku["id"]) if context["kit"] else [],
                    "can_orders": policy.can(actor, "orders.view")})
    return await render(request, "inventory/sku.html", context, status=status)


ROUTES = [inventory_index, inventory_export, inventory_receive, inventory_sku, inventory_sku_movements,
          inventory_sku_adjust]
