"""The stock ledger to read across SKUs (stock.list_movements reads one SKU's): newest first, keyset
on id, filtered by SKU, warehouse and kind — what `stockMovements` serves to partners."""
from __future__ import annotations

from server.auth import policy
from server.core import db
from server.core.actor import Actor
from server.core.errors import ValidationError
from server.core.pagination import Page, decode_cursor, encode_cursor
from server.inventory import ledger
from server.inventory.warehouses import resolve_warehouse


async def list_ledger(actor: Actor, *, sku: str | int | None = None, warehouse: str | int | None = None,
                      kind: str | None = None, first: int = 50, after: str | None = None) -> Page:
    policy.authorize(actor, "inventory.view")
    where, args = ["m.merchant_id = $1"], [policy.tenant(actor)]
    if sku not in (None, ""):
        from server.inventory.stock import resolve_skus  # noqa: PLC0415 - stock imports the ledger

        args.append((await resolve_skus(actor, [sku]))[0]["id"])
        where.append(f"m.sku_id = ${len(args)}")
    if warehouse not in (None, ""):
        args.append((await resolve_warehouse(actor, warehouse))["id"])
        where.append(f"m.warehouse_id = ${len(args)}")
    if kind:
        if kind not in ledger.KINDS:
            raise ValidationError(f"kind must be one of {', '.join(ledger.KINDS)}", code="invalid", field="kind")
        args.append(kind)
        where.append(f"m.kind = ${len(args)}")
    if after:
        args.append(int(decode_cursor(after)[0]))
        where.append(f"m.id < ${len(args)}")
    first = max(1, min(int(first), 500))
    rows = await db.fetch(
        f"""SELECT m.*, w.code AS warehouse_code, w.name AS warehouse_name, s.code AS sku_code, s.name AS sku_name,
                   o.order_number
            FROM stock_movement m JOIN warehouse w ON w.id = m.warehouse_id JOIN sku s ON s.id = m.sku_id
            LEFT JOIN sales_order o ON o.id = m.order_id
            WHERE {' AND '.join(where)} ORDER BY m.id DESC LIMIT {first + 1}""", *args)  # noqa: S608 - fixed fragments
    return Page(items=[dict(r) for r in rows[:first]], has_next=len(rows) > first,
                cursor=lambda it: encode_cursor(it["id"]))
