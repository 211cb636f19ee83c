"""One order: header, lines, amounts, receiver, buyer, reservations, timeline, raw payloads, notes,
and the actions on it (address change, cancel, mark shipped, match an unmatched line, add a note).

Thin: every read goes through server.orders.queries / catalog / inventory and every change through
their services, which authorize and audit. The list of orders (/orders) lives in web/views/orders.py.
"""
from __future__ import annotations

import json

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from server.catalog import service as catalog
from server.core.errors import DomainError, ErrorList
from server.core.i18n import gettext_for
from server.inventory import service as inventory
from server.orders import queries
from server.orders import service as orders
from server.orders.service import ReceiverInput
from server.orders.status import OPEN, PAYABLE, TERMINAL
from web.access import request_language, require, translator
from web.messages import ORDER_HOLD_LABELS as HOLD_LABELS
from web.messages import ORDER_STATUS_LABELS as STATUS_LABELS
from web.messages import ORDER_STATUS_TONES as STATUS_TONES
from web.messages import error_message
from web.nav import N_
from web.templating import flash, is_htmx, redirect, render
from web.views._common import form_data

# Order statuses, payment statuses, hold reasons and timeline kinds, readable (unknown ones are
# shown by their code).
PAYMENT_LABELS = {
    "unpaid": N_("Unpaid"),
    "paid": N_("Paid"),
    "partially_refunded": N_("Partially refunded"),
    "refunded": N_("Refunded"),
}
EVENT_LABELS = {
    "created": N_("Order created"),
    "status_changed": N_("Status changed"),
    "payment_changed": N_("Payment changed"),
    "updated": N_("Updated by the platform"),
    "cancelled": N_("Cancelled"),
    "address_changed": N_("Receiver address changed"),
    "held": N_("Put on hold"),
    "hold_released": N_("Hold released"),
    "shipped": N_("Marked shipped"),
    "stock_reserved": N_("Stock reserved"),
    "stock_released": N_("Stock released"),
    "stock_shipped": N_("Stock left the warehouse"),
}
RESERVATION_LABELS = {
    "reserved": N_("Reserved"),
    "released": N_("Released"),
    "shipped": N_("Shipped"),
}

RECEIVER_FIELDS = ("name", "phone", "country_code", "province", "city", "district", "address", "postcode")
# service error fields -> the form field that shows them
_ADDRESS_FIELDS = {"receiver.name": "name", "name": "name", "phone": "phone"}
_SHIP_FIELDS = {"carrier": "carrier", "trackingNumber": "tracking_number"}


def errors_for(exc: DomainError, lang: str, fields: dict[str, str] | None = None) -> dict[str, str]:
    """{form field: translated message} for every error the service reported."""
    fields = fields or {}
    out: dict[str, str] = {}
    for e in (exc.errors if isinstance(exc, ErrorList) and exc.errors else [exc]):
        out.setdefault(fields.get(e.field or "", "_form"), error_message(e, lang))
    return out


async def _waiting_listings(actor, order: dict) -> dict[int, dict]:
    """{line id: its unmatched channel listing} for the order's unmatched lines (catalog.view)."""
    wanted: dict[tuple[str, str], list[int]] = {}
    for ln in order["lines"]:
        if ln["sku_id"] is None:
            wanted.setdefault((ln["platform_product_id"], ln["platform_sku_id"]), []).append(ln["id"])
    if not wanted or not actor.can("catalog.view"):
        return {}
    out: dict[int, dict] = {}
    found = 0
    after = None
    for _ in range(20):  # an order's channel rarely has more than a few pages of unmatched listings
        page = await catalog.list_listings(actor, channel_id=order["channel_id"], unmatched=True, first=500,
                                           after=after)
        for listing in page.items:
            line_ids = wanted.get((listing["platform_product_id"], listing["platform_sku_id"]), [])
            found += bool(line_ids)
            out.update(dict.fromkeys(line_ids, listing))
        if found == len(wanted) or not page.has_next:
            break
        after = page.end_cursor
    return out


def pretty_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)


