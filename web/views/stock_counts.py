"""Stock counts (盘点) from CSV: upload → preview (every bad row by line) → import in the chosen mode,
and the count sheet to fill in. Thin: server/inventory/counts_csv.py does the work and authorizes."""
from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Stream

from server.inventory import counts_csv, warehouses
from web.access import require
from web.templating import is_htmx, render
from web.views._csv_import import MAX_IMPORT_BODY, preview_or_apply


@get("/inventory/counts/import", name="stock_counts_import")
async def counts_import(request: Request) -> Response:
    actor = require(request, "inventory.adjust")
    return await render(request, "stock_counts/import.html", {
        "nav_key": "transfers", "warehouses": await warehouses.list_warehouses(actor), "mode": "all_or_nothing"})


@get("/inventory/counts/sheet.csv", name="stock_counts_sheet")
async def counts_sheet(request: Request, warehouse: FromQuery[str] = "") -> Stream:
    actor = require(request, "inventory.view")
    chunks = counts_csv.export_count_sheet(actor, warehouse=warehouse.strip() or None)
    name = f"stock-count-{warehouse.strip() or 'all'}.csv"
    return Stream(content=chunks, media_type="text/csv; charset=utf-8",
                  headers={"Content-Disposition": f'attachment; filename="{name}"'})


@post("/inventory/counts/import", name="stock_counts_import_post", request_max_body_size=MAX_IMPORT_BODY)
async def counts_import_post(request: Request) -> Response:
    """step=preview: read the file and show every row's outcome; step=apply: import it in the chosen
    mode (the previewed file travels back in a hidden field)."""
    actor = require(request, "inventory.adjust")
    context: dict = {"nav_key": "transfers"}
    status = await preview_or_apply(request, context, lambda data: counts_csv.preview_count_import(actor, data),
                                    lambda data, mode: counts_csv.apply_count_import(actor, data, mode))
    if is_htmx(request):
        return await render(request, "stock_counts/_result.html", context, status=status)
    context["warehouses"] = await warehouses.list_warehouses(actor)
    return await render(request, "stock_counts/import.html", context, status=status)


ROUTES = [counts_import, counts_sheet, counts_import_post]
