"""Other ways in: the staff order form (offline stores, POS, phone orders) and the order CSV import
(upload → preview with every bad row → import only the good orders or nothing → result).

Thin: orders are created by server.orders.service.create_order and imported by
server.orders.csv_import, which validate, authorize and audit. The uploaded file is kept on the
server between the preview and the import (ImportUploads), so what is imported is exactly what was
previewed.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import re
import secrets
import time
from pathlib import Path

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromQuery

from server.channels import service as channels
from server.core.csvimport import MAX_BYTES, ImportFileError
from server.core.errors import DomainError, ErrorList, NotFound, ValidationError
from server.core.i18n import gettext_for
from server.orders import csv_import
from server.orders import service as orders
from server.orders.service import LineInput, OrderInput, ReceiverInput
from server.settings import get_settings
from web.access import request_language, require, translator
from web.messages import error_message
from web.nav import N_
from web.templating import flash, is_htmx, redirect, render
from web.views._csv_import import file_error
from web.views.order_detail import sku_options

# -- the staff order form -----------------------------------------------------------------------

FORM_FIELDS = ("channel", "external_id", "receiver_name", "receiver_phone", "country_code", "province", "city",
               "district", "address", "postcode", "shipping_fee", "buyer_note", "idempotency_key")
LINE_FIELDS = ("sku", "quantity", "unit_price")
# create_order's error fields -> the form's fields
_FIELDS = {"externalId": "external_id", "receiver.name": "receiver_name", "shippingFee": "shipping_fee",
           "channel": "channel", "currency": "_form", "lines": "lines"}
_LINE_FIELD = re.compile(r"lines\.(\d+)\.(\w+)")
_LINE_KEYS = {"sku": "sku", "quantity": "quantity", "unitPrice": "unit_price", "discount": "unit_price"}
_LINE_PREFIX = re.compile(r"^[Ll]ine \d+: ")
STAFF_PLATFORMS = ("pos", "website")   # listed first: the channels staff orders usually belong to


async def _channel_choices(actor) -> list[tuple[str, str]]:
    rows = await channels.list_channels(actor)
    rows.sort(key=lambda c: (c["platform"] not in STAFF_PLATFORMS, STAFF_PLATFORMS.index(c["platform"])
                             if c["platform"] in STAFF_PLATFORMS else 0, c["id"]))
    return [(str(c["id"]), f"{c['name']} · {c.get('display_platform') or c['platform']}") for c in rows]


def _new_key() -> str:
    return secrets.token_hex(12)


async def _form_context(request: Request, actor, form: dict, lines: list[dict], **extra: object) -> dict:
    return {"nav_key": "orders", "form": form, "lines": lines or [{}], "channels": await _channel_choices(actor),
            "errors": {}, "line_errors": [{} for _ in (lines or [{}])], **extra}


@get("/orders/new", name="order_new")
async def order_new(request: Request) -> Response:
    actor = require(request, "orders.create")
    form = {"country_code": "CN", "paid": "1", "idempotency_key": _new_key()}
    context = await _form_context(request, actor, form, [{"quantity": "1"}])
    if context["channels"]:
        form["channel"] = context["channels"][0][0]
    return await render(request, "orders/new.html", context)


@get("/orders/new/line", name="order_new_line")
async def order_new_line(request: Request) -> Response:
    """One more empty line row (the form's "add line" button)."""
    require(request, "orders.create")
    return await render(request, "orders/new_line.html", {"line": {"quantity": "1"}, "line_error": {}})


@get("/orders/new/sku-options", name="order_new_sku_options")
async def order_new_sku_options(request: Request, sku: FromQuery[str] = "", q: FromQuery[str] = "") -> Response:
    return await sku_options(request, q or sku)


def _read_lines(form) -> list[dict]:
    """The submitted line rows, in order, without the rows left completely empty."""
    columns = {name: [str(v).strip() for v in form.getall(name, [])] for name in LINE_FIELDS}
    count = max((len(v) for v in columns.values()), default=0)
    rows = [{name: (columns[name][i] if i < len(columns[name]) else "") for name in LINE_FIELDS}
            for i in range(count)]
    return [r for r in rows if any(r.values())]


def _quantity(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text  # create_order reports it as not a positive whole number


# errors whose generic text would say too little on this form
_FORM_MESSAGES = {
    ("lines", "required"): N_("Add at least one line with a SKU code and a quantity."),
    ("channel", "not_found"): N_("Choose one of your channels."),
    ("channel", "required"): N_("Choose the channel this order belongs to."),
}


def _form_errors(exc: DomainError, lang: str, line_count: int) -> tuple[dict[str, str], list[dict[str, str]]]:
    """create_order's errors as {form field: message} plus one such dict per line row."""
    errors: dict[str, str] = {}
    line_errors: list[dict[str, str]] = [{} for _ in range(max(line_count, 1))]
    for e in (exc.errors if isinstance(exc, ErrorList) and exc.errors else [exc]):
        m = _LINE_FIELD.fullmatch(e.field or "")
        special = _FORM_MESSAGES.get((e.field or "", e.code))
        message = gettext_for(lang).gettext(special) if special else _LINE_PREFIX.sub("", error_message(e, lang))
        message = message[:1].upper() + message[1:]
        if m and int(m[1]) < len(line_errors):
            line_errors[int(m[1])].setdefault(_LINE_KEYS.get(m[2], "sku"), message)
        else:
            errors.setdefault(_FIELDS.get(e.field or "", "_form"), message)
    return errors, line_errors


@post("/orders/new", name="order_create")
async def order_create(request: Request) -> Response:
    actor = require(request, "orders.create")
    raw = await request.form()
    form = {k: str(raw.get(k, "")).strip() for k in FORM_FIELDS}
    form["paid"] = "1" if raw.get("paid") else ""
    lines = _read_lines(raw)
    _ = translator(request)
    key = form["idempotency_key"] or _new_key()
    form["idempotency_key"] = key
    # A double submit sends the same hidden key: create_order hands back the first order.
    external_id = form["external_id"] or f"STAFF-{key[:10].upper()}"
    data = OrderInput(
        channel=form["channel"], external_id=external_id, idempotency_key=key, paid=bool(form["paid"]),
        lines=[LineInput(sku=ln["sku"], quantity=_quantity(ln["quantity"]), unit_price=ln["unit_price"] or None)
               for ln in lines],
        receiver=ReceiverInput(name=form["receiver_name"], phone=form["receiver_phone"],
                               country_code=form["country_code"] or "CN", province=form["province"],
                               city=form["city"], district=form["district"], address=form["address"],
                               postcode=form["postcode"]),
        shipping_fee=form["shipping_fee"] or None, buyer_note=form["buyer_note"])
    try:
        if not form["channel"]:
            raise ValidationError("choose the channel this order belongs to", code="required", field="channel")
        order, created = await orders.create_order(actor, data, source="staff")
    except DomainError as exc:
        if exc.status == 403 or (exc.status == 404 and exc.field not in ("channel", "sku")):
            raise
        errors, line_errors = _form_errors(exc, request_language(request), len(lines))
        context = await _form_context(request, actor, form, lines, errors=errors, line_errors=line_errors)
        if is_htmx(request):
            return await render(request, "orders/new_form.html", context, status=422)
        return await render(request, "orders/new.html", context, status=422)
    if created:
        flash(request, _("Order %(number)s created.") % {"number": order["order_number"]})
    else:
        flash(request, _("Order %(number)s was already created by this form; nothing new was added.")
              % {"number": order["order_number"]}, "info")
    return redirect(request, f"/orders/{order['id']}")


# -- the CSV import -----------------------------------------------------------------------------

TEMPLATE_HEADER = ["external_id", "channel", "placed_at", "paid", "currency", "receiver_name", "receiver_phone",
                   "country_code", "province", "city", "district", "address", "postcode", "sku", "quantity",
                   "unit_price", "shipping_fee", "buyer_note"]
TEMPLATE_ROWS = [
    ["POS-1001", "", "2026-11-20 14:30", "true", "CNY", "张三", "13800138000", "CN", "广东省", "深圳市", "南山区",
     "科技园路1号", "518000", "YOUR-SKU-1", "2", "99.00", "10.00", "请轻放"],
    ["POS-1001", "", "", "", "", "", "", "", "", "", "", "", "", "YOUR-SKU-2", "1", "", "", ""],
]
UPLOAD_TTL_S = 24 * 3600
PREVIEW_ITEMS = 50


class ImportUploads:
    """Uploaded files between preview and import: one file per token under the data folder, with who
    uploaded it (only the same user of the same merchant may import it) and its SHA-256."""

    def __init__(self, root: Path | None = None):
        self.root = root or get_settings().data_dir / "uploads" / "order-import"

    def _paths(self, token: str) -> tuple[Path, Path]:
        if not re.fullmatch(r"[A-Za-z0-9_-]{20,64}", token or ""):
            raise NotFound("this upload has expired; upload the file again", code="upload_expired", field="token")
        return self.root / f"{token}.csv", self.root / f"{token}.json"

    def save(self, actor, data: bytes, filename: str, channel: str) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        self.sweep()
        token = secrets.token_urlsafe(24)
        body, meta = self._paths(token)
        body.write_bytes(data)
        meta.write_text(json.dumps({"merchant_id": actor.merchant_id, "user_id": actor.user_id, "filename": filename,
                                    "channel": channel, "sha256": hashlib.sha256(data).hexdigest(),
                                    "size": len(data), "at": time.time()}))
        return token

    def load(self, actor, token: str) -> tuple[bytes, dict]:
        body, meta_path = self._paths(token)
        try:
            meta = json.loads(meta_path.read_text())
            data = body.read_bytes()
        except (OSError, ValueError) as exc:
            raise NotFound("this upload has expired; upload the file again", code="upload_expired",
                           field="token") from exc
        if (meta.get("merchant_id"), meta.get("user_id")) != (actor.merchant_id, actor.user_id) \
                or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            raise NotFound("this upload has expired; upload the file again", code="upload_expired", field="token")
        return data, meta

    def delete(self, token: str) -> None:
        for path in self._paths(token):
            with contextlib.suppress(OSError):
                path.unlink()

    def sweep(self) -> None:
        cutoff = time.time() - UPLOAD_TTL_S
        for path in self.root.glob("*"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()


def uploads() -> ImportUploads:
    return ImportUploads()


async def _import_context(request: Request, actor, **extra: object) -> dict:
    choices = await _channel_choices(actor)
    return {"nav_key": "orders", "channels": choices, "errors": {}, "channel": "", **extra}


async def _import_page(request: Request, context: dict, fragment: str, status: int = 200) -> Response:
    if is_htmx(request):
        return await render(request, fragment, context, status=status)
    return await render(request, "orders/import.html", context, status=status)


@get("/orders/import", name="order_import")
async def order_import(request: Request) -> Response:
    actor = require(request, "orders.create")
    return await render(request, "orders/import.html", await _import_context(request, actor))


@get("/orders/import/template.csv", name="order_import_template")
async def order_import_template(request: Request) -> Response:
    require(request, "orders.create")
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(TEMPLATE_HEADER)
    writer.writerows(TEMPLATE_ROWS)
    return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="orders-import-template.csv"'})


@post("/orders/import", name="order_import_preview")
async def order_import_preview(request: Request) -> Response:
    """Upload → keep the file → preview: counts, the first orders, every bad row by its line."""
    actor = require(request, "orders.create")
    _ = translator(request)
    raw = await request.form()
    upload = raw.get("file")
    channel = str(raw.get("channel", "")).strip()
    context = await _import_context(request, actor, channel=channel)
    if not isinstance(upload, UploadFile) or not upload.filename:
        context["errors"] = {"file": _("Choose a CSV file to upload.")}
        return await _import_page(request, context, "orders/import_upload.html", 422)
    data = await upload.read(MAX_BYTES + 1)
    try:
        preview = await csv_import.preview_order_import(actor, data, channel or None)
    except DomainError as exc:
        if exc.status == 403:
            raise
        context["errors"] = {"file": file_error(request, exc, with_line=isinstance(exc, ImportFileError))}
        return await _import_page(request, context, "orders/import_upload.html", 422)
    token = uploads().save(actor, data, upload.filename, channel)
    context.update(preview=preview, report=preview, counts=preview.counts(), token=token, filename=upload.filename,
                   items=preview.items[:PREVIEW_ITEMS], mode="good_rows" if preview.errors else "all_or_nothing")
    return await _import_page(request, context, "orders/import_preview.html")


@post("/orders/import/commit", name="order_import_commit")
async def order_import_commit(request: Request) -> Response:
    """Import the kept file as the preview showed it, in the mode chosen."""
    actor = require(request, "orders.create")
    raw = await request.form()
    token, mode = str(raw.get("token", "")), str(raw.get("mode", ""))
    store = uploads()
    try:
        data, meta = store.load(actor, token)
        result = await csv_import.apply_order_import(actor, data, mode, meta.get("channel") or None)
    except DomainError as exc:
        if exc.status == 403:
            raise
        context = await _import_context(request, actor, errors={"file": error_message(exc, request_language(request))})
        return await _import_page(request, context, "orders/import_upload.html", 422)
    if result.applied:
        store.delete(token)
    context = await _import_context(request, actor, channel=meta.get("channel", ""))
    context.update(result=result, report=result, counts=result.counts(), filename=meta.get("filename", ""), token=token,
                   items=result.items[:PREVIEW_ITEMS])
    return await _import_page(request, context, "orders/import_result.html")


ROUTES = [order_new, order_new_line, order_new_sku_options, order_create, order_import, order_import_template,
          order_import_preview, order_import_commit]