async def detail_context(request: Request, order_id: int, **extra: object) -> dict:
    actor = require(request, "orders.view")
    order = await queries.get_order(actor, order_id)
    reservations = None
    if actor.can("inventory.view"):
        reservations = (await inventory.list_reservations(actor, order_id=order["id"], status=None, first=200)).items
    status = order["status"]
    receiver_form = {k: "" for k in RECEIVER_FIELDS}
    if actor.can("orders.view_pii"):  # a masked value must never be saved back as the new address
        receiver_form.update(name=order["receiver_name"], phone=order["receiver_phone"])
        receiver_form.update({k: order[k] or "" for k in RECEIVER_FIELDS[2:]})
    else:
        receiver_form.update({k: order[k] or "" for k in ("country_code", "province", "city", "district",
                                                          "postcode")})
        receiver_form["name"] = order["receiver_name"]
    context = {
        "nav_key": "orders",
        "order": order,
        "reservations": reservations,
        "listings": await _waiting_listings(actor, order),
        "show_pii": actor.can("orders.view_pii"),
        "can_manage": actor.can("orders.manage"),
        "can_match": actor.can("catalog.manage"),
        "can_ship": actor.can("fulfillment.ship"),
        "address_open": status in OPEN,
        "cancellable": status not in TERMINAL and status not in ("shipped", "delivered"),
        "shippable": status in PAYABLE and status != "on_hold",
        "status_labels": STATUS_LABELS, "status_tones": STATUS_TONES, "payment_labels": PAYMENT_LABELS,
        "hold_labels": HOLD_LABELS, "event_labels": EVENT_LABELS, "reservation_labels": RESERVATION_LABELS,
        "pretty_json": pretty_json,
        "receiver_form": receiver_form,
        "address_errors": {}, "cancel_errors": {}, "ship_errors": {}, "note_errors": {}, "match_errors": {},
    }
    context.update(extra)
    return context


async def _body(request: Request, order_id: int, message: str, **extra: object) -> Response:
    """After an action: htmx gets the whole detail re-rendered in place (status, timeline, actions all
    move together); a plain form post is redirected back with a flash."""
    if is_htmx(request):
        context = await detail_context(request, order_id, **extra)
        context["notice"] = message
        return await render(request, "orders/detail_body.html", context,
                            headers={"HX-Retarget": "#order-detail", "HX-Reswap": "outerHTML"})
    flash(request, message)
    return redirect(request, f"/orders/{order_id}")


async def _form_error(request: Request, order_id: int, template: str, key: str, exc: DomainError,
                      fields: dict[str, str] | None = None, **extra: object) -> Response:
    """A form the service refused: its card again with the errors (422), or the page with them.
    `key` names the form's errors in the context (each card shows only its own)."""
    if exc.status == 403 or (exc.status == 404 and exc.field in (None, "id")):
        raise exc
    extra[key] = errors_for(exc, request_language(request), fields)
    context = await detail_context(request, order_id, **extra)
    if is_htmx(request):
        return await render(request, template, context, status=422)
    return await render(request, "orders/detail.html", context, status=422)


@get("/orders/{order_id:int}", name="order_detail")
async def order_detail(request: Request, order_id: FromPath[int]) -> Response:
    context = await detail_context(request, order_id)
    if is_htmx(request):
        return await render(request, "orders/detail_body.html", context)
    return await render(request, "orders/detail.html", context)


@post("/orders/{order_id:int}/address", name="order_address")
async def order_address(request: Request, order_id: FromPath[int]) -> Response:
    actor = require(request, "orders.manage")
    data = await form_data(request)
    _ = translator(request)
    receiver = ReceiverInput(**{k: data.get(k, "") for k in RECEIVER_FIELDS})
    try:
        await orders.update_address(actor, order_id, receiver)
    except DomainError as exc:
        return await _form_error(request, order_id, "orders/detail_receiver.html", "address_errors", exc, _ADDRESS_FIELDS,
                                 receiver_form={k: data.get(k, "") for k in RECEIVER_FIELDS}, edit_address=True)
    return await _body(request, order_id, _("Receiver address changed."))


