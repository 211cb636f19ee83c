"""Stock counts (盘点) from CSV: upload → preview (every bad row by line) → import in the chosen mode,
and the count sheet to fill in. Thin: server/inventory/counts_csv.py does the work and authorizes."""
from __future__ import annotations

import base64
import binascii

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromQuery
from litestar.response import Stream

from server.core.errors import DomainError, ValidationError
from server.inventory import counts_csv, warehouses
from web.access import request_language, require, translator
from web.messages import error_message
from web.templating import is_htmx, render

MAX_IMPORT_BYTES = 20 * 1024 * 1024


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


@post("/inventory/counts/import", name="stock_counts_import_post", request_max_body_size=MAX_IMPORT_BYTES + 1024 * 1024)
async def counts_import_post(request: Request) -> Response:
    """step=preview: read the file and show every row's outcome; step=apply: import it in the chosen
    mode (the previewed file travels back in a hidden field)."""
    actor = require(request, "inventory.adjust")
    form = await request.form()
    _ = translator(request)
    step = str(form.get("step", "preview"))
    mode = str(form.get("mode", "all_or_nothing"))
    context: dict = {"nav_key": "transfers", "mode": mode}
    upload = form.get("file")
    data = b""
    if isinstance(upload, UploadFile):
        data = await upload.read()
        context["filename"] = upload.filename
    elif form.get("data_b64"):
        try:
            data = base64.b64decode(str(form.get("data_b64")), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        context["filename"] = str(form.get("filename", ""))
    status = 200
    try:
        if not data:
            raise ValidationError(_("Choose a CSV file to import."), code="required", field="file")
        if len(data) > MAX_IMPORT_BYTES:
            raise ValidationError(_("The file is larger than 20 MB. Split it into smaller files."),
                                  code="too_large", field="file")
        if step == "apply":
            context["result"] = await counts_csv.apply_count_import(actor, data, mode)
        else:
            context["preview"] = await counts_csv.preview_count_import(actor, data)
            context["data_b64"] = base64.b64encode(data).decode()
    except DomainError as exc:
        if exc.status in (403, 404):
            raise
        message = error_message(exc, request_language(request))
        line = (exc.details or {}).get("line")
        context["errors"] = {"file": _("Line %(line)s: %(message)s") % {"line": line, "message": message}
                             if line else message}
        status = 422
    if is_htmx(request):
        return await render(request, "stock_counts/_result.html", context, status=status)
    context["warehouses"] = await warehouses.list_warehouses(actor)
    return await render(request, "stock_counts/import.html", context, status=status)


ROUTES = [counts_import, counts_sheet, counts_import_post]
