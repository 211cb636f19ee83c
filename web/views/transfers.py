"""Transfers (调拨): list (filters, keyset pages, bulk selection, CSV export), the create form, the
detail page with ship / receive (partial quantities) / cancel, and suggestions with one-click create.

Thin: server/inventory/transfers.py and transfer_suggestions.py do the work and authorize.
"""
from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from server.core.errors import DomainError, ErrorList
from server.inventory import transfer_suggestions, transfers, warehouses
from server.inventory.transfers import STATUSES
from web import nav
from web.access import can, request_language, require, translator
from web.messages import error_message
from web.nav import N_
from web.templating import flash, is_htmx, redirect, render
from web.views._common import PAGE_SIZE, form_data

nav.register("transfers", N_("Transfers"), "/transfers", permission="inventory.view", icon="truck", order=55,
             description=N_("Move stock between warehouses, with suggestions from recent demand"))

STATUS_LABELS = {
    "draft": N_("Draft"),
    "shipped": N_("Shipped"),
    "partially_received": N_("Partially received"),
    "received": N_("Received"),
    "cancelled": N_("Cancelled"),
}
STATUS_TONES = {"draft": "neutral", "shipped": "info", "partially_received": "warning", "received": "success",
                "cancelled": "neutral"}
EVENT_LABELS = {
    "created": N_("Created"),
    "shipped": N_("Shipped"),
    "received_part": N_("Partly received"),
    "received": N_("Received"),
    "cancelled": N_("Cancelled"),
}
FORM_LINES = 5
MAX_FORM_LINES = 100


def error_text(exc: DomainError, lang: str) -> str:
    """Transfer errors in the reader's language, with the SKU and warehouse they name."""
    _ = translator_for(lang)
    d = exc.details or {}
    if exc.code == "insufficient_stock" and d.get("sku") and "available" in d:
        return _("Not enough %(sku)s at %(warehouse)s: only %(available)s available (units reserved for orders "
                 "cannot leave).") % {"sku": d["sku"], "warehouse": d["warehouse"], "available": d["available"]}
    texts = {
        "same_warehouse": _("Choose two different warehouses."),
        "duplicate_sku": _("This SKU is already on another line."),
        "too_many": _("More than is still in transit."),
        "no_suggestion": _("There is nothing to suggest between these warehouses any more."),
        "unknown_sku": _("No SKU with this code."),
        "unknown_warehouse": _("No warehouse with this code."),
        "kit_not_stocked": _("A kit is not stocked itself: transfer its components."),
        "invalid_transition": _("This transfer cannot do that in its current status."),
    }
    return texts.get(exc.code) or error_message(exc, lang)


def translator_for(lang: str):
    from server.core.i18n import gettext_for  # noqa: PLC0415 - the same catalogs the pages use

    return gettext_for(lang).gettext


def field_errors(exc: DomainError, lang: str) -> dict[str, str]:
    items = exc.errors if isinstance(exc, ErrorList) and exc.errors else [exc]
    out: dict[str, str] = {}
    for e in items:
        out.setdefault(e.field or "_form", error_text(e, lang))
    return out


def _ids(values: list[str] | None) -> list[int] | None:
    out = [int(v) for v in (values or []) if str(v).isdigit() and len(str(v)) < 19]
    return out or None


def _filters(status: str, warehouse: str) -> dict[str, str]:
    return {"status": status if status in (*STATUSES, "open") else "", "warehouse": warehouse.strip()}


# -- list -------------------------------------------------------------------------------------------

@get("/transfers", name="transfers")
async def transfers_index(request: Request, status: FromQuery[str] = "", warehouse: FromQuery[str] = "",
                          after: FromQuery[str | None] = None) -> Response:
    actor = require(request, "inventory.view")
    filters = _filters(status, warehouse)
    page = await transfers.list_transfers(actor, status=filters["status"] or None,
                                          warehouse=filters["warehouse"] or None, first=PAGE_SIZE, after=after or None)
    context: dict[str, Any] = {"page": page, "filters": filters, "status_labels": STATUS_LABELS,
                               "status_tones": STATUS_TONES, "can_manage": can(request, "inventory.manage")}
    if is_htmx(request):
        return await render(request, "transfers/_rows.html" if after else "transfers/_list.html", context)
    context.update({"nav_key": "transfers", "warehouses": await warehouses.list_warehouses(actor),
                    "can_count": can(request, "inventory.adjust")})
    return await render(request, "transfers/index.html", context)


