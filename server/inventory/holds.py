"""The out_of_stock hold: added and released through the order status machine."""
from __future__ import annotations

from server.core import db
from server.core.actor import Actor
from server.orders import status as st

S = st.OrderStatus
HOLD = "out_of_stock"
HOLD_STATUSES = (S.AWAITING_REVIEW.value, S.ON_HOLD.value)   # the two sides of holding and releasing


async def set_hold(actor: Actor, order: dict, hold: bool, message: str, data: dict) -> None:
    """Add or remove the out_of_stock hold: through the status machine when the status changes."""
    reasons = [h for h in order["hold_reasons"] if h != HOLD] + ([HOLD] if hold else [])
    kind = "held" if hold else "hold_released"
    if hold and order["status"] != S.ON_HOLD:
        await st.transition(actor, order, S.ON_HOLD, kind=kind, message=message, data=data,
                            extra_sets={"hold_reasons": reasons})
    elif not hold and order["status"] == S.ON_HOLD and not reasons:
        await st.transition(actor, order, S.AWAITING_REVIEW, kind=kind, message=message, data=data,
                            extra_sets={"hold_reasons": reasons})
    else:
        await db.execute("UPDATE sales_order SET hold_reasons = $2, version = version + 1, updated_at = now() "
                         "WHERE id = $1", order["id"], reasons)
        await db.execute(
            """INSERT INTO order_event (order_id, merchant_id, kind, actor_label, message, data)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb)""",
            order["id"], order["merchant_id"], kind, actor.label, message, db.dumps(data))
