"""The home page: today's orders and sales per channel (an inline SVG chart), orders waiting per status,
channel sync health, and the areas you can open. Each panel shows only when the role may see it."""
from __future__ import annotations

from datetime import timedelta

from litestar import Request, Response, get

from server.analytics import dashboard as analytics
from server.auth import policy
from server.auth import service as auth_service
from server.channels import service as channels
from server.channels.connectors import registry
from server.core import clock
from server.inventory import alerts as stock_alerts
from server.orders import queries
from web import nav
from web.access import require
from web.formatting import utc_day_start, zone
from web.messages import ORDER_STATUS_LABELS, ORDER_STATUS_TONES
from web.nav import N_
from web.templating import is_htmx, render

nav.register("dashboard", N_("Dashboard"), "/", icon="home", order=0,
             description=N_("Your workspace at a glance"))




def chart_rows(figures: list[dict], currency: str) -> dict:
    """Bar lengths (0–100 % of the largest) for the orders and the sales (in `currency`) of each channel."""
    top_orders = max([f["orders"] for f in figures] + [0])
    top_sales = max([f["sales"].get(currency, 0) for f in figures] + [0])
    rows = []
    for f in figures:
        sales = f["sales"].get(currency, 0)
        rows.append({**f, "sales_main": sales,
                     "other_sales": sorted((c, v) for c, v in f["sales"].items() if c != currency and v),
                     "orders_pct": round(100 * f["orders"] / top_orders, 1) if top_orders else 0,
                     "sales_pct": round(100 * sales / top_sales, 1) if top_sales else 0})
    return {"rows": rows, "total_orders": sum(f["orders"] for f in figures),
            "total_sales": sum(f["sales"].get(currency, 0) for f in figures),
            "other_currencies": sorted({c for f in figures for c, v in f["sales"].items() if c != currency and v})}


async def _today(actor, currency: str) -> dict:
    day = clock.now().astimezone(zone(actor.timezone)).date()
    since = utc_day_start(day, actor.timezone)
    until = utc_day_start(day + timedelta(days=1), actor.timezone)
    figures = await analytics.orders_by_channel(actor, since, until)
    for f in figures:
        f["platform_name"] = registry.get(f["platform"]).display_name
    return {"day": since, **chart_rows(figures, currency)}


async def _panels(actor, merchant_currency: str) -> dict:
    context: dict = {"today": None, "waiting": None, "health": None}
    if policy.can(actor, "orders.view"):
        context["today"] = await _today(actor, merchant_currency)
        counts = await queries.status_counts(actor)
        context["waiting"] = [{"status": s, "label": ORDER_STATUS_LABELS[s], "tone": ORDER_STATUS_TONES[s],
                               "count": counts.get(s, 0)} for s in analytics.WAITING_STATUSES]
    if policy.can(actor, "channels.view"):
        rows = await channels.list_channels(actor)
        # failing first, then those whose last run failed, then by name
        context["health"] = sorted(rows, key=lambda c: (c["status"] != "failing", c["last_sync_ok"] is not False,
                                                        c["name"].lower()))
    return context


@get("/", name="dashboard")
async def dashboard(request: Request) -> Response:
    actor = require(request)
    user = await auth_service.current_user(actor)
    merchant = await auth_service.current_merchant(actor)
    currency = ((merchant or {}).get("currency") or "CNY").strip()
    context = {"currency": currency, "waiting_labels": ORDER_STATUS_LABELS, **await _panels(actor, currency)}
    if is_htmx(request):  # the live panels refresh on their own
        return await render(request, "dashboard/_panels.html", context)
    shortcuts = [item for item in nav.visible(actor) if item.key != "dashboard"]
    context.update({"nav_key": "dashboard", "user": user, "shortcuts": shortcuts,
                    "permissions": sorted(actor.permissions), "alerts_open": await stock_alerts.open_count(actor)})
    return await render(request, "dashboard/index.html", context)


ROUTES = [dashboard]
