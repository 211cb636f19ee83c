"""The order workspace: every order from every channel in one list, with status tabs and live counts,
filters in the query string, keyset pages, bulk actions on a selection or on "all matching", a
streamed CSV export, live "new orders" without a reload, and saved views per user.

Thin: reads go through server.orders.queries, changes through server.orders.service (which
authorize, scope to the tenant and audit). This module only turns the query string into an
OrderFilter and the results into pages. One order's page (/orders/{id}) lives in order_detail.py.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode

from litestar import Request, Response, get, post
from litestar.datastructures import MultiDict
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from server.auth import service as auth_service
from server.channels import service as channels
from server.channels.connectors.registry import PLATFORMS
from server.core import clock
from server.core.errors import DomainError, ValidationError
from server.core.money import exponent
from server.orders import queries
from server.orders import service as orders
from server.orders.status import OrderStatus
from web import nav
from web.access import can, request_language, require, translator
from web.formatting import utc_day_start
from web.messages import ORDER_HOLD_LABELS as HOLD_LABELS
from web.messages import ORDER_STATUS_LABELS as STATUS_LABELS
from web.messages import ORDER_STATUS_TONES as STATUS_TONES
from web.messages import error_message
from web.nav import N_
from web.templating import flash, is_htmx, redirect, render

nav.register("orders", N_("Orders"), "/orders", permission="orders.view", icon="orders", order=20,
             description=N_("Every order from every channel, in one list"))

PAGE_SIZE = 50
LIVE_ROWS = 200          # at most this many new rows are prepended at once ("show" again for more)

# The query-string names of the filters, in the order the filter form shows them.
FILTER_PARAMS = ("search", "status", "channel", "platform", "placed_from", "placed_to", "province", "city",
                 "sku", "buyer", "amount_min", "amount_max", "tag", "hold_reason", "returning")
MULTI_PARAMS = ("status", "channel", "platform")

# The tabs, in the order work flows through them.
TABS = ("pending_payment", "awaiting_review", "on_hold", "ready", "in_fulfillment", "partially_shipped",
        "shipped", "delivered", "completed", "cancelled")
PLATFORM_LABELS = {
    "shopify": N_("Shopify"),
    "woocommerce": N_("WooCommerce"),
    "taobao": N_("Taobao / Tmall"),
    "jd": N_("JD.com"),
    "pinduoduo": N_("Pinduoduo"),
    "douyin": N_("Douyin"),
    "amazon": N_("Amazon"),
    "website": N_("Website"),
    "pos": N_("Store (POS)"),
}


class FilterError(ValidationError):
    """Bad filter values: {param: message} for the inline error (nothing is queried)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()), code="invalid_filter", field=next(iter(errors)))
        self.errors = errors


def raw_filters(params: Any) -> dict[str, Any]:
    """The filter params as given (strings; lists for the multi-valued ones), empty ones left out."""
    out: dict[str, Any] = {}
    for name in FILTER_PARAMS:
        if name in MULTI_PARAMS:
            values = params.getall(name, []) if hasattr(params, "getall") else params.get(name, [])
            if isinstance(values, str):
                values = [values]
            items = [v.strip() for value in values for v in str(value).split(",") if v.strip()]
            if items:
                out[name] = items
        else:
            value = str(params.get(name) or "").strip()
            if value:
                out[name] = value
    return out


def _day(value: str) -> date:
    return date.fromisoformat(value)


def _amount(value: str, currency: str) -> int:
    d = Decimal(value.replace(",", ""))
    if not d.is_finite() or d < 0:
        raise InvalidOperation
    return int(d.scaleb(exponent(currency)).to_integral_value())


