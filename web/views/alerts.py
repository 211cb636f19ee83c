"""Stock alerts (库存预警): the alerts list (status filter, keyset pages, bulk acknowledge, CSV export)
and the rules that open them (create, edit, delete). Thin: everything goes through
server.inventory.alerts, which authorizes and validates."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from server.core import clock
from server.core.errors import DomainError, ErrorList
from server.inventory import alerts
from server.inventory import service as inventory
from web import nav
from web.access import request_language, require, translator
from web.messages import error_message
from web.nav import N_
from web.templating import flash, is_htmx, redirect, render, url_with
from web.views._common import PAGE_SIZE, form_data

nav.register("alerts", N_("Alerts"), "/alerts", permission="inventory.view", icon="alert", order=55,
             description=N_("Low stock alerts and the rules that raise them"))

STATUS_LABELS = {
    "open": N_("Open"),
    "acknowledged": N_("Acknowledged"),
    "resolved": N_("Resolved"),
}
KIND_LABELS = {
    "threshold": N_("Threshold"),
    "days_of_cover": N_("Days of cover"),
}
STATUS_FILTERS = ("active", "open", "acknowledged", "resolved", "all")
EXPORT_LIMIT = 100_000
# service field -> the form input it belongs to
FORM_FIELDS = {"ids": "_form", "id": "_form"}


# -- errors ----------------------------------------------------------------------------------------

def rule_errors(request: Request, exc: DomainError) -> dict[str, str]:
    """{form field: translated message} for every error of a rule form."""
    _ = translator(request)
    out: dict[str, str] = {}
    for err in (exc.errors if isinstance(exc, ErrorList) else [exc]):
        field = FORM_FIELDS.get(err.field or "", err.field or "_form")
        out.setdefault(field, _message(request, _, err))
    return out


def _message(request: Request, _: Callable[[str], str], exc: DomainError) -> str:
    code, field = exc.code, exc.field
    if code == "unknown_sku":
        return _("There is no SKU with this code.")
    if code == "unknown_warehouse":
        return _("Choose one of your warehouses.")
    if code == "unknown_category":
        return _("No SKU is in this category.")
    if code == "kit_not_stocked":
        return _("This SKU is a kit: watch its components; the kit's availability follows them.")
    if field == "sku" and code == "required":
        return _("Choose a SKU or a category to watch.")
    if field == "sku" and code == "invalid":
        return _("Watch either one SKU or a category, not both.")
    if field == "kind":
        return _("Choose a threshold or days of cover.")
    if field == "threshold":
        return _("Enter a whole number of units, 0 or more.")
    if field == "cover_days":
        return _("Enter a number of days greater than 0.")
    if field == "demand_days":
        return _("Enter a whole number of days from 1 to 365.")
    if code == "invalid_email":
        return _("Enter email addresses separated by commas.")
    if code == "too_many":
        return _("At most 20 recipients.")
    return error_message(exc, request_language(request))


# -- alerts ----------------------------------------------------------------------------------------

def _filters(status: str, q: str) -> dict:
    return {"status": status if status in STATUS_FILTERS else "active", "q": q.strip()}


async def _page(request: Request, filters: dict, *, after: str | None = None, first: int = PAGE_SIZE):
    actor = require(request, "inventory.view")
    status = None if filters["status"] == "all" else filters["status"]
    return await alerts.list_alerts(actor, status=status, sku=filters["q"] or None, first=first, after=after or None)


async def _list_context(request: Request, filters: dict, after: str | None) -> dict:
    return {"page": await _page(request, filters, after=after), "filters": filters,
            "status_labels": STATUS_LABELS, "kind_labels": KIND_LABELS}


@get("/alerts", name="alerts")
async def alerts_index(request: Request, status: FromQuery[str] = "active", q: FromQuery[str] = "",
                       after: FromQuery[str | None] = None) -> Response:
    actor = require(request, "inventory.view")
    context = await _list_context(request, _filters(status, q), after)
    if is_htmx(request):
        return await render(request, "alerts/_rows.html" if after else "alerts/_list.html", context)
    context.update({"nav_key": "alerts", "open_count": await alerts.open_count(actor)})
    return await render(request, "alerts/index.html", context)


@post("/alerts/acknowledge", name="alerts_acknowledge")
async def alerts_acknowledge(request: Request) -> Response:
    actor = require(request, "inventory.adjust")
    form = await request.form()
    _ = translator(request)
    filters = _filters(str(form.get("status", "active")), str(form.get("q", "")))
    ids = [int(v) for v in form.getall("ids", []) if str(v).isdigit()]
    message, level = "", "success"
    try:
        done = await alerts.acknowledge(actor, ids)
        message = _("%(n)s alerts acknowledged.") % {"n": len(done)}
    except DomainError as exc:
        if exc.status in (403, 404) and exc.code != "not_found":
            raise
        message = _("Select the alerts to acknowledge first.") if exc.code == "required" else \
            error_message(exc, request_language(request))
        level = "error"
    if is_htmx(request):
        context = await _list_context(request, filters, None)
        context["notice"] = {"level": level, "message": message}
        return await render(request, "alerts/_list.html", context, status=200 if level == "success" else 422)
    flash(request, message, level)
    return redirect(request, url_with("/alerts", filters))


@get("/alerts/export.csv", name="alerts_export")
async def alerts_export(request: Request, status: FromQuery[str] = "active", q: FromQuery[str] = "",
                        ids: FromQuery[list[int] | None] = None) -> Response:
    """The alerts matching the filters (or only the selected `ids`), as CSV (UTF-8 with BOM)."""
    require(request, "inventory.view")
    filters = _filters(status, q)
    wanted = set(ids or [])
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "status", "sku", "name", "warehouse", "kind", "rule", "available", "available_now", "threshold",
                     "cover_days", "daily_demand", "days_of_cover", "opened_at", "acknowledged_at",
                     "acknowledged_by", "resolved_at"])
    after, written = None, 0
    while written < EXPORT_LIMIT:
        page = await _page(request, filters, after=after, first=1000)
        for a in page.items:
            if wanted and a["id"] not in wanted:
                continue
            writer.writerow([a["id"], a["status"], a["sku_code"], a["sku_name"], a["warehouse_code"] or "*",
                             a["kind"], a["rule_name"], a["available"], a["available_now"], _blank(a["threshold"]),
                             _blank(a["cover_days"]), round(a["daily_demand"] or 0, 2),
                             "" if a["days_of_cover"] is None else round(a["days_of_cover"], 1),
                             _iso(a["opened_at"]), _iso(a["acknowledged_at"]), a["acknowledged_by"],
                             _iso(a["resolved_at"])])
            written += 1
        if not page.has_next:
            break
        after = page.end_cursor
    name = f"stock-alerts-{clock.now():%Y%m%d-%H%M}.csv"
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def _blank(value: object) -> object:
    return "" if value is None else value


def _iso(value) -> str:
    return value.isoformat() if value else ""


# -- rules -----------------------------------------------------------------------------------------

RULE_FORM_DEFAULTS = {"kind": "threshold", "target": "sku", "threshold": "", "cover_days": "", "demand_days": "14",
                      "sku": "", "category": "", "warehouse": "", "recipients": "", "name": "", "active": "1"}


def _form_from_rule(rule: dict) -> dict:
    return {"kind": rule["kind"], "target": "category" if rule["category"] else "sku", "sku": rule["sku_code"] or "",
            "category": rule["category"] or "", "warehouse": rule["warehouse_code"] or "",
            "threshold": "" if rule["threshold"] is None else str(rule["threshold"]),
            "cover_days": "" if rule["cover_days"] is None else f"{rule['cover_days']:g}",
            "demand_days": str(rule["demand_days"]), "recipients": ", ".join(rule["recipients"]),
            "name": rule["name"], "active": "1" if rule["active"] else ""}


def _rule_data(form: dict) -> dict:
    """Form fields -> service fields (the target radio picks SKU or category; the other is cleared)."""
    target = form.get("target", "sku")
    kind = form.get("kind", "")
    return {"name": form.get("name", ""), "kind": kind,
            "sku": form.get("sku", "") if target == "sku" else "",
            "category": form.get("category", "") if target == "category" else "",
            "warehouse": form.get("warehouse", ""),
            "threshold": form.get("threshold", "") if kind == "threshold" else None,
            "cover_days": form.get("cover_days", "") if kind == "days_of_cover" else None,
            "demand_days": form.get("demand_days", "") or "14", "recipients": form.get("recipients", ""),
            "active": form.get("active") == "1"}


async def _choices(request: Request) -> dict:
    actor = require(request, "inventory.view")
    from server.inventory import queries  # noqa: PLC0415 - the categories list lives with the stock queries

    return {"warehouses": await inventory.list_warehouses(actor), "categories": await queries.categories(actor),
            "kind_labels": KIND_LABELS}


async def _rules_context(request: Request, after: str | None) -> dict:
    actor = require(request, "inventory.view")
    return {"rules": await alerts.list_rules(actor, first=PAGE_SIZE, after=after or None), "kind_labels": KIND_LABELS}


@get("/alerts/rules", name="alert_rules")
async def alert_rules(request: Request, after: FromQuery[str | None] = None) -> Response:
    context = await _rules_context(request, after)
    if is_htmx(request):
        return await render(request, "alerts/_rule_rows.html" if after else "alerts/_rules.html", context)
    context.update(await _choices(request))
    context.update({"nav_key": "alerts", "form": dict(RULE_FORM_DEFAULTS)})
    return await render(request, "alerts/rules.html", context)


@post("/alerts/rules", name="alert_rules_create")
async def alert_rules_create(request: Request) -> Response:
    actor = require(request, "inventory.manage")
    data = await form_data(request)
    _ = translator(request)
    context: dict = {"form": {**RULE_FORM_DEFAULTS, **data}}
    context.update(await _choices(request))
    status = 200
    try:
        rule = await alerts.create_rule(actor, _rule_data(data))
        context.update({"created": rule, "form": dict(RULE_FORM_DEFAULTS)})
    except DomainError as exc:
        if exc.status == 403:
            raise
        context["errors"] = rule_errors(request, exc)
        status = 422
    if is_htmx(request):
        headers = {"HX-Trigger": "rules-changed"} if status == 200 else None
        return await render(request, "alerts/_rule_create.html", context, status=status, headers=headers)
    if status == 200:
        flash(request, _("Rule created."))
        return redirect(request, "/alerts/rules")
    context.update(await _rules_context(request, None))
    context["nav_key"] = "alerts"
    return await render(request, "alerts/rules.html", context, status=status)


@get("/alerts/rules/{rule_id:int}", name="alert_rule_edit")
async def alert_rule_edit(request: Request, rule_id: FromPath[int]) -> Response:
    actor = require(request, "inventory.view")
    rule = await alerts.get_rule(actor, rule_id)
    context = {"nav_key": "alerts", "rule": rule, "form": _form_from_rule(rule)}
    context.update(await _choices(request))
    return await render(request, "alerts/rule.html", context)


@post("/alerts/rules/{rule_id:int}", name="alert_rule_update")
async def alert_rule_update(request: Request, rule_id: FromPath[int]) -> Response:
    actor = require(request, "inventory.manage")
    data = await form_data(request)
    _ = translator(request)
    rule = await alerts.get_rule(actor, rule_id)
    try:
        await alerts.update_rule(actor, rule_id, _rule_data(data))
    except DomainError as exc:
        if exc.status == 403 or (exc.status == 404 and exc.field == "id"):
            raise
        context = {"nav_key": "alerts", "rule": rule, "form": {**RULE_FORM_DEFAULTS, **data},
                   "errors": rule_errors(request, exc)}
        context.update(await _choices(request))
        template = "alerts/_rule_form.html" if is_htmx(request) else "alerts/rule.html"
        return await render(request, template, context, status=422)
    flash(request, _("Changes saved."))
    return redirect(request, f"/alerts/rules/{rule_id}")


@post("/alerts/rules/{rule_id:int}/delete", name="alert_rule_delete")
async def alert_rule_delete(request: Request, rule_id: FromPath[int]) -> Response:
    actor = require(request, "inventory.manage")
    _ = translator(request)
    rule = await alerts.delete_rule(actor, rule_id)
    if is_htmx(request) and request.headers.get("hx-target", "").startswith("rule-"):
        return Response(b"", status_code=200, media_type="text/html", headers={"HX-Trigger": "rules-changed"})
    flash(request, _("Rule %(name)s deleted; its open alerts are resolved.") % {"name": rule["name"] or f"#{rule['id']}"})
    return redirect(request, "/alerts/rules")


ROUTES = [alerts_index, alerts_acknowledge, alerts_export, alert_rules, alert_rules_create, alert_rule_edit,
          alert_rule_update, alert_rule_delete]
