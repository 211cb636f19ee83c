"""The transfer status machine (DESIGN §4): the statuses, the transition table, and the one
`transition()` that moves a transfer, writing its timeline event and audit entry. Nothing else
assigns transfer_order.status. See transfers.py for what each move does to stock.
"""
from __future__ import annotations

import enum

from server.audit import service as audit
from server.core import db
from server.core.actor import Actor
from server.core.errors import DomainError


class TransferStatus(enum.StrEnum):
    DRAFT = "draft"
    SHIPPED = "shipped"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"


T = TransferStatus
STATUSES = tuple(s.value for s in T)
OPEN = frozenset({T.DRAFT, T.SHIPPED, T.PARTIALLY_RECEIVED})
IN_TRANSIT = frozenset({T.SHIPPED, T.PARTIALLY_RECEIVED})
TRANSITIONS: dict[TransferStatus, frozenset[TransferStatus]] = {
    T.DRAFT: frozenset({T.SHIPPED, T.CANCELLED}),
    T.SHIPPED: frozenset({T.PARTIALLY_RECEIVED, T.RECEIVED, T.CANCELLED}),
    T.PARTIALLY_RECEIVED: frozenset({T.PARTIALLY_RECEIVED, T.RECEIVED, T.CANCELLED}),
    T.RECEIVED: frozenset(),
    T.CANCELLED: frozenset(),
}


class InvalidTransferTransition(DomainError):
    code = "invalid_transition"
    status = 409


def number(transfer_id: int) -> str:
    return f"TR-{transfer_id:06d}"


def can_move(current: str, target: str) -> bool:
    return T(target) in TRANSITIONS[T(current)]


async def transition(actor: Actor, transfer: dict, target: str, *, kind: str, message: str = "",
                     data: dict | None = None, extra_sets: dict | None = None) -> dict:
    """Move one transfer (row locked by the caller) to `target`: validate, write, timeline, audit."""
    current = transfer["status"]
    if not can_move(current, target):
        raise InvalidTransferTransition(
            f"transfer {number(transfer['id'])} is {current.replace('_', ' ')} and cannot become "
            f"{target.replace('_', ' ')}", field="id")
    sets = {"status": target, **(extra_sets or {})}
    assignments = ", ".join(f"{k} = ${i + 2}" for i, k in enumerate(sets))
    row = await db.fetchrow(f"UPDATE transfer_order SET {assignments}, updated_at = now() "  # noqa: S608 - fixed keys
                            "WHERE id = $1 RETURNING *", transfer["id"], *sets.values())
    await _event(actor, transfer, kind, message, data or {}, current, target)
    await audit.record(actor, f"transfer.{kind}", "transfer", transfer["id"],
                       before={"status": current}, after={"status": target, **(data or {})})
    return dict(row)


async def _event(actor: Actor, transfer: dict, kind: str, message: str, data: dict, from_status: str = "",
                 to_status: str = "") -> None:
    await db.execute(
        """INSERT INTO transfer_event (merchant_id, transfer_id, kind, from_status, to_status, actor_label, message,
                                       data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)""",
        transfer["merchant_id"], transfer["id"], kind, from_status, to_status, actor.label, message, db.dumps(data))
