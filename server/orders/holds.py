"""Hold reasons that clear themselves: `unmatched_sku` goes away when the platform SKU is matched."""
from __future__ import annotations

from server.core import db
from server.core.actor import Actor
from server.inventory import service as inventory
from server.orders import status as st


async def release_unmatched(actor: Actor, listings: list[dict]) -> list[int]:
    """Point every order line waiting on these listings at their SKU, then release orders that no
    longer have an unmatched line. Returns the released order ids."""
    matched = [lst for lst in listings if lst.get("sku_id")]
    if not matched:
        return []
    touched = await db.fetch(
        """UPDATE order_line ol SET sku_id = u.sku_id, sku_code = s.code
           FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) AS u(channel_id, p, k, sku_id)
           JOIN sku s ON s.id = u.sku_id, sales_order o
           WHERE ol.sku_id IS NULL AND ol.merchant_id = $5 AND o.id = ol.order_id AND o.channel_id = u.channel_id
             AND ol.platform_product_id = u.p AND ol.platform_sku_id = u.k
           RETURNING ol.order_id""",
        [lst["channel_id"] for lst in matched], [lst["platform_product_id"] for lst in matched],
        [lst["platform_sku_id"] for lst in matched], [lst["sku_id"] for lst in matched], actor.merchant_id)
    order_ids = sorted({r["order_id"] for r in touched})
    if not order_ids:
        return []
    await db.execute(
        """UPDATE sales_order o SET sku_codes = (SELECT coalesce(array_agg(DISTINCT sku_code ORDER BY sku_code)
                                                  FILTER (WHERE sku_code <> ''), '{}') FROM order_line WHERE order_id = o.id)
           WHERE o.id = ANY($1::bigint[])""", order_ids)
    ready = await db.fetch(
        """SELECT * FROM sales_order o WHERE o.id = ANY($1::bigint[]) AND 'unmatched_sku' = ANY(o.hold_reasons)
             AND NOT EXISTS (SELECT 1 FROM order_line ol WHERE ol.order_id = o.id AND ol.sku_id IS NULL)
           ORDER BY o.id FOR UPDATE""", order_ids)
    released = []
    for order in ready:
        remaining = [h for h in order["hold_reasons"] if h != "unmatched_sku"]
        if order["status"] == st.S.ON_HOLD and not remaining:
            await st.transition(actor, dict(order), st.S.AWAITING_REVIEW, kind="hold_released",
                                message="every line now matches a SKU", data={"released": "unmatched_sku"},
                                extra_sets={"hold_reasons": remaining})
        else:
            await db.execute("UPDATE sales_order SET hold_reasons = $2, updated_at = now() WHERE id = $1",
                             order["id"], remaining)
            await db.execute(
                "INSERT INTO order_event (order_id, merchant_id, kind, actor_label, message) VALUES ($1, $2, $3, $4, $5)",
                order["id"], order["merchant_id"], "hold_released", actor.label, "every line now matches a SKU")
        released.append(order["id"])
    await inventory.reconcile_orders(actor, released)
    return released