def parse_filters(raw: dict[str, Any], *, tz: str, currency: str, _=lambda s: s) -> queries.OrderFilter:
    """Query-string values -> OrderFilter; every bad value is reported (FilterError), none ignored."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    statuses = raw.get("status") or []
    bad = [s for s in statuses if s not in OrderStatus.__members__.values()]
    if bad:
        errors["status"] = _("Unknown status “%(value)s”.") % {"value": bad[0]}
    elif statuses:
        data["status"] = statuses
    channel_ids = raw.get("channel") or []
    if any(not c.isdigit() for c in channel_ids):
        errors["channel"] = _("Choose a channel from the list.")
    elif channel_ids:
        data["channel_ids"] = [int(c) for c in channel_ids]
    platforms = raw.get("platform") or []
    bad = [p for p in platforms if p not in PLATFORMS]
    if bad:
        errors["platform"] = _("Unknown platform “%(value)s”.") % {"value": bad[0]}
    elif platforms:
        data["platform"] = platforms
    for name, shift in (("placed_from", 0), ("placed_to", 1)):
        if raw.get(name):
            try:
                data[name] = utc_day_start(_day(raw[name]) + timedelta(days=shift), tz)
            except ValueError:
                errors[name] = _("Enter dates as YYYY-MM-DD.")
    if data.get("placed_from") and data.get("placed_to") and data["placed_from"] >= data["placed_to"]:
        errors["placed_to"] = _("The end date is before the start date.")
    for name in ("amount_min", "amount_max"):
        if raw.get(name):
            try:
                data[name] = _amount(raw[name], currency)
            except (InvalidOperation, ValueError):
                errors[name] = _("Enter an amount such as 99.50.")
    if data.get("amount_min") is not None and data.get("amount_max") is not None \
            and data["amount_min"] > data["amount_max"]:
        errors["amount_max"] = _("The largest amount is below the smallest.")
    if raw.get("returning"):
        flag = {"1": True, "true": True, "returning": True, "0": False, "false": False, "new": False}.get(
            raw["returning"].lower())
        if flag is None:
            errors["returning"] = _("Choose new or returning buyers.")
        else:
            data["returning"] = flag
    for name in ("province", "city", "sku", "buyer", "tag", "hold_reason", "search"):
        if raw.get(name):
            if len(raw[name]) > 100:
                errors[name] = _("Keep this under 100 characters.")
            else:
                data[name] = raw[name]
    if data.get("tag"):
        data["tag"] = data["tag"].lower()
    if errors:
        raise FilterError(errors)
    return queries.OrderFilter.from_dict(data)


def _pairs(filters: dict[str, Any]) -> list[tuple[str, str]]:
    """[(name, value)] of the raw filters, one pair per value (for hidden inputs and links)."""
    out = []
    for name in FILTER_PARAMS:  # one order, whatever order they came in: stable links
        value = filters.get(name)
        for v in value if isinstance(value, list) else [value]:
            if v not in (None, ""):
                out.append((name, str(v)))
    return out


def orders_url(filters: dict[str, Any], path: str = "/orders", **extra: Any) -> str:
    pairs = _pairs(filters) + [(k, str(v)) for k, v in extra.items() if v not in (None, "")]
    return f"{path}?{urlencode(pairs)}" if pairs else path


async def _currency(actor) -> str:
    merchant = await auth_service.current_merchant(actor)
    return (merchant or {}).get("currency") or "CNY"


async def _filter(request: Request, actor, raw: dict[str, Any]) -> queries.OrderFilter:
    # amounts are typed in the merchant's currency; look it up only when one is given
    currency = await _currency(actor) if raw.get("amount_min") or raw.get("amount_max") else "CNY"
    return parse_filters(raw, tz=actor.timezone, currency=currency, _=translator(request))


def _error_text(request: Request, exc: DomainError) -> dict[str, str]:
    if isinstance(exc, FilterError):
        return exc.errors
    return {exc.field or "_form": error_message(exc, request_language(request))}


async def _channel_choices(request: Request, actor) -> list[tuple[str, str]]:
    if not can(request, "channels.view"):  # the filter still works by id; the names need channels.view
        return []
    return [(str(c["id"]), c["name"]) for c in await channels.list_channels(actor)]


async def _list_context(request: Request, actor, raw: dict[str, Any], after: str | None) -> tuple[dict, int]:
    """The list's context and the HTTP status (422 with inline errors for bad filters)."""
    context: dict[str, Any] = {"filters": raw, "filter_pairs": _pairs(raw), "orders_url": orders_url,
                               "status_labels": STATUS_LABELS, "status_tones": STATUS_TONES,
                               "hold_labels": HOLD_LABELS, "platform_labels": PLATFORM_LABELS, "tabs": TABS,
                               "page_size": PAGE_SIZE, "query_string": urlencode(_pairs(raw))}
    try:
        f = await _filter(request, actor, raw)
        context["page"] = await queries.list_orders(actor, f, first=PAGE_SIZE, after=after or None)
        if not after:
            context["since"] = await queries.latest_id(actor)
        return context, 200
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        context.update(page=None, since=0, errors=_error_text(request, exc))
        return context, 422


