"""The order lifecycle: statuses, the transition table, and the one `transition()` that moves an order.

pending_payment → awaiting_review → ready → in_fulfillment → shipped → delivered → completed, with
side states on_hold (reasons in `hold_reasons`), partially_shipped and cancelled. Platforms may jump
ahead (an order shipped from the platform's own back office), so platform-driven moves allow skipping
forward; nothing moves out of a terminal state.
"""
from __future__ import annotations

import enum

from server.channels.connectors.base import NormalizedStatus
from server.core import db
from server.core.actor import Actor
from server.core.errors import DomainError


class OrderStatus(enum.StrEnum):
    PENDING_PAYMENT = "pending_payment"
    AWAITING_REVIEW = "awaiting_review"
    READY = "ready"
    IN_FULFILLMENT = "in_fulfillment"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    ON_HOLD = "on_hold"
    CANCELLED = "cancelled"


S = OrderStatus
TERMINAL = frozenset({S.COMPLETED, S.CANCELLED})
# Before fulfilment starts: the receiver address may still change, lines may still be re-matched.
OPEN = frozenset({S.PENDING_PAYMENT, S.AWAITING_REVIEW, S.READY, S.ON_HOLD})
# Statuses whose stock is committed (reservations live), used by later inventory work.
PAYABLE = frozenset({S.AWAITING_REVIEW, S.READY, S.IN_FULFILLMENT, S.ON_HOLD})

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING_PAYMENT: frozenset({S.AWAITING_REVIEW, S.ON_HOLD, S.CANCELLED, S.READY, S.IN_FULFILLMENT,
                                  S.PARTIALLY_SHIPPED, S.SHIPPED, S.DELIVERED, S.COMPLETED}),
    S.AWAITING_REVIEW: frozenset({S.READY, S.ON_HOLD, S.CANCELLED, S.IN_FULFILLMENT, S.PARTIALLY_SHIPPED,
                                  S.SHIPPED, S.DELIVERED, S.COMPLETED}),
    S.ON_HOLD: frozenset({S.AWAITING_REVIEW, S.READY, S.CANCELLED, S.IN_FULFILLMENT, S.PARTIALLY_SHIPPED,
                          S.SHIPPED, S.DELIVERED, S.COMPLETED}),
    S.READY: frozenset({S.IN_FULFILLMENT, S.ON_HOLD, S.CANCELLED, S.AWAITING_REVIEW, S.PARTIALLY_SHIPPED,
                        S.SHIPPED, S.DELIVERED, S.COMPLETED}),
    S.IN_FULFILLMENT: frozenset({S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCELLED, S.ON_HOLD, S.DELIVERED,
                                 S.COMPLETED}),
    S.PARTIALLY_SHIPPED: frozenset({S.SHIPPED, S.DELIVERED, S.COMPLETED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED, S.COMPLETED}),
    S.DELIVERED: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}

# Where a platform's (normalized) status puts an order of ours.
FROM_PLATFORM: dict[NormalizedStatus, OrderStatus] = {
    NormalizedStatus.PENDING_PAYMENT: S.PENDING_PAYMENT,
    NormalizedStatus.PAID: S.AWAITING_REVIEW,
    NormalizedStatus.PARTIALLY_SHIPPED: S.PARTIALLY_SHIPPED,
    NormalizedStatus.SHIPPED: S.SHIPPED,
    NormalizedStatus.DELIVERED: S.DELIVERED,
    NormalizedStatus.COMPLETED: S.COMPLETED,
    NormalizedStatus.CANCELLED: S.CANCELLED,
}

# How far along each status is; a platform update never moves an order backwards.
RANK = {S.PENDING_PAYMENT: 0, S.AWAITING_REVIEW: 1, S.ON_HOLD: 1, S.READY: 2, S.IN_FULFILLMENT: 3,
        S.PARTIALLY_SHIPPED: 4, S.SHIPPED: 5, S.DELIVERED: 6, S.COMPLETED: 7, S.CANCELLED: 8}


class InvalidTransition(DomainError):
    code = "invalid_transition"
    status = 409


def can_move(current: str, target: str) -> bool:
    return OrderStatus(target) in TRANSITIONS[OrderStatus(current)]


def check(current: str, target: str) -> None:
    if current == target:
        return
    if not can_move(current, target):
        raise InvalidTransition(f"an order that is {current.replace('_', ' ')} cannot become "
                                f"{target.replace('_', ' ')}", field="status")


def initial(platform_status: NormalizedStatus, holds: list[str]) -> OrderStatus:
    target = FROM_PLATFORM[platform_status]
    if holds and target in (S.AWAITING_REVIEW, S.READY):
        return S.ON_HOLD
    return target


def follow_platform(current: str, platform_status: NormalizedStatus, holds: list[str]) -> OrderStatus:
    """Where a platform update moves an existing order: forward only; our own progress (ready, in
    fulfilment) is kept while the platform still just says 'paid'."""
    cur = OrderStatus(current)
    if cur in TERMINAL:
        return cur
    target = initial(platform_status, holds)
    if target == S.CANCELLED:
        return target
    if cur == S.ON_HOLD and target == S.AWAITING_REVIEW and not holds:
        return S.AWAITING_REVIEW            # the reason went away
    if cur == S.AWAITING_REVIEW and target == S.ON_HOLD:
        return S.ON_HOLD
    if RANK[target] <= RANK[cur]:
        return cur
    return target


async def transition(actor: Actor, order: dict, target: str, *, kind: str = "status_changed",
                     message: str = "", data: dict | None = None, extra_sets: dict | None = None) -> dict:
    """Move one order (row dict, locked by the caller) to `target`: validate, write, timeline, audit.

    Nothing else assigns sales_order.status for a single order. Batch ingest uses the same
    `follow_platform`/`check` rules and writes its timeline in bulk.
    """
    from server.audit import service as audit

    current = order["status"]
    check(current, target)
    sets = {"status": target, **(extra_sets or {})}
    assignments = ", ".join(f"{k} = ${i + 2}" for i, k in enumerate(sets))
    row = await db.fetchrow(
        f"UPDATE sales_order SET {assignments}, version = version + 1, updated_at = now() "  # noqa: S608 - fixed keys
        "WHERE id = $1 RETURNING *", order["id"], *sets.values())
    await db.execute(
        """INSERT INTO order_event (order_id, merchant_id, kind, from_status, to_status, actor_label, message, data)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)""",
        order["id"], order["merchant_id"], kind, current, target, actor.label, message, db.dumps(data or {}))
    await audit.record(actor, f"order.{kind}", "order", order["id"],
                       before={"status": current}, after={"status": target, **(data or {})})
    return dict(row)
