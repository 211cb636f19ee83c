"""Channel stock: each channel's stock policy, every listing's sellable quantity and what was last
pushed to the platform (quantity, time, result, error), "resync all", bulk "push now", CSV export and
per-listing overrides. Thin: server/inventory/channel_stock.py authorizes and does the work.

Routes: /channels/stock (overview of every channel), /channels/{id}/stock (the channel's page; the
listing table polls every few seconds while nothing is selected, so pushes show up by themselves).
"""
from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from server.core.errors import DomainError, ErrorList
from server.core.i18n import gettext_for
from server.inventory import channel_stock as cs
from web import nav
from web.access import can, request_language, require, translator
from web.messages import error_message
from web.nav import N_
from web.templating import flash, is_htmx, redirect, render
from web.views._common import PAGE_SIZE, tristate

nav.register("channel_stock", N_("Channel stock"), "/channels/stock", permission="inventory.view", icon="stock",
             order=46, description=N_("What each channel may sell, and what was pushed to each platform"))

def queued_message(request: Request, count: int) -> str:
    t = gettext_for(request_language(request))
    return t.ngettext("%(num)d listing queued for a push.", "%(num)d listings queued for a push.", count) % {"num": count}


MODE_LABELS = {"pool": N_("Shared pool"), "percent": N_("Percentage of available"), "quota": N_("Fixed quota")}
STATE_LABELS = {"pending": N_("Pending"), "ok": N_("Pushed"), "retrying": N_("Retrying"), "failed": N_("Failed"),
                "never": N_("Not pushed yet"), "unmatched": N_("Unmatched")}
STATE_TONES = {"pending": "info", "ok": "success", "retrying": "warning", "failed": "danger", "never": "neutral",
               "unmatched": "neutral"}
POLICY_FIELDS = ("mode", "percent", "quota", "buffer", "max_listed", "zero_at")

FIELD_MESSAGES = {
    ("out_of_range", "percent"): N_("Enter a percentage from 0 to 100."),
    ("out_of_range", None): N_("Enter a whole number, 0 or more."),
    ("invalid", "mode"): N_("Choose shared pool, percentage or fixed quota."),
    ("invalid", None): N_("Enter a whole number."),
    ("required", "quota"): N_("A fixed quota needs the number of units to list."),
    ("required", "percent"): N_("A percentage policy needs the percentage."),
    ("warehouse_not_eligible", None): N_("A chosen warehouse does not serve this channel or is inactive."),
    ("unknown_warehouse", None): N_("Choose warehouses from the list."),
}


def policy_errors(request: Request, exc: DomainError) -> dict[str, str]:
    """{field: translated message} for every error of a policy form."""
    _ = translator(request)
    out: dict[str, str] = {}
    for e in exc.errors if isinstance(exc, ErrorList) and exc.errors else [exc]:
        text = FIELD_MESSAGES.get((e.code, e.field)) or FIELD_MESSAGES.get((e.code, None))
        field = "warehouse_ids" if e.field in ("warehouses", "warehouse_ids") else (e.field or "_form")
        out.setdefault(field, _(text) if text else error_message(e, request_language(request)))
    return out


def _policy_form(policy: cs.Policy | None) -> dict:
    p = policy or cs.DEFAULT
    return {"mode": p.mode, "percent": str(p.percent), "quota": str(p.quota), "buffer": str(p.buffer),
            "max_listed": "" if p.max_listed is None else str(p.max_listed), "zero_at": str(p.zero_at),
            "warehouse_ids": [str(i) for i in (p.warehouse_ids or ())]}


async def _submitted(request: Request) -> dict:
    form = await request.form()
    data = {k: str(form.get(k, "")).strip() for k in POLICY_FIELDS}
    data["warehouse_ids"] = [str(v) for v in form.getall("warehouse_ids", [])]
    return data


def _filters(q: str, status: str, overridden: str) -> dict:
    """The list's query string: q, status (a push state), overridden."""
    return {"q": q, "status": status if status in cs.PUSH_STATES else "", "overridden": overridden}


