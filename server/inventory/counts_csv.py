"""Stock counts (盘点) from CSV: each row sets one warehouse × SKU to the quantity counted; the
difference is an adjustment with the row's reason, written by stock.adjust(counted_quantity=…) like a
count typed in by hand (ledger movement, audit entry, backorders served when stock goes up).

Format: one row per warehouse × SKU. Columns (case-insensitive; Chinese aliases work):
  warehouse (仓库 / 仓库编码; code or id, required), sku (SKU编码 / 商品编码; code or id, required),
  counted_quantity (盘点数量 / 实盘数量; a whole number ≥ 0, required), reason (原因 / 备注; default
  "stocktake").
Preview reports every bad row with its file line: unknown warehouse or SKU, a kit (count its
components), a quantity that is not a whole number or is negative, the same warehouse × SKU twice,
and a count below the units reserved for orders (those are promised: release them first). The
import then writes nothing if any row is bad ("all_or_nothing") or only the good rows ("good_rows").
`export_count_sheet` writes today's on-hand figures in this format, to count against and re-import.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from server.audit import service as audit
from server.auth import policy
from server.catalog import service as catalog
from server.core import db
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
    read_table,
    safe_cell,
)
from server.inventory import stock
from server.inventory.warehouses import list_warehouses

COLUMNS = Columns(aliases={
    "warehouse": ("warehouse code", "warehouse_code", "仓库", "仓库编码", "仓库代码"),
    "sku": ("sku code", "sku_code", "code", "SKU编码", "商品编码", "编码", "货号"),
    "counted_quantity": ("counted", "count", "counted qty", "quantity", "qty", "盘点数量", "实盘数量", "实际数量",
                         "数量"),
    "reason": ("note", "原因", "备注", "调整原因"),
}, required=("warehouse", "sku", "counted_quantity"))
EXPORT_COLUMNS = ["warehouse", "sku", "counted_quantity", "reason"]
DEFAULT_REASON = "stocktake"
_DONE = {"update": "updated", "unchanged": "unchanged"}


async def preview_count_import(actor: Actor, data: bytes) -> ImportPreview:
    """What importing `data` would change, row by row, with every problem; writes nothing."""
    policy.authorize(actor, "inventory.adjust")
    return (await _plan(actor, data))[0]


async def apply_count_import(actor: Actor, data: bytes, mode: str = "all_or_nothing") -> ImportResult:
    """Apply the counts: "all_or_nothing" writes nothing when any row is bad (or fails while writing);
    "good_rows" writes the good rows and reports the bad ones. One audit entry sums the import up
    (besides each count's own)."""
    policy.authorize(actor, "inventory.adjust")
    check_mode(mode)
    preview, payloads = await _plan(actor, data)
    result = ImportResult(kind=preview.kind, rows=preview.rows, columns=preview.columns, items=preview.items,
                          warnings=preview.warnings, mode=mode)
    todo = [(item, payloads[n]) for n, item in enumerate(result.items) if item.action in _DONE]

    async def write_row(item: ImportItem, p: dict[str, Any]) -> None:
        level = await _count(actor, p)
        item.action = _DONE[item.action]
        item.info.update(delta=level["delta"], on_hand=level["on_hand"], released_orders=level["released_orders"])

    return await apply_rows(result, todo, write_row, lambda: _audit(actor, result, data),
                            planned={v: k for k, v in _DONE.items()}, fields=_FIELDS)


async def _count(actor: Actor, p: dict[str, Any]) -> dict:
    return await stock.adjust(actor, p["warehouse_id"], p["sku_id"], counted_quantity=p["counted"],
                              reason=p["reason"])


async def _audit(actor: Actor, result: ImportResult, data: bytes) -> None:
    counts = result.counts()
    await audit.record(actor, "stock.count_import", "csv_import", file_digest(data), after={
        "mode": result.mode, "rows": result.rows, "adjusted": counts.get("updated", 0),
        "unchanged": counts.get("unchanged", 0), "failed": counts.get("error", 0)})


_FIELDS = {"delta": "counted_quantity", "countedQuantity": "counted_quantity"}   # service field -> column


async def _plan(actor: Actor, data: bytes) -> tuple[ImportPreview, list[dict[str, Any]]]:
    table = read_table(data, COLUMNS)
    warehouses: dict[str, dict] = {}
    for w in await list_warehouses(actor):
        warehouses[str(w["id"])] = w
    for w in await list_warehouses(actor):
        warehouses[w["code"]] = w           # a code wins over an id of the same digits
    skus = await catalog.skus_by_ref(actor, [r.get("sku") for r in table.rows])
    kits = {r["kit_sku_id"] for r in await db.fetch(
        "SELECT DISTINCT kit_sku_id FROM sku_component WHERE kit_sku_id = ANY($1::bigint[])",
        [s["id"] for s in skus.values() if s["is_kit"]])}
    levels = {(r["warehouse_id"], r["sku_id"]): r for r in await db.fetch(
        "SELECT warehouse_id, sku_id, on_hand, reserved FROM stock_level WHERE merchant_id = $1 "
        "AND sku_id = ANY($2::bigint[])", policy.tenant(actor), [s["id"] for s in skus.values()])}
    preview = ImportPreview(kind="stock_count", rows=len(table.rows), columns=table.columns, warnings=table.warnings)
    payloads: list[dict[str, Any]] = []
    first_line: dict[tuple[int, int], int] = {}
    for row in table.rows:
        wh_ref, sku_ref, raw = row.get("warehouse"), row.get("sku"), row.get("counted_quantity")
        item = ImportItem(key=f"{wh_ref} / {sku_ref}", lines=[row.line], action="error", errors=list(row.errors))

        def bad(field: str, code: str, message: str, item: ImportItem = item, line: int = row.line) -> None:
            item.errors.append(RowError(line, field, code, message))

        wh = warehouses.get(wh_ref)
        if not wh_ref:
            bad("warehouse", "required", "the warehouse is missing")
        elif wh is None:
            bad("warehouse", "unknown_warehouse", f"no warehouse {wh_ref!r}")
        sku = skus.get(sku_ref)
        if not sku_ref:
            bad("sku", "required", "the SKU is missing")
        elif sku is None:
            bad("sku", "unknown_sku", f"no SKU {sku_ref!r}")
        elif sku["id"] in kits:
            bad("sku", "kit_not_stocked", f"{sku['code']} is a kit: count its components")
        counted: int | None = None
        text = raw.replace(",", "").strip()
        if not text:
            bad("counted_quantity", "required", "the counted quantity is missing")
        elif text.lstrip("-").isdigit() or (text.lstrip("-").replace(".", "", 1).isdigit()
                                            and float(text) == int(float(text))):
            counted = int(float(text)) if "." in text else int(text)
            if counted < 0:
                bad("counted_quantity", "negative", f"a count cannot be negative ({raw})")
                counted = None
        else:
            bad("counted_quantity", "invalid", f"the counted quantity must be a whole number, not {raw!r}")
        if wh is not None and sku is not None:
            key = (wh["id"], sku["id"])
            if key in first_line:
                bad("", "duplicate_in_file", f"{wh['code']} / {sku['code']} is already counted on line "
                                             f"{first_line[key]}")
            else:
                first_line[key] = row.line
            lv = levels.get(key)
            on_hand, reserved = (lv["on_hand"], lv["reserved"]) if lv else (0, 0)
            item.key = f"{wh['code']} / {sku['code']}"
            item.info = {"warehouse": wh["code"], "sku": sku["code"], "sku_name": sku["name"], "on_hand": on_hand,
                         "reserved": reserved, "counted": counted}
            if counted is not None:
                item.info["delta"] = counted - on_hand
                if counted < reserved:
                    bad("counted_quantity", "insufficient_stock",
                        f"counted {counted} of {sku['code']} at {wh['code']}, but {reserved} are reserved for "
                        "orders; release or ship them first")
        reason = (row.get("reason") or "").strip()[:500] or DEFAULT_REASON
        if not item.errors:
            item.action = "update" if item.info["delta"] else "unchanged"
        preview.items.append(item)
        payloads.append({"warehouse_id": wh["id"] if wh else None, "sku_id": sku["id"] if sku else None,
                         "counted": counted, "reason": reason})
    return finish(preview), payloads


def export_count_sheet(actor: Actor, *, warehouse: str | int | None = None, batch: int = 500) -> AsyncIterator[str]:
    """Today's on-hand per warehouse × SKU in the import format (count, fill in, import back)."""
    policy.authorize(actor, "inventory.view")
    return _sheet(actor, warehouse, batch)


async def _sheet(actor: Actor, warehouse: str | int | None, batch: int) -> AsyncIterator[str]:
    out = CsvWriter(EXPORT_COLUMNS)
    yield out.take()
    after = None
    while True:
        page = await stock.list_levels(actor, warehouse=warehouse, first=batch, after=after)
        for lv in page.items:
            out.add([safe_cell(lv["warehouse_code"]), safe_cell(lv["sku_code"]), lv["on_hand"], ""])
        chunk = out.take()
        if chunk:
            yield chunk
        if not page.has_next:
            return
        after = page.end_cursor
