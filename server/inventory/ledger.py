"""The two low-level writes every stock change is made of, always together in one transaction:
a conditional change of stock levels and the ledger movements that explain it (I2).

Callers hold the stock_level rows' locks (taken in id order) before deciding what to write; the
UPDATE below re-checks `on_hand - reserved` anyway, and the table's CHECK constraint is the last
line of defence: reserved can never exceed on hand (I1).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from server.core import db
from server.core.errors import TransientError
from server.inventory import alerts, channel_stock

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


@dataclass(frozen=True, slots=True)
class Also:
    """Another INSERT … SELECT FROM unnest(…) to run in the same statement as a stock change, written
    with its parameters numbered from $1; `apply` renumbers them."""

    sql: str
    args: tuple


def _renumber(sql: str, offset: int) -> str:
    return re.sub(r"\$(\d+)", lambda m: f"${int(m.group(1)) + offset}", sql)


async def apply(merchant_id: int, actor_label: str, moves: list[Move], also: list[Also] | None = None) -> None:
    """Apply `moves` to their stock levels (summed per level, each level only if it stays within
    0 <= reserved <= on_hand), append them to the ledger, and run `also` — all in ONE statement
    (data-modifying CTEs), one round trip however many orders a reconciliation covers."""
    rows = [m for m in moves if m.on_hand_delta or m.reserved_delta]
    also = list(also or []) + _push_marks(merchant_id, rows) + _alert_marks(merchant_id, rows)
    if not rows and not also:
        return
    deltas: dict[int, list[int]] = {}
    for m in rows:
        d = deltas.setdefault(m.stock_level_id, [0, 0])
        d[0] += m.on_hand_delta
        d[1] += m.reserved_delta
    ids = sorted(i for i, (d_on, d_res) in deltas.items() if d_on or d_res)
    args: list = [ids, [deltas[i][0] for i in ids], [deltas[i][1] for i in ids], merchant_id, actor_label,
                  *_movement_columns(rows)]
    parts = [
        """upd AS (UPDATE stock_level s SET on_hand = s.on_hand + u.d_on, reserved = s.reserved + u.d_res,
                          updated_at = now()
                   FROM unnest($1::bigint[], $2::int[], $3::int[]) AS u(id, d_on, d_res)
                   WHERE s.id = u.id AND s.reserved + u.d_res >= 0 AND s.on_hand + u.d_on >= s.reserved + u.d_res
                   RETURNING s.id)""",
        f"mv AS ({_renumber(INSERT_MOVEMENTS, 3)})",
    ]
    for n, extra in enumerate(also):
        parts.append(f"also{n} AS ({_renumber(extra.sql, len(args))})")
        args.extend(extra.args)
    changed = await db.fetchval(f"WITH {', '.join(parts)} SELECT count(*) FROM upd", *args)  # noqa: S608
    if changed != len(ids):
        raise StockConflict("stock changed while it was being reserved; try again")


INSERT_MOVEMENTS = """INSERT INTO stock_movement (merchant_id, actor_label, stock_level_id, warehouse_id, sku_id, kind,
                                   on_hand_delta, reserved_delta, reason, reference, order_id, order_line_id)
       SELECT $1, $2, * FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::int[], $8::int[],
                                    $9::text[], $10::text[], $11::bigint[], $12::bigint[])"""


def _movement_columns(rows: list[Move]) -> list[list]:
    return [[m.stock_level_id for m in rows], [m.warehouse_id for m in rows], [m.sku_id for m in rows],
            [m.kind for m in rows], [m.on_hand_delta for m in rows], [m.reserved_delta for m in rows],
            [m.reason for m in rows], [m.reference for m in rows], [m.order_id for m in rows],
            [m.order_line_id for m in rows]]


async def record(merchant_id: int, actor_label: str, moves: list[Move]) -> None:
    """Append movements to the ledger for level changes the caller made in this transaction."""
    rows = [m for m in moves if m.on_hand_delta or m.reserved_delta]
    if rows:
        await db.execute(INSERT_MOVEMENTS, merchant_id, actor_label, *_movement_columns(rows))
        await channel_stock.mark_skus(merchant_id, _available_changed(rows))
        await alerts.mark(merchant_id)


def _available_changed(rows: list[Move]) -> set[int]:
    net: dict[tuple[int, int], int] = {}
    for m in rows:
        net[(m.warehouse_id, m.sku_id)] = net.get((m.warehouse_id, m.sku_id), 0) + m.on_hand_delta - m.reserved_delta
    return {sku for (_, sku), d in net.items() if d}


def _push_marks(merchant_id: int, rows: list[Move]) -> list[Also]:
    """Channel stock sync: listings of SKUs whose available stock changes are marked for a push
    in the same statement (insert-only rows: stock writers never wait on each other for them)."""
    return [Also(sql, args) for sql, args in channel_stock.dirty_marks(merchant_id, _available_changed(rows))]


def _alert_marks(merchant_id: int, rows: list[Move]) -> list[Also]:
    """Stock alerts: when available stock changes, the merchant's alert evaluation is scheduled
    (coalesced outbox job; never waits on other stock writers, see server/inventory/alerts.py)."""
    return [Also(alerts.MARK_SQL, (merchant_id,))] if _available_changed(rows) else []