@post("/orders/{order_id:int}/cancel", name="order_cancel")
async def order_cancel(request: Request, order_id: FromPath[int]) -> Response:
    actor = require(request, "orders.manage")
    data = await form_data(request)
    _ = translator(request)
    try:
        await orders.cancel_order(actor, order_id, data.get("reason", ""))
    except DomainError as exc:
        return await _form_error(request, order_id, "orders/detail_actions.html", "cancel_errors", exc, {"id": "_form"},
                                 cancel_reason=data.get("reason", ""))
    return await _body(request, order_id, _("Order cancelled."))


@post("/orders/{order_id:int}/ship", name="order_ship")
async def order_ship(request: Request, order_id: FromPath[int]) -> Response:
    actor = require(request, "fulfillment.ship")
    data = await form_data(request)
    _ = translator(request)
    try:
        await inventory.mark_shipped(actor, order_id, data.get("carrier", ""), data.get("tracking_number", ""))
    except DomainError as exc:
        return await _form_error(request, order_id, "orders/detail_actions.html", "ship_errors", exc,
                                 {**_SHIP_FIELDS, "id": "_form"},
                                 ship_form={"carrier": data.get("carrier", ""),
                                            "tracking_number": data.get("tracking_number", "")})
    return await _body(request, order_id, _("Order marked shipped."))


@post("/orders/{order_id:int}/notes", name="order_note")
async def order_note(request: Request, order_id: FromPath[int]) -> Response:
    actor = require(request, "orders.manage")
    data = await form_data(request)
    _ = translator(request)
    try:
        await orders.add_note(actor, order_id, data.get("body", ""))
    except DomainError as exc:
        return await _form_error(request, order_id, "orders/detail_notes.html", "note_errors", exc, {"body": "body"},
                                 note_body=data.get("body", ""))
    if is_htmx(request):
        context = await detail_context(request, order_id, note_saved=True)
        return await render(request, "orders/detail_notes.html", context)
    flash(request, _("Note added."))
    return redirect(request, f"/orders/{order_id}#notes")


@post("/orders/{order_id:int}/lines/{line_id:int}/match", name="order_line_match")
async def order_line_match(request: Request, order_id: FromPath[int], line_id: FromPath[int]) -> Response:
    """Match an unmatched line's platform SKU to a merchant SKU: every order waiting on that platform
    SKU is released, not just this one (catalog.match_listing does it)."""
    actor = require(request, "catalog.manage")
    data = await form_data(request)
    sku = data.get("sku", "")
    order = await queries.get_order(actor, order_id)
    listing = (await _waiting_listings(actor, order)).get(line_id)
    try:
        if listing is None:
            raise DomainError("this line is matched already, or its platform SKU is not listed",
                              code="line_not_waiting", field="sku")
        if not sku:
            raise DomainError("enter the SKU code this platform SKU is", code="required", field="sku")
        await catalog.match_listing(actor, listing["id"], sku)
    except DomainError as exc:
        return await _form_error(request, order_id, "orders/detail_lines.html", "match_errors", exc,
                                 {"sku": "sku", "listing": "sku"},
                                 match_line=line_id, match_value=sku)
    waiting = int(listing.get("waiting_orders") or 1)
    text = gettext_for(request_language(request)).ngettext(
        "Matched to %(sku)s. %(num)d order waiting on this platform SKU was updated.",
        "Matched to %(sku)s. %(num)d orders waiting on this platform SKU were updated.", waiting) % {
        "sku": sku, "num": waiting}
    return await _body(request, order_id, text)


@get("/orders/{order_id:int}/sku-options", name="order_sku_options")
async def order_sku_options(request: Request, order_id: FromPath[int], q: FromQuery[str] = "",
                            sku: FromQuery[str] = "") -> Response:
    """<option>s for the match control's datalist: SKUs whose code, name or barcode contain the text
    typed (`sku`, the control's own name, or `q`)."""
    return await sku_options(request, q or sku)


async def sku_options(request: Request, text: str) -> Response:
    actor = require(request, "catalog.view")
    text = text.strip()
    page = await catalog.list_skus(actor, first=15, search=text) if text else None
    return await render(request, "orders/detail_sku_options.html", {"skus": page.items if page else []})


ROUTES = [order_detail, order_address, order_cancel, order_ship, order_note, order_line_match, order_sku_options]