@get("/transfers/export.csv", name="transfers_export")
async def transfers_export(request: Request, status: FromQuery[str] = "", warehouse: FromQuery[str] = "",
                           ids: FromQuery[list[str] | None] = None) -> Stream:
    actor = require(request, "inventory.view")
    filters = _filters(status, warehouse)
    chunks = transfers.export_transfers_csv(actor, status=filters["status"] or None,
                                            warehouse=filters["warehouse"] or None, ids=_ids(ids))
    return Stream(content=chunks, media_type="text/csv; charset=utf-8",
                  headers={"Content-Disposition": 'attachment; filename="transfers.csv"'})


# -- create -----------------------------------------------------------------------------------------

async def _form_page(request: Request, form: dict, lines: list[dict], errors: dict | None = None,
                     status: int = 200) -> Response:
    actor = require(request, "inventory.manage")
    context = {"nav_key": "transfers", "form": form, "lines": lines, "errors": errors or {},
               "warehouses": await warehouses.list_warehouses(actor, active=True)}
    if is_htmx(request):
        return await render(request, "transfers/_form.html", context, status=status)
    return await render(request, "transfers/new.html", context, status=status)


@get("/transfers/new", name="transfer_new")
async def transfer_new(request: Request, from_warehouse: FromQuery[str] = "", to_warehouse: FromQuery[str] = "") -> Response:
    return await _form_page(request, {"from_warehouse": from_warehouse, "to_warehouse": to_warehouse},
                            [{"sku": "", "quantity": ""} for _ in range(FORM_LINES)])


@get("/transfers/new/line", name="transfer_new_line")
async def transfer_new_line(request: Request, n: FromQuery[int] = 0) -> Response:
    require(request, "inventory.manage")
    return await render(request, "transfers/_line.html", {"n": max(0, min(n, MAX_FORM_LINES)),
                                                          "line": {"sku": "", "quantity": ""}, "errors": {}})


@post("/transfers", name="transfer_create")
async def transfer_create(request: Request) -> Response:
    actor = require(request, "inventory.manage")
    form = await request.form()
    skus, qtys = form.getall("sku", []), form.getall("quantity", [])
    lines = [{"sku": str(s).strip(), "quantity": str(q).strip()} for s, q in zip(skus, qtys, strict=False)][:MAX_FORM_LINES]
    data = {k: str(form.get(k, "")).strip() for k in ("from_warehouse", "to_warehouse", "reference", "note")}
    filled = [ln for ln in lines if ln["sku"] or ln["quantity"]]
    try:
        made = await transfers.create_transfer(actor, data["from_warehouse"], data["to_warehouse"], filled,
                                               reference=data["reference"], note=data["note"])
    except DomainError as exc:
        if exc.status == 403:
            raise
        errors = field_errors(exc, request_language(request))
        # service line numbers count filled lines only; show them beside the filled rows of the form
        positions = [i for i, ln in enumerate(lines) if ln["sku"] or ln["quantity"]]
        for key in list(errors):
            parts = key.split(".")
            if parts[0] == "lines" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(positions):
                errors[f"lines.{positions[int(parts[1])]}.{parts[2]}"] = errors.pop(key)
        return await _form_page(request, data, lines or [{"sku": "", "quantity": ""}], errors, 422)
    _ = translator(request)
    flash(request, _("Transfer %(number)s created as a draft.") % {"number": made["number"]})
    return redirect(request, f"/transfers/{made['id']}")


# -- detail and actions -----------------------------------------------------------------------------

