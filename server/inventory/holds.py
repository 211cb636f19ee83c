"""The out_of_stock hold, and the order-count rows every status change locks.

sales_order's status trigger keeps order_status_count, and each status change locks the merchant's
count rows for the statuses involved until commit. A reconciliation must never wait for those rows
once it holds stock locks (see reservations), so they are taken up front (receipts, mark shipped) or
with NOWAIT (`lock_order_counts(..., nowait=True)`).
"""
from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from server.core import db
from server.core.actor import Actor
from server.orders import status as st

S = st.OrderStatus
HOLD = "out_of_stock"
HOLD_STATUSES = (S.AWAITING_REVIEW.value, S.ON_HOLD.value)   # the two sides of holding and releasing


async def lock_order_counts(merchant_id: int, statuses: Iterable[str], *, nowait: bool = False) -> bool:
    """Lock the merchant's order-count rows for `statuses` (in status order) before stock locks, so
    status changes made after them never wait. With nowait, answer False instead of waiting."""
    wanted = sorted(set(statuses))
    if not nowait:
        await db.execute(
            """INSERT INTO order_status_count (merchant_id, status, count)
               SELECT $1, s, 0 FROM unnest($2::text[]) AS s ORDER BY s
               ON CONFLICT (merchant_id, status) DO UPDATE SET count = order_status_count.count""",
            merchant_id, wanted)
        return True
    savepoint = await db.DB.current_transaction.get().savepoint()
    lock = ("SELECT status FROM order_status_count WHERE merchant_id = $1 AND status = ANY($2::text[]) "
            "ORDER BY status FOR UPDATE NOWAIT")
    try:
        got = await db.fetch(lock, merchant_id, wanted)
        if len(got) < len(wanted):
            # a status this merchant never had: create its row, waiting a moment at most for another
            # transaction creating the same one (lock_timeout, reverted with the savepoint or below)
            before = await db.fetchval("SELECT current_setting('lock_timeout')")
            await db.execute("SELECT set_config('lock_timeout', '50ms', true)")
            await db.execute(
                """INSERT INTO order_status_count (merchant_id, status, count)
                   SELECT $1, s, 0 FROM unnest($2::text[]) AS s ORDER BY s ON CONFLICT DO NOTHING""",
                merchant_id, wanted)
            got = await db.fetch(lock, merchant_id, wanted)
            await db.execute("SELECT set_config('lock_timeout', $1, true)", before)
    except asyncpg.LockNotAvailableError:
        await savepoint.rollback_to()
        return False
    await savepoint.release()
    return len(got) == len(wanted)


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