async def _list_context(request: Request, channel_id: int, filters: dict, after: str | None) -> dict:
    actor = require(request, "inventory.view")
    page = await cs.list_listings(actor, channel_id, first=PAGE_SIZE, after=after or None, search=filters["q"],
                                  state=filters["status"], overridden=tristate(filters["overridden"]))
    return {"page": page, "filters": filters, "base": f"/channels/{channel_id}/stock"}


async def _page_context(request: Request, channel_id: int) -> dict:
    actor = require(request, "inventory.view")
    got = await cs.get_policy(actor, channel_id)
    return {"nav_key": "channel_stock", "channel": got["channel"], "settings": got,
            "form": _policy_form(got["policy"]), "mode_labels": MODE_LABELS, "state_labels": STATE_LABELS,
            "state_tones": STATE_TONES, "can_manage": can(request, "inventory.manage")}


@get("/channels/stock", name="channel_stock_overview")
async def stock_overview(request: Request) -> Response:
    actor = require(request, "inventory.view")
    rows = await cs.channel_overview(actor)
    return await render(request, "channel_stock/overview.html", {
        "nav_key": "channel_stock", "channels": rows, "mode_labels": MODE_LABELS})


@get("/channels/{channel_id:int}/stock", name="channel_stock")
async def stock_index(request: Request, channel_id: FromPath[int], q: FromQuery[str] = "",
                      status: FromQuery[str] = "", overridden: FromQuery[str] = "",
                      after: FromQuery[str | None] = None) -> Response:
    filters = _filters(q, status, overridden)
    context = await _list_context(request, channel_id, filters, after)
    if is_htmx(request):
        context.update(state_labels=STATE_LABELS, state_tones=STATE_TONES, channel={"id": channel_id},
                       can_manage=can(request, "inventory.manage"))
        return await render(request, "channel_stock/_rows.html" if after else "channel_stock/_list.html", context)
    context.update(await _page_context(request, channel_id))
    return await render(request, "channel_stock/index.html", context)


@post("/channels/{channel_id:int}/stock/policy", name="channel_stock_policy")
async def stock_policy(request: Request, channel_id: FromPath[int]) -> Response:
    actor = require(request, "inventory.manage")
    _ = translator(request)
    data = await _submitted(request)
    try:
        await cs.update_policy(actor, channel_id, data)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        context = await _page_context(request, channel_id)
        context.update(form=data, errors=policy_errors(request, exc))
        if is_htmx(request):
            return await render(request, "channel_stock/_policy.html", context, status=422)
        context.update(await _list_context(request, channel_id, _filters("", "", ""), None))
        return await render(request, "channel_stock/index.html", context, status=422)
    if is_htmx(request):
        context = await _page_context(request, channel_id)
        context["saved"] = True
        return await render(request, "channel_stock/_policy.html", context, headers={"HX-Trigger": "stock-changed"})
    flash(request, _("Stock policy saved. The listings are being pushed again."))
    return redirect(request, f"/channels/{channel_id}/stock")


@post("/channels/{channel_id:int}/stock/resync", name="channel_stock_resync")
async def stock_resync(request: Request, channel_id: FromPath[int]) -> Response:
    actor = require(request, "inventory.manage")
    _ = translator(request)
    count = await cs.resync(actor, channel_id)
    message = queued_message(request, count)
    if is_htmx(request):
        return await render(request, "channel_stock/_notice.html", {"message": message},
                            headers={"HX-Trigger": "stock-changed"})
    flash(request, message)
    return redirect(request, f"/channels/{channel_id}/stock")


@post("/channels/{channel_id:int}/stock/push", name="channel_stock_push")
async def stock_push_selected(request: Request, channel_id: FromPath[int]) -> Response:
    actor = require(request, "inventory.manage")
    _ = translator(request)
    form = await request.form()
    ids = [str(v) for v in form.getall("ids", [])]
    if not ids:
        message, level = _("Select the listings to push first."), "warning"
    else:
        count = await cs.push_now(actor, channel_id, ids)
        message, level = queued_message(request, count), "success"
    if is_htmx(request):
        return await render(request, "channel_stock/_notice.html", {"message": message, "level": level},
                            headers={"HX-Trigger": "stock-changed"})
    flash(request, message, level)
    return redirect(request, f"/channels/{channel_id}/stock")