async def _detail(request: Request, transfer_id: int, *, errors: dict | None = None, status: int = 200,
                  notice: str = "") -> Response:
    actor = require(request, "inventory.view")
    t = await transfers.get_transfer(actor, transfer_id)
    context = {"nav_key": "transfers", "t": t, "errors": errors or {}, "notice": notice,
               "status_labels": STATUS_LABELS, "status_tones": STATUS_TONES, "event_labels": EVENT_LABELS,
               "can_manage": can(request, "inventory.manage"), "can_receive": can(request, "inventory.adjust")}
    if is_htmx(request):
        return await render(request, "transfers/_detail.html", context, status=status)
    return await render(request, "transfers/detail.html", context, status=status)


@get("/transfers/{transfer_id:int}", name="transfer_detail")
async def transfer_detail(request: Request, transfer_id: FromPath[int]) -> Response:
    return await _detail(request, transfer_id)


async def _act(request: Request, transfer_id: int, call, done: str) -> Response:
    try:
        result = await call
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        return await _detail(request, transfer_id, errors=field_errors(exc, request_language(request)), status=422)
    _ = translator(request)
    released = len(result.get("released_orders") or [])
    message = done + ((" " + _("%(n)s waiting orders now have their stock.") % {"n": released}) if released else "")
    if is_htmx(request):
        return await _detail(request, transfer_id, notice=message)
    flash(request, message)
    return redirect(request, f"/transfers/{transfer_id}")


@post("/transfers/{transfer_id:int}/ship", name="transfer_ship")
async def transfer_ship(request: Request, transfer_id: FromPath[int]) -> Response:
    actor = require(request, "inventory.manage")
    _ = translator(request)
    return await _act(request, transfer_id, transfers.ship_transfer(actor, transfer_id),
                      _("Shipped: the units left the source and are incoming at the destination."))


@post("/transfers/{transfer_id:int}/receive", name="transfer_receive")
async def transfer_receive(request: Request, transfer_id: FromPath[int]) -> Response:
    actor = require(request, "inventory.adjust")
    data = await form_data(request)
    _ = translator(request)
    quantities = {k.removeprefix("qty-"): v for k, v in data.items() if k.startswith("qty-") and v not in ("", "0")}
    return await _act(request, transfer_id, transfers.receive_transfer(actor, transfer_id, quantities),
                      _("Receipt recorded."))


@post("/transfers/{transfer_id:int}/cancel", name="transfer_cancel")
async def transfer_cancel(request: Request, transfer_id: FromPath[int]) -> Response:
    actor = require(request, "inventory.manage")
    data = await form_data(request)
    _ = translator(request)
    return await _act(request, transfer_id, transfers.cancel_transfer(actor, transfer_id, data.get("reason", "")),
                      _("Transfer cancelled."))


# -- suggestions ------------------------------------------------------------------------------------

@get("/transfers/suggestions", name="transfer_suggestions")
async def transfer_suggestions_page(request: Request) -> Response:
    actor = require(request, "inventory.view")
    context = {"nav_key": "transfers", "suggestions": await transfer_suggestions.suggestions(actor),
               "days": transfers.SUGGESTION_DAYS, "can_manage": can(request, "inventory.manage")}
    if is_htmx(request):
        return await render(request, "transfers/_suggestions.html", context)
    return await render(request, "transfers/suggestions.html", context)


@post("/transfers/suggestions/accept", name="transfer_suggestion_accept")
async def transfer_suggestion_accept(request: Request) -> Response:
    actor = require(request, "inventory.manage")
    data = await form_data(request)
    _ = translator(request)
    try:
        made = await transfer_suggestions.create_suggested(actor, data.get("from_warehouse", ""),
                                                           data.get("to_warehouse", ""))
    except DomainError as exc:
        if exc.status == 403:
            raise
        flash(request, error_text(exc, request_language(request)), "error")
        return redirect(request, "/transfers/suggestions")
    flash(request, _("Transfer %(number)s created as a draft from the suggestion.") % {"number": made["number"]})
    return redirect(request, f"/transfers/{made['id']}")


ROUTES = [transfers_index, transfers_export, transfer_new, transfer_new_line, transfer_create, transfer_detail,
          transfer_ship, transfer_receive, transfer_cancel, transfer_suggestions_page, transfer_suggestion_accept]
