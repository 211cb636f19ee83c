"""Stock leaving with a shipment made outside the system, and reservations to read."""
from __future__ import annotations

from server.auth import policy
from server.core import db
from server.core.actor import Actor
from server.core.errors import NotFound, ValidationError
from server.core.pagination import Page, decode_cursor, encode_cursor
from server.inventory.reservations import DEDUCTED, HOLD, InsufficientStock, S, reconcile_orders
from server.inventory.stock import resolve_skus
from server.orders import status as st


async def mark_shipped(actor: Actor, order_id: int, carrier: str, tracking_number: str) -> dict:
    """For merchants who ship outside the system: the order becomes shipped (status machine, timeline,
    audit) and its reserved stock leaves on hand (shipment movements)."""
    policy.authorize(actor, "fulfillment.ship")
    carrier, tracking_number = (carrier or "").strip(), (tracking_number or "").strip()
    errors = [ValidationError(f"{name} is required", code="required", field=name)
              for name, value in (("carrier", carrier), ("trackingNumber", tracking_number)) if not value]
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationError("carrier and tracking number are required",
                                                                 code="required", field="carrier")
    async with db.transaction():
        order = await _locked_order(actor, order_id)
        if order["status"] in DEDUCTED:
            raise st.InvalidTransition(f"order {order['order_number']} is already {order['status']}",
                                       code="already_shipped", field="id")
        if order["status"] == S.ON_HOLD:
            raise st.InvalidTransition(
                f"order {order['order_number']} is on hold ({', '.join(order['hold_reasons'])}); "
                "release the hold before shipping", code="order_on_hold", field="id")
        if order["status"] not in st.PAYABLE:
            raise st.InvalidTransition(f"an order that is {order['status'].replace('_', ' ')} cannot be shipped",
                                       field="id")
        await reconcile_orders(actor, [order["id"]])          # reserve now if it was not yet
        order = await _locked_order(actor, order_id)
        if HOLD in order["hold_reasons"]:
            event = await db.fetchval("SELECT message FROM order_event WHERE order_id = $1 ORDER BY id DESC LIMIT 1",
                                      order["id"])
            raise InsufficientStock(f"order {order['order_number']} cannot ship: {event}", field="id")
        shipped = await st.transition(actor, order, S.SHIPPED, kind="shipped",
                                      message=f"shipped outside the system: {carrier} {tracking_number}",
                                      data={"carrier": carrier, "tracking_number": tracking_number})
        await reconcile_orders(actor, [order["id"]])          # deducts the reserved stock
    return shipped


async def _locked_order(actor: Actor, order_id: int) -> dict:
    row = await db.fetchrow("SELECT * FROM sales_order WHERE id = $1 AND merchant_id = $2 FOR UPDATE",
                            int(order_id), policy.tenant(actor))
    if row is None:
        raise NotFound("order not found", field="id")
    return dict(row)


async def list_reservations(actor: Actor, *, order_id: int | None = None, sku: str | int | None = None,
                            status: str | None = "reserved", first: int = 50, after: str | None = None) -> Page:
    """Reservations, newest first, with warehouse and SKU codes and the order number."""
    policy.authorize(actor, "inventory.view")
    where, args = ["r.merchant_id = $1"], [policy.tenant(actor)]
    if order_id is not None:
        args.append(int(order_id))
        where.append(f"r.order_id = ${len(args)}")
    if sku is not None:
        args.append((await resolve_skus(actor, [sku]))[0]["id"])
        where.append(f"r.sku_id = ${len(args)}")
    if status:
        args.append(status)
        where.append(f"r.status = ${len(args)}")
    if after:
        args.append(int(decode_cursor(after)[0]))
        where.append(f"r.id < ${len(args)}")
    first = max(1, min(first, 500))
    rows = await db.fetch(
        f"""SELECT r.*, w.code AS warehouse_code, s.code AS sku_code, o.order_number
            FROM reservation r JOIN warehouse w ON w.id = r.warehouse_id JOIN sku s ON s.id = r.sku_id
            JOIN sales_order o ON o.id = r.order_id
            WHERE {' AND '.join(where)} ORDER BY r.id DESC LIMIT {first + 1}""", *args)  # noqa: S608 - fixed fragments
    return Page(items=[dict(r) for r in rows[:first]], has_next=len(rows) > first,
                cursor=lambda r: encode_cursor(r["id"]))
