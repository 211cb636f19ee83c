"""Stock levels and the ledger: receipts, adjustments and stocktakes; levels and movements to read.

Every write changes a stock level and appends the movement explaining it in the same transaction
(I2). Stock arriving (a receipt, a return, a positive adjustment) goes straight to the orders waiting
for it, in the same transaction (see reservations).
"""
from __future__ import annotations

from typing import Any

from server.audit import service as audit
from server.auth import policy
from server.core import db
from server.core.actor import Actor
from server.core.errors import DomainError, ErrorList, NotFound, ValidationError
from server.core.pagination import Page, decode_cursor, encode_cursor
from server.inventory import ledger, reservations
from server.inventory.warehouses import resolve_warehouse

RECEIPT_KINDS = ("receipt", "return")


class NegativeStock(DomainError):
    code = "negative_stock"
    status = 409


async def resolve_skus(actor: Actor, refs: list[str | int]) -> list[dict]:
    """SKUs of the actor's merchant by code or id, in the order given (NotFound names the first unknown)."""
    from server.catalog import service as catalog  # noqa: PLC0415 - catalog never imports inventory

    return [await catalog.resolve_sku(actor, ref) for ref in refs]


async def _stockable(actor: Actor, ref: str | int) -> dict:
    (sku,) = await resolve_skus(actor, [ref])
    if sku["is_kit"] and await db.fetchval("SELECT 1 FROM sku_component WHERE kit_sku_id = $1 LIMIT 1", sku["id"]):
        raise ValidationError(f"{sku['code']} is a kit: stock its components, the kit's availability follows them",
                              code="kit_not_stocked", field="sku")
    return sku


