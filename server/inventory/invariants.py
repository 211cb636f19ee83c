"""Checks of the inventory invariants (DESIGN §5) against the database as it is — for tests, and for
an operator who wants proof. Each returns the violations (empty when all is well). They are written
independently of the reservation code: they read the tables, not the service's own bookkeeping.
"""
from __future__ import annotations

from server.core import db

SHIPPED = ("shipped", "delivered", "completed")
PAYABLE = ("awaiting_review", "ready", "in_fulfillment", "on_hold")


async def oversold(merchant_id: int | None = None) -> list[dict]:
    """I1: levels with reserved > on hand or anything negative (the CHECK constraint forbids them)."""
    rows = await db.fetch(
        """SELECT * FROM stock_level WHERE ($1::bigint IS NULL OR merchant_id = $1)
             AND (reserved > on_hand OR reserved < 0 OR on_hand < 0) ORDER BY id""", merchant_id)
    return [dict(r) for r in rows]


async def ledger_mismatches(merchant_id: int | None = None) -> list[dict]:
    """I2: levels whose on hand or reserved differ from the sum of their movements."""
    rows = await db.fetch(
        """SELECT l.id, l.warehouse_id, l.sku_id, l.on_hand, l.reserved,
                  coalesce(m.on_hand, 0) AS ledger_on_hand, coalesce(m.reserved, 0) AS ledger_reserved
           FROM stock_level l
           LEFT JOIN (SELECT stock_level_id, sum(on_hand_delta) AS on_hand, sum(reserved_delta) AS reserved
                      FROM stock_movement GROUP BY stock_level_id) m ON m.stock_level_id = l.id
           WHERE ($1::bigint IS NULL OR l.merchant_id = $1)
             AND (l.on_hand <> coalesce(m.on_hand, 0) OR l.reserved <> coalesce(m.reserved, 0))
           ORDER BY l.id""", merchant_id)
    return [dict(r) for r in rows]


async def reservation_mismatches(merchant_id: int | None = None) -> list[dict]:
    """Each level's reserved equals the units of its live reservations."""
    rows = await db.fetch(
        """SELECT l.id, l.reserved, coalesce(r.units, 0) AS live_units
           FROM stock_level l
           LEFT JOIN (SELECT stock_level_id, sum(quantity) AS units FROM reservation WHERE status = 'reserved'
                      GROUP BY stock_level_id) r ON r.stock_level_id = l.id
           WHERE ($1::bigint IS NULL OR l.merchant_id = $1) AND l.reserved <> coalesce(r.units, 0)
           ORDER BY l.id""", merchant_id)
    return [dict(r) for r in rows]


async def unaccounted_lines(merchant_id: int) -> list[dict]:
    """I3: every line of every order is reserved (exactly what it needs, kits as components),
    shipped, backordered (order held out_of_stock, or waiting for a SKU match), cancelled, or not yet
    payable — and holds nothing otherwise. Merchants without warehouses do not track stock."""
    if not await db.fetchval("SELECT EXISTS (SELECT 1 FROM warehouse WHERE merchant_id = $1)", merchant_id):
        return []
    orders = {r["id"]: dict(r) for r in await db.fetch(
        "SELECT id, status, payment_status, hold_reasons FROM sales_order WHERE merchant_id = $1", merchant_id)}
    need: dict[tuple[int, int], int] = {}
    unmatched: set[int] = set()
    for r in await db.fetch(
            """SELECT ol.order_id, ol.id, ol.sku_id, s.is_kit,
                      greatest(ol.quantity - ol.refunded_quantity, 0) AS qty, c.component_sku_id, c.quantity AS per
               FROM order_line ol LEFT JOIN sku s ON s.id = ol.sku_id
               LEFT JOIN sku_component c ON c.kit_sku_id = ol.sku_id AND s.is_kit
               WHERE ol.merchant_id = $1""", merchant_id):
        if r["sku_id"] is None:
            unmatched.add(r["order_id"])
            continue
        key = (r["id"], r["component_sku_id"] or r["sku_id"])
        need[key] = need.get(key, 0) + r["qty"] * (r["per"] or 1)
    live: dict[tuple[int, int], int] = {}
    live_orders: set[int] = set()
    for r in await db.fetch("SELECT order_id, order_line_id, sku_id, quantity FROM reservation "
                            "WHERE merchant_id = $1 AND status = 'reserved'", merchant_id):
        live[(r["order_line_id"], r["sku_id"])] = live.get((r["order_line_id"], r["sku_id"]), 0) + r["quantity"]
        live_orders.add(r["order_id"])
    line_order = {r["id"]: r["order_id"] for r in await db.fetch(
        "SELECT id, order_id FROM order_line WHERE merchant_id = $1", merchant_id)}

    problems: list[dict] = []
    for oid, o in orders.items():
        if o["status"] == "partially_shipped":
            continue
        backordered = "out_of_stock" in o["hold_reasons"] or oid in unmatched or "unmatched_sku" in o["hold_reasons"]
        must_hold = o["status"] in PAYABLE and o["payment_status"] != "refunded" and not backordered
        if not must_hold:
            if oid in live_orders:
                problems.append({"order_id": oid, "status": o["status"], "problem": "holds stock it should not"})
            continue
        wanted = {k: v for k, v in need.items() if line_order[k[0]] == oid and v > 0}
        held = {k: v for k, v in live.items() if line_order[k[0]] == oid}
        if wanted != held:   # a payable order neither fully reserved nor held out_of_stock
            problems.append({"order_id": oid, "status": o["status"], "problem": "reservations differ from lines",
                             "wanted": wanted, "reserved": held})
    return problems