@get("/orders", name="orders")
async def orders_index(request: Request, after: FromQuery[str | None] = None) -> Response:
    actor = require(request, "orders.view")
    raw = raw_filters(request.query_params)
    context, status = await _list_context(request, actor, raw, after)
    if is_htmx(request):
        template = "orders/_rows.html" if after and status == 200 else "orders/_list.html"
        return await render(request, template, context, status=status)
    context.update({
        "nav_key": "orders", "channel_choices": await _channel_choices(request, actor),
        "platforms": PLATFORMS, "views": await orders.list_views(actor),
    })
    return await render(request, "orders/index.html", context, status=status)


@get("/orders/live", name="orders_live")
async def orders_live(request: Request, since: FromQuery[int] = 0) -> Response:
    """Polled every few seconds: tab counts, the total, and how many new orders arrived since `since`."""
    actor = require(request, "orders.view")
    raw = raw_filters(request.query_params)
    context: dict[str, Any] = {"filters": raw, "tabs": TABS, "since": since, "orders_url": orders_url,
                               "status_labels": STATUS_LABELS}
    try:
        f = await _filter(request, actor, raw)
    except FilterError:
        return await render(request, "orders/_live.html", {**context, "counts": None, "total": None, "new": 0})
    counts = await queries.status_counts(actor, f)
    _rows, new = await queries.arrived_since(actor, f, since, first=0)
    total = sum(counts[s] for s in f.status) if f.status else sum(counts.values())
    context.update(counts=counts, all_count=sum(counts.values()), total=total, new=new)
    return await render(request, "orders/_live.html", context)


@get("/orders/fresh", name="orders_fresh")
async def orders_fresh(request: Request, since: FromQuery[int] = 0) -> Response:
    """The rows that arrived since `since`, to prepend above the ones shown (checked boxes stay)."""
    actor = require(request, "orders.view")
    raw = raw_filters(request.query_params)
    f = await _filter(request, actor, raw)
    items, _count = await queries.arrived_since(actor, f, since, first=LIVE_ROWS)
    newest = max([since, *(o["id"] for o in items)])
    if len(items) < _count:  # more than one screenful arrived: the rest are announced again
        newest = min(o["id"] for o in items) - 1
    context = {"items": items, "filters": raw, "since": newest, "orders_url": orders_url,
               "status_labels": STATUS_LABELS, "status_tones": STATUS_TONES, "hold_labels": HOLD_LABELS,
               "platform_labels": PLATFORM_LABELS, "fresh": True}
    return await render(request, "orders/_fresh.html", context)


# -- bulk actions -------------------------------------------------------------------------------

async def _bulk_form(request: Request) -> tuple[dict[str, Any], MultiDict]:
    form = await request.form()
    return raw_filters(form), form


async def _targets(request: Request, actor, raw: dict[str, Any], form) -> dict[str, Any]:
    """ids=[…] for a selection, or f=OrderFilter for "all matching" (the filter, never a list of ids)."""
    if form.get("scope") == "all":
        return {"f": await _filter(request, actor, raw)}
    ids = [int(i) for i in form.getall("ids", []) if str(i).isdigit()]
    if not ids:
        _ = translator(request)
        raise ValidationError(_("Select orders first, or choose all matching orders."), code="no_selection",
                              field="ids")
    return {"ids": ids}


BULK_DONE = {
    "tag": N_("Tags added"),
    "note": N_("Note added"),
    "cancel": N_("Orders cancelled"),
}


async def _bulk_response(request: Request, raw: dict, result: orders.BulkResult, action: str,
                         requested: int | None) -> Response:
    skipped = max(0, requested - result.done - len(result.failed)) if requested is not None else 0
    _ = translator(request)
    if not is_htmx(request):  # a plain form post: say it on the list, filters kept
        flash(request, _("%(action)s: %(done)d done, %(skipped)d skipped, %(failed)d could not be changed.") % {
            "action": _(BULK_DONE[action]), "done": result.done, "skipped": skipped, "failed": len(result.failed)},
            "warning" if result.failed else "success")
        return redirect(request, orders_url(raw))
    context = {"result": result, "action": action, "action_label": BULK_DONE[action], "skipped": skipped}
    return await render(request, "orders/_bulk_result.html", context, headers={"HX-Trigger": "orders-changed"})