def _whole(value: Any, field: str, *, positive: bool = False, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().lstrip("-").isdigit():
        raise ValidationError(f"{field} must be a whole number", code="invalid", field=field)
    n = int(value)
    if positive and n <= 0:
        raise ValidationError(f"{field} must be more than 0", code="invalid", field=field)
    if minimum is not None and n < minimum:
        raise NegativeStock(f"{field} cannot be below {minimum}", field=field)
    return n


def _level_view(row: Any, sku: dict, warehouse: dict) -> dict:
    out = dict(row)
    out.update(sku_code=sku["code"], warehouse_code=warehouse["code"], available=out["on_hand"] - out["reserved"])
    return out


async def _add(actor: Actor, warehouse: dict, sku: dict, qty: int, kind: str, reason: str, reference: str) -> dict:
    """Add units to a level (created on first use) with its movement; the level stays row-locked."""
    row = await db.fetchrow(
        """INSERT INTO stock_level (merchant_id, warehouse_id, sku_id, on_hand) VALUES ($1, $2, $3, $4)
           ON CONFLICT (warehouse_id, sku_id) DO UPDATE SET on_hand = stock_level.on_hand + EXCLUDED.on_hand,
                                                           updated_at = now()
           RETURNING *""", policy.tenant(actor), warehouse["id"], sku["id"], qty)
    await ledger.record(policy.tenant(actor), actor.label, [ledger.Move(
        row["id"], warehouse["id"], sku["id"], kind, on_hand_delta=qty, reason=reason, reference=reference)])
    return dict(row)


async def receive(actor: Actor, warehouse: str | int, sku: str | int, quantity: int, reference: str = "", *,
                  kind: str = "receipt", reason: str = "") -> dict:
    """Units arrive in a warehouse (a purchase receipt, or kind="return" for goods coming back).
    Returns the level with `released_orders`: backorders that the new stock now reserves."""
    policy.authorize(actor, "inventory.adjust")
    if kind not in RECEIPT_KINDS:
        raise ValidationError(f"kind must be one of {', '.join(RECEIPT_KINDS)}", code="invalid", field="kind")
    qty = _whole(quantity, "quantity", positive=True)
    wh = await resolve_warehouse(actor, warehouse)
    item = await _stockable(actor, sku)
    reference = (reference or "").strip()[:200]
    async with db.transaction():
        row = await _add(actor, wh, item, qty, kind, (reason or "").strip()[:500], reference)
        await audit.record(actor, f"stock.{kind}", "stock_level", row["id"],
                           after={"warehouse": wh["code"], "sku": item["code"], "quantity": qty,
                                  "reference": reference, "on_hand": row["on_hand"]})
        released = await reservations._release_backorders(actor, [item["id"]])
        row = await db.fetchrow("SELECT * FROM stock_level WHERE id = $1", row["id"])
    return _level_view(row, item, wh) | {"released_orders": released}


async def adjust(actor: Actor, warehouse: str | int, sku: str | int, *, delta: int | None = None,
                 counted_quantity: int | None = None, reason: str) -> dict:
    """Correct stock by `delta`, or to a stocktake's `counted_quantity` (the difference is the
    adjustment). A reason is required. Units reserved by orders cannot be adjusted away
    (`insufficient_stock`); nothing goes below zero (`negative_stock`)."""
    policy.authorize(actor, "inventory.adjust")
    errors = []
    if (delta is None) == (counted_quantity is None):
        errors.append(ValidationError("give either delta or countedQuantity", code="required", field="delta"))
    reason = (reason or "").strip()[:500]
    if not reason:
        errors.append(ValidationError("say why the stock changes (damaged, stocktake, found…)", code="required",
                                      field="reason"))
    if errors:
        raise ErrorList(errors)
    wh = await resolve_warehouse(actor, warehouse)
    item = await _stockable(actor, sku)
    mid = policy.tenant(actor)
    async with db.transaction():
        if counted_quantity is not None:
            counted = _whole(counted_quantity, "countedQuantity", minimum=0)
            current = await db.fetchrow("SELECT * FROM stock_level WHERE warehouse_id = $1 AND sku_id = $2 FOR UPDATE",
                                        wh["id"], item["id"])
            on_hand = current["on_hand"] if current else 0
            change = counted - on_hand
            detail = {"counted": counted, "was": on_hand}
        else:
            change = _whole(delta, "delta")
            if change == 0:
                raise ValidationError("delta cannot be 0", code="invalid", field="delta")
            detail = {}
        released: list[int] = []
        if change > 0:
            row = await _add(actor, wh, item, change, "adjustment", reason, "")
            released = await reservations._release_backorders(actor, [item["id"]])
            row = await db.fetchrow("SELECT * FROM stock_level WHERE id = $1", row["id"])
        elif change < 0:
            row = await db.fetchrow(
                """UPDATE stock_level SET on_hand = on_hand + $3, updated_at = now()
                   WHERE warehouse_id = $1 AND sku_id = $2 AND on_hand + $3 >= reserved RETURNING *""",
                wh["id"], item["id"], change)
            if row is None:
                raise await _refusal(wh, item, change)
            await ledger.record(mid, actor.label, [ledger.Move(row["id"], wh["id"], item["id"], "adjustment",
                                                              on_hand_delta=change, reason=reason)])
        else:
            row = current
        if row is None:     # counted 0 where nothing was ever stocked
            row = {"id": None, "merchant_id": mid, "warehouse_id": wh["id"], "sku_id": item["id"], "on_hand": 0,
                   "reserved": 0, "incoming": 0, "updated_at": None}
        await audit.record(actor, "stock.count" if counted_quantity is not None else "stock.adjust", "stock_level",
                           row["id"] or "", after={"warehouse": wh["code"], "sku": item["code"], "delta": change,
                                                   "reason": reason, "on_hand": row["on_hand"], **detail})
    return _level_view(row, item, wh) | {"released_orders": released, "delta": change}


async def _refusal(wh: dict, sku: dict, change: int) -> DomainError:
    level = await db.fetchrow("SELECT on_hand, reserved FROM stock_level WHERE warehouse_id = $1 AND sku_id = $2",
                              wh["id"], sku["id"])
    on_hand, reserved = (level["on_hand"], level["reserved"]) if level else (0, 0)
    details = {"sku": sku["code"], "warehouse": wh["code"], "on_hand": on_hand, "reserved": reserved}
    if on_hand + change < 0:
        return NegativeStock(f"cannot remove {-change} of {sku['code']} at {wh['code']}: only {on_hand} on hand",
                             field="delta", details=details)
    return reservations.InsufficientStock(
        f"cannot remove {-change} of {sku['code']} at {wh['code']}: {reserved} of {on_hand} on hand are reserved "
        f"for orders, {on_hand - reserved} available", field="delta", details=details)


async def list_levels(actor: Actor, *, sku: str | int | None = None, warehouse: str | int | None = None,
                      category: str | None = None, low_stock: int | None = None, out_of_stock: bool = False,
                      first: int = 50, after: str | None = None) -> Page:
    """Stock levels by SKU code then warehouse, keyset-paginated. `low_stock=n`: available <= n;
    `out_of_stock`: nothing available. Items carry sku_code, sku_name, category, warehouse_code, available."""
    policy.authorize(actor, "inventory.view")
    where, args = ["l.merchant_id = $1"], [policy.tenant(actor)]

    def add(sql: str, value: Any) -> None:
        args.append(value)
        where.append(sql.replace("?", f"${len(args)}"))

    if sku is not None:
        add("l.sku_id = ?", (await resolve_skus(actor, [sku]))[0]["id"])
    if warehouse is not None:
        add("l.warehouse_id = ?", (await resolve_warehouse(actor, warehouse))["id"])
    if category:
        add("s.category = ?", category)
    if low_stock is not None:
        add("l.on_hand - l.reserved <= ?", int(low_stock))
    if out_of_stock:
        where.append("l.on_hand - l.reserved <= 0")
    count_where, count_args = list(where), list(args)
    if after:
        code, last_id = decode_cursor(after)
        args.extend([str(code), int(last_id)])
        where.append(f"(s.code, l.id) > (${len(args) - 1}, ${len(args)})")
    first = max(1, min(first, 500))
    base = "FROM stock_level l JOIN sku s ON s.id = l.sku_id JOIN warehouse w ON w.id = l.warehouse_id"
    rows = await db.fetch(
        f"""SELECT l.*, l.on_hand - l.reserved AS available, s.code AS sku_code, s.name AS sku_name, s.category,
                   w.code AS warehouse_code, w.name AS warehouse_name
            {base} WHERE {' AND '.join(where)} ORDER BY s.code, l.id LIMIT {first + 1}""", *args)  # noqa: S608
    total = await db.fetchval(f"SELECT count(*) {base} WHERE {' AND '.join(count_where)}", *count_args)  # noqa: S608
    return Page(items=[dict(r) for r in rows[:first]], has_next=len(rows) > first,
                cursor=lambda it: encode_cursor(it["sku_code"], it["id"]), total=total)


async def list_movements(actor: Actor, sku: str | int, *, warehouse: str | int | None = None,
                         kind: str | None = None, first: int = 50, after: str | None = None) -> Page:
    """One SKU's ledger, newest first (keyset on id), with warehouse codes and order numbers."""
    policy.authorize(actor, "inventory.view")
    (item,) = await resolve_skus(actor, [sku])
    where, args = ["m.merchant_id = $1", "m.sku_id = $2"], [policy.tenant(actor), item["id"]]
    if warehouse is not None:
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
    first = max(1, min(first, 500))
    rows = await db.fetch(
        f"""SELECT m.*, w.code AS warehouse_code, o.order_number
            FROM stock_movement m JOIN warehouse w ON w.id = m.warehouse_id
            LEFT JOIN sales_order o ON o.id = m.order_id
            WHERE {' AND '.join(where)} ORDER BY m.id DESC LIMIT {first + 1}""", *args)  # noqa: S608
    return Page(items=[dict(r) | {"sku_code": item["code"]} for r in rows[:first]], has_next=len(rows) > first,
                cursor=lambda it: encode_cursor(it["id"]))


async def availability(actor: Actor, sku: str | int) -> dict:
    """On hand / reserved / available per warehouse and in total. A kit's availability is the minimum
    over its components of available // units per kit, per warehouse."""
    policy.authorize(actor, "inventory.view")
    (item,) = await resolve_skus(actor, [sku])
    components = {r["component_sku_id"]: r["quantity"] for r in await db.fetch(
        "SELECT component_sku_id, quantity FROM sku_component WHERE kit_sku_id = $1", item["id"])} \
        if item["is_kit"] else {}
    parts = components or {item["id"]: 1}
    rows = await db.fetch(
        """SELECT w.id, w.code, w.active, l.sku_id, l.on_hand, l.reserved FROM warehouse w
           JOIN stock_level l ON l.warehouse_id = w.id AND l.sku_id = ANY($2::bigint[])
           WHERE w.merchant_id = $1 ORDER BY w.priority DESC, w.code""", policy.tenant(actor), list(parts))
    per: dict[int, dict] = {}
    for r in rows:
        entry = per.setdefault(r["id"], {"warehouse_id": r["id"], "warehouse_code": r["code"], "active": r["active"],
                                         "levels": {}})
        entry["levels"][r["sku_id"]] = (r["on_hand"], r["reserved"])
    warehouses = []
    for entry in per.values():
        levels = entry.pop("levels")
        if components:
            entry["available"] = min((levels[c][0] - levels[c][1]) // q if c in levels else 0
                                     for c, q in components.items())
        else:
            on_hand, reserved = levels[item["id"]]
            entry.update(on_hand=on_hand, reserved=reserved, available=on_hand - reserved)
        warehouses.append(entry)
    return {"sku": item["code"], "kit": bool(components), "warehouses": warehouses,
            "available": sum(w["available"] for w in warehouses if w["active"])}


async def get_level(actor: Actor, warehouse: str | int, sku: str | int) -> dict:
    policy.authorize(actor, "inventory.view")
    wh = await resolve_warehouse(actor, warehouse)
    (item,) = await resolve_skus(actor, [sku])
    row = await db.fetchrow("SELECT * FROM stock_level WHERE warehouse_id = $1 AND sku_id = $2", wh["id"], item["id"])
    if row is None:
        raise NotFound(f"{item['code']} has never been stocked at {wh['code']}", code="no_stock_level", field="sku")
    return _level_view(row, item, wh)