@get("/channels/{channel_id:int}/stock/export.csv", name="channel_stock_export")
async def stock_export(request: Request, channel_id: FromPath[int], q: FromQuery[str] = "",
                       status: FromQuery[str] = "", overridden: FromQuery[str] = "",
                       ids: FromQuery[list[int] | None] = None) -> Stream:
    actor = require(request, "inventory.view")
    filters = _filters(q, status, overridden)
    _ = translator(request)
    header = [_("Listing"), _("Platform product id"), _("Platform SKU id"), _("Platform code"), _("Title"), _("SKU"),
              _("Available"), _("Sellable"), _("Override"), _("State"), _("Last pushed quantity"), _("Last pushed at"),
              _("Result"), _("Error"), _("Attempts")]

    async def rows() -> AsyncIterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        after = None
        while True:
            page = await cs.list_listings(actor, channel_id, first=200, after=after, search=filters["q"],
                                          state=filters["status"], overridden=tristate(filters["overridden"]),
                                          listing_ids=ids or None)
            for i in page.items:
                writer.writerow([i["id"], i["platform_product_id"], i["platform_sku_id"], i["platform_sku_code"],
                                 i["title"], i["sku_code"] or "", "" if i["available"] is None else i["available"],
                                 "" if i["sellable"] is None else i["sellable"], "yes" if i["override"] else "",
                                 i["state"], "" if i["last_pushed_qty"] is None else i["last_pushed_qty"],
                                 i["last_pushed_at"].isoformat() if i["last_pushed_at"] else "", i["last_result"] or "",
                                 i["last_error"] or "", i["attempts"] or 0])
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
            if not page.has_next:
                return
            after = page.end_cursor

    await cs.get_policy(actor, channel_id)          # 404 for another merchant's channel before streaming
    return Stream(content=rows(), media_type="text/csv; charset=utf-8",
                  headers={"Content-Disposition": f'attachment; filename="channel-{channel_id}-stock.csv"'})


@get("/channels/{channel_id:int}/stock/listings/{listing_id:int}", name="channel_stock_listing")
async def listing_override(request: Request, channel_id: FromPath[int], listing_id: FromPath[int]) -> Response:
    actor = require(request, "inventory.view")
    got = await cs.listing_override(actor, channel_id, listing_id)
    page = await cs.list_listings(actor, channel_id, listing_ids=[listing_id], first=1)
    context = await _page_context(request, channel_id)
    context.update(listing=page.items[0], override=got["policy"],
                   form=_policy_form(got["policy"] or context["settings"]["policy"]))
    return await render(request, "channel_stock/listing.html", context)


@post("/channels/{channel_id:int}/stock/listings/{listing_id:int}", name="channel_stock_listing_save")
async def listing_override_save(request: Request, channel_id: FromPath[int], listing_id: FromPath[int]) -> Response:
    actor = require(request, "inventory.manage")
    _ = translator(request)
    data = await _submitted(request)
    try:
        await cs.update_policy(actor, channel_id, data, listing_id=listing_id)
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        got = await cs.listing_override(actor, channel_id, listing_id)
        page = await cs.list_listings(actor, channel_id, listing_ids=[listing_id], first=1)
        context = await _page_context(request, channel_id)
        context.update(listing=page.items[0], override=got["policy"], form=data,
                       errors=policy_errors(request, exc))
        return await render(request, "channel_stock/listing.html", context, status=422)
    flash(request, _("This listing now has its own stock policy."))
    return redirect(request, f"/channels/{channel_id}/stock")


@post("/channels/{channel_id:int}/stock/listings/{listing_id:int}/remove", name="channel_stock_listing_remove")
async def listing_override_remove(request: Request, channel_id: FromPath[int], listing_id: FromPath[int]) -> Response:
    actor = require(request, "inventory.manage")
    _ = translator(request)
    await cs.remove_override(actor, channel_id, listing_id)
    flash(request, _("The listing follows the channel's policy again."))
    return redirect(request, f"/channels/{channel_id}/stock")


ROUTES = [stock_overview, stock_index, stock_policy, stock_resync, stock_push_selected, stock_export,
          listing_override, listing_override_save, listing_override_remove]