@post("/orders/bulk/{action:str}", name="orders_bulk", status_code=200)
async def orders_bulk(request: Request, action: FromPath[str]) -> Response:
    actor = require(request, "orders.view")  # the service authorizes the change itself (orders.manage)
    raw, form = await _bulk_form(request)
    _ = translator(request)
    if action not in ("tag", "note", "cancel"):
        raise ValidationError("unknown bulk action", code="not_found", field="action")
    target = await _targets(request, actor, raw, form)
    requested = len(set(target["ids"])) if "ids" in target else None
    if action == "tag":
        tags = [t for t in str(form.get("tags", "")).replace("，", ",").split(",") if t.strip()]
        if not tags:
            raise ValidationError(_("Give at least one tag."), code="tags_required", field="tags")
        result = await orders.bulk_tag(actor, tags, **target)
    elif action == "note":
        body = str(form.get("body", "")).strip()
        if not body:
            raise ValidationError(_("Write the note first."), code="body_required", field="body")
        result = await orders.bulk_note(actor, body, **target)
    else:
        reason = str(form.get("reason", "")).strip()
        if not reason:
            raise ValidationError(_("Give a reason for cancelling."), code="reason_required", field="reason")
        result = await orders.bulk_cancel(actor, reason, **target)
    return await _bulk_response(request, raw, result, action, requested)


@post("/orders/export", name="orders_export", status_code=200)
async def orders_export(request: Request) -> Response:
    """CSV of the selection or of everything matching, streamed in keyset batches."""
    actor = require(request, "orders.view")
    raw, form = await _bulk_form(request)
    if form.get("scope") != "all" and not form.getall("ids", []):  # nothing selected: everything matching
        f = await _filter(request, actor, raw)
    else:
        target = await _targets(request, actor, raw, form)
        f = target.get("f") or queries.OrderFilter(ids=target["ids"])
    stream = queries.export_csv(actor, f)
    first = await stream.__anext__()  # the service authorizes (orders.export) before a byte is sent

    async def body() -> AsyncIterator[bytes]:
        yield first.encode()
        async for chunk in stream:
            yield chunk.encode()

    name = f"orders-{clock.now().strftime('%Y%m%d-%H%M%S')}.csv"
    return Stream(body(), media_type="text/csv; charset=utf-8",
                  headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
                           "X-Content-Type-Options": "nosniff"})


# -- saved views --------------------------------------------------------------------------------

async def _views_response(request: Request, actor, raw: dict, *, errors: dict | None = None, status: int = 200,
                          saved: str = "") -> Response:
    if not is_htmx(request):
        _ = translator(request)
        if errors:
            flash(request, "; ".join(errors.values()), "error")
        elif saved:
            flash(request, _("View “%(name)s” saved.") % {"name": saved})
        return redirect(request, orders_url(raw))
    return await render(request, "orders/_views.html", {
        "views": await orders.list_views(actor), "view_errors": errors, "saved": saved, "orders_url": orders_url,
        "filters": raw}, status=status)


@post("/orders/views", name="orders_view_save", status_code=200)
async def orders_view_save(request: Request) -> Response:
    actor = require(request, "orders.view")
    form = await request.form()
    raw = raw_filters(MultiDict(parse_qsl(str(form.get("query", "")))))
    name = str(form.get("name", "")).strip()
    try:
        await _filter(request, actor, raw)  # only a filter that works is worth saving
        view = await orders.save_view(actor, name, raw)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        return await _views_response(request, actor, raw, errors=_error_text(request, exc), status=422)
    return await _views_response(request, actor, raw, saved=view["name"])


@post("/orders/views/{view_id:int}/delete", name="orders_view_delete", status_code=200)
async def orders_view_delete(request: Request, view_id: FromPath[int]) -> Response:
    actor = require(request, "orders.view")
    form = await request.form()
    await orders.delete_view(actor, view_id)
    return await _views_response(request, actor, raw_filters(MultiDict(parse_qsl(str(form.get("query", ""))))))


ROUTES = [orders_index, orders_live, orders_fresh, orders_bulk, orders_export, orders_view_save, orders_view_delete]
