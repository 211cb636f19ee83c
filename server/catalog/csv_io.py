"""SKU CSV export and import. Rows create SKUs or update the existing SKU with the same code, through
catalog.service (its validator decides what a good row is; create_sku/update_sku do the writing).

Import format: one SKU per row. Columns (header names are case-insensitive; Chinese aliases work):
  code (编码 / SKU编码, required), name (名称, required for new SKUs), barcode (条码), spec (规格),
  category (分类), weight_g (重量(g), whole grams), cost (成本), list_price (售价) — decimal amounts
  in the row's currency — currency (币种, ISO code, default CNY for new SKUs), active (true/false/是/否).
For an existing SKU a blank cell leaves that field unchanged, so a file with only `code,cost` updates
costs. The export writes exactly these columns, so export → edit in Excel → import round-trips.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from server.audit import service as audit
from server.auth import policy
from server.catalog import service as catalog
from server.core.actor import Actor
from server.core.csvimport import (
    Columns,
    CsvWriter,
    ImportItem,
    ImportPreview,
    ImportResult,
    RowError,
    apply_rows,
    check_mode,
    file_digest,
    finish,
    parse_bool,
    read_table,
    row_errors,
    safe_cell,
)
from server.core.errors import DomainError, ErrorList
from server.core.money import from_minor

EXPORT_COLUMNS = ["code", "name", "barcode", "spec", "category", "weight_g", "cost", "list_price", "currency",
                  "active"]

COLUMNS = Columns(aliases={
    "code": ("sku", "sku code", "sku_code", "编码", "SKU编码", "SKU 编码", "商品编码", "货号", "sku编号"),
    "name": ("名称", "商品名称", "品名", "title"),
    "barcode": ("条码", "条形码", "ean", "upc", "gtin"),
    "spec": ("规格", "规格型号", "specification", "variant"),
    "category": ("分类", "类目", "品类"),
    "weight_g": ("weight", "weight (g)", "重量", "重量(g)", "重量（克）", "重量(克)"),
    "cost": ("成本", "成本价", "cost price"),
    "list_price": ("price", "list price", "售价", "销售价", "零售价", "价格"),
    "currency": ("币种", "货币"),
    "active": ("启用", "是否启用", "状态", "enabled"),
}, required=("code",))

# catalog.service error fields -> CSV columns
_FIELDS = {"weightG": "weight_g", "cost_minor": "cost", "list_price_minor": "list_price", "product": "code"}

                     # cached subtransactions
_PLANNED = {"created": "create", "updated": "update"}


def export_skus_csv(actor: Actor, *, search: str = "", category: str = "", active: bool | None = None,
                    batch: int = 500, ids: list[int] | None = None) -> AsyncIterator[str]:
    """Stream the SKUs matching the filter as CSV text chunks (UTF-8 with BOM, so Excel shows Chinese).

    The permission is checked here, when called, so a page answers 403 before it starts streaming.
    """
    policy.authorize(actor, "catalog.view")
    return _export(actor, search=search, category=category, active=active, batch=batch, ids=ids)


async def _export(actor: Actor, *, search: str, category: str, active: bool | None, batch: int,
                  ids: list[int] | None = None) -> AsyncIterator[str]:
    out = CsvWriter(EXPORT_COLUMNS)
    yield out.take()
    after = None
    while True:
        page = await catalog.list_skus(actor, first=batch, after=after, search=search, category=category,
                                       active=active, ids=ids)
        for s in page.items:
            out.add([safe_cell(s["code"]), safe_cell(s["name"]), safe_cell(s["barcode"]), safe_cell(s["spec"]),
                     safe_cell(s["category"]), s["weight_g"], from_minor(s["cost_minor"], s["currency"]),
                     from_minor(s["list_price_minor"], s["currency"]), s["currency"],
                     "true" if s["active"] else "false"])
        chunk = out.take()
        if chunk:
            yield chunk
        if not page.has_next:
            return
        after = page.end_cursor


async def preview_sku_import(actor: Actor, data: bytes) -> ImportPreview:
    """What importing `data` would do, row by row, with every problem; writes nothing."""
    policy.authorize(actor, "catalog.manage")
    preview, _ = await _plan(actor, data)
    return preview


async def apply_sku_import(actor: Actor, data: bytes, mode: str = "all_or_nothing") -> ImportResult:
    """Import `data`: with mode "all_or_nothing" nothing is written if any row is bad; with "good_rows"
    the good rows are written and the bad ones reported. One audit entry sums the import up."""
    policy.authorize(actor, "catalog.manage")
    check_mode(mode)
    preview, payloads = await _plan(actor, data)
    result = ImportResult(kind=preview.kind, rows=preview.rows, columns=preview.columns, items=preview.items,
                          warnings=preview.warnings, mode=mode)
    todo = [(item, payloads[n]) for n, item in enumerate(result.items) if item.action in ("create", "update")]

    async def write_row(item: ImportItem, payload: dict[str, Any]) -> None:
        item.info["id"] = (await _save(actor, item, payload))["id"]

    await apply_rows(result, todo, write_row, lambda: _audit(actor, result, data), planned=_PLANNED,
                     fields=_FIELDS)
    if not result.applied:
        for item, _ in todo:
            if item.action == "create":
                item.info.pop("id", None)     # rolled back: the SKU does not exist
    return result


async def _save(actor: Actor, item: ImportItem, payload: dict[str, Any]) -> dict:
    if item.action == "create":
        sku = await catalog.create_sku(actor, payload)
        item.action = "created"
    else:
        sku = await catalog.update_sku(actor, item.info["id"], payload)
        item.action = "updated"
    return sku


async def _audit(actor: Actor, result: ImportResult, data: bytes) -> None:
    counts = result.counts()
    await audit.record(actor, "sku.import", "csv_import", file_digest(data), after={
        "mode": result.mode, "rows": result.rows, "created": counts.get("created", 0),
        "updated": counts.get("updated", 0), "unchanged": counts.get("unchanged", 0),
        "failed": counts.get("error", 0)})


async def _plan(actor: Actor, data: bytes) -> tuple[ImportPreview, list[dict[str, Any]]]:
    """Read and check every row; per item the payload for create_sku / update_sku."""
    table = read_table(data, COLUMNS)
    existing = await catalog.skus_by_ref(actor, [r.get("code") for r in table.rows], by_id=False)
    preview = ImportPreview(kind="sku", rows=len(table.rows), columns=table.columns, warnings=table.warnings)
    payloads: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    for row in table.rows:
        code = row.get("code")
        item = ImportItem(key=code, lines=[row.line], action="error", errors=list(row.errors))
        raw: dict[str, Any] = {k: v for k, v in row.values.items() if v != "" and k != "active"}
        if row.get("active"):
            try:
                raw["active"] = parse_bool(row.get("active"))
            except ValueError:
                item.errors.append(RowError(row.line, "active", "invalid",
                                            f"active must be true or false (是/否), not {row.get('active')!r}"))
        if code in first_line:
            item.errors.append(RowError(row.line, "code", "duplicate_in_file",
                                        f"SKU {code!r} is already on line {first_line[code]}"))
        elif code:
            first_line[code] = row.line
        current = existing.get(code) if code else None
        if current is not None:
            raw.setdefault("currency", current["currency"])   # amounts are in the SKU's own currency
        try:
            clean = catalog.validate_sku(raw, partial=current is not None)
        except ErrorList as exc:
            item.errors += _row_errors(row.line, exc)
            clean = {}
        payload: dict[str, Any] = raw
        if item.errors:
            item.action = "error"
        elif current is None:
            item.action = "create"
        else:
            payload = {k: v for k, v in clean.items() if current.get(k) != v}
            item.action = "update" if payload else "unchanged"
            item.info = {"id": current["id"], "changes": {k: [current.get(k), v] for k, v in payload.items()}}
        preview.items.append(item)
        payloads.append(payload)
    return finish(preview), payloads


def _row_errors(line: int, exc: DomainError) -> list[RowError]:
    return row_errors(line, exc, _FIELDS)


LISTING_EXPORT_COLUMNS = ["channel", "platform", "platform_product_id", "platform_sku_id", "platform_sku_code",
                          "title", "sku", "match_method", "waiting_orders"]


def export_listings_csv(actor: Actor, *, channel_id: int | None = None, unmatched: bool | None = None,
                        search: str = "", ids: list[int] | None = None, batch: int = 500) -> AsyncIterator[str]:
    """Stream channel listings matching the filter (or the given ids) as CSV text chunks."""
    policy.authorize(actor, "catalog.view")
    return _export_listings(actor, channel_id=channel_id, unmatched=unmatched, search=search, ids=ids, batch=batch)


async def _export_listings(actor: Actor, *, channel_id: int | None, unmatched: bool | None, search: str,
                           ids: list[int] | None, batch: int) -> AsyncIterator[str]:
    out = CsvWriter(LISTING_EXPORT_COLUMNS)
    yield out.take()
    after = None
    while True:
        page = await catalog.list_listings(actor, channel_id=channel_id, unmatched=unmatched, search=search,
                                           ids=ids, first=batch, after=after)
        for row in page.items:
            out.add([safe_cell(row["channel_name"]), row["platform"], safe_cell(row["platform_product_id"]),
                     safe_cell(row["platform_sku_id"]), safe_cell(row["platform_sku_code"]),
                     safe_cell(row["title"]), safe_cell(row["sku_code"] or ""), row["match_method"],
                     row["waiting_orders"]])
        chunk = out.take()
        if chunk:
            yield chunk
        if not page.has_next:
            return
        after = page.end_cursor
