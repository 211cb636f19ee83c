"""The two low-level writes every stock change is made of, always together in one transaction:
a conditional change of stock levels and the ledger movements that explain it (I2).

Callers hold the stock_level rows' locks (taken in id order) before deciding what to write; the
UPDATE below re-checks `on_hand - reserved` anyway, and the table's CHECK constraint is the last
line of defence: reserved can never exceed on hand (I1).
"""
from __future__ import annotations

from dataclasses import dataclass

from server.core import db
from server.core.errors import TransientError

KINDS = ("receipt", "adjustment", "reservation", "release", "shipment", "transfer_out", "transfer_in", "return")


@dataclass(frozen=True, slots=True)
class Move:
    stock_level_id: int
    warehouse_id: int
    sku_id: int
    kind: str
    on_hand_delta: int = 0
    reserved_delta: int = 0
    reason: str = ""
    reference: str = ""
    order_id: int | None = None
    order_line_id: int | None = None


class StockConflict(TransientError):
    """A stock level did not accept a change its locked row said it would: retry from scratch."""

    code = "stock_conflict"


async def apply(merchant_id: int, actor_label: str, moves: list[Move]) -> None:
    """Apply `moves` to their stock levels (summed per level, in id order, each level only if it
    stays within 0 <= reserved <= on_hand) and append them to the ledger."""
    if not moves:
        return
    deltas: dict[int, list[int]] = {}
    for m in moves:
        d = deltas.setdefault(m.stock_level_id, [0, 0])
        d[0] += m.on_hand_delta
        d[1] += m.reserved_delta
    ids = sorted(i for i, (d_on, d_res) in deltas.items() if d_on or d_res)
    if ids:
        changed = await db.fetch(
            """UPDATE stock_level s SET on_hand = s.on_hand + u.d_on, reserved = s.reserved + u.d_res,
                      updated_at = now()
               FROM unnest($1::bigint[], $2::int[], $3::int[]) AS u(id, d_on, d_res)
               WHERE s.id = u.id AND s.reserved + u.d_res >= 0 AND s.on_hand + u.d_on >= s.reserved + u.d_res
               RETURNING s.id""",
            ids, [deltas[i][0] for i in ids], [deltas[i][1] for i in ids])
        if len(changed) != len(ids):
            raise StockConflict("stock changed while it was being reserved; try again")
    await record(merchant_id, actor_label, moves)


async def record(merchant_id: int, actor_label: str, moves: list[Move]) -> None:
    """Append movements to the ledger for level changes the caller made in this transaction."""
    rows = [m for m in moves if m.on_hand_delta or m.reserved_delta]
    if not rows:
        return
    await db.execute(
        """INSERT INTO stock_movement (merchant_id, actor_label, stock_level_id, warehouse_id, sku_id, kind,
                                       on_hand_delta, reserved_delta, reason, reference, order_id, order_line_id)
           SELECT $1, $2, * FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::int[], $8::int[],
                                        $9::text[], $10::text[], $11::bigint[], $12::bigint[])""",
        merchant_id, actor_label,
        [m.stock_level_id for m in rows], [m.warehouse_id for m in rows], [m.sku_id for m in rows],
        [m.kind for m in rows], [m.on_hand_delta for m in rows], [m.reserved_delta for m in rows],
        [m.reason for m in rows], [m.reference for m in rows], [m.order_id for m in rows],
        [m.order_line_id for m in rows])
