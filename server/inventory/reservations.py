"""Reservations that never oversell: one idempotent reconciliation for every order change.

`reconcile_orders(actor, order_ids)` looks at what each order's lines should hold, given the order's
status and payment, and makes it so — reserve, release, or deduct on shipment — so every code path
(ingest, partner/staff order creation, cancel, hold release, mark shipped, stock arriving) just calls
it, as often as it likes.

Locking (deadlock-free, I1 under any concurrency). The rule: a transaction may wait for locks only
until it takes its first stock_level lock; from then on it never waits for anything.
- orders are locked first (by id), then the stock_level rows, all of them in ONE statement ordered
  by id. Availability is read under those locks, so the allocation decided in Python is exact and
  the writes cannot fail — the conditional UPDATE in ledger.apply re-checks it anyway, and the
  table's CHECK constraint is the last line;
- holding an order or releasing its hold changes its status; the order counts that follow status
  changes are insert-only deltas (no shared row to lock), so nothing waits after the stock locks;
- a (warehouse, SKU) row that does not exist yet is created (zero) before the locks are taken, so a
  receipt racing an order always meets it on the same row lock: either the order sees the receipt,
  or the receipt's backorder pass sees the order held;
- passes that run when stock is already locked (backorders after a receipt or a release) take further
  order and stock locks with SKIP LOCKED — when another transaction holds them the pass leaves those
  orders for the next one.

Backorders are released in the transaction that frees the stock (receipt, positive adjustment,
cancellation; later transfers and returns): the receipt and the reservations it enables commit
together, in a deterministic order (order priority, then paid time, then id), and no worker, queue
or Redis needs to be up for a receipt to reach waiting orders. `release_backorders` is the same pass
as a command, for an order skipped because another transaction held it at that instant.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from server.auth import policy
from server.core import db
from server.core.actor import Actor
from server.core.errors import DomainError
from server.inventory import holds, ledger
from server.inventory.allocation import Candidate, LineDemand, choose_allocation, total_needs
from server.orders import status as st

S = st.OrderStatus
HOLD = holds.HOLD
# holds under which an order reserves nothing: its lines cannot be allocated yet
NO_RESERVE_HOLDS = frozenset({"unmatched_sku"})
DEDUCTED = frozenset({S.SHIPPED, S.DELIVERED, S.COMPLETED})
BACKORDER_CHUNK = 100
BACKORDER_MAX = 5000           # orders looked at per pass; release_backorders continues the rest


class InsufficientStock(DomainError):
    code = "insufficient_stock"
    status = 409


@dataclass
class Demand:
    lines: list[LineDemand] = field(default_factory=list)
    unmatched: bool = False
    codes: dict[int, str] = field(default_factory=dict)


async def _warehouses(merchant_id: int) -> list[dict]:
    rows = await db.fetch(
        """SELECT w.id, w.code, w.priority, w.active, w.serves_all_channels,
                  coalesce(array_agg(wc.channel_id) FILTER (WHERE wc.channel_id IS NOT NULL), '{}') AS channel_ids
           FROM warehouse w LEFT JOIN warehouse_channel wc ON wc.warehouse_id = w.id
           WHERE w.merchant_id = $1 GROUP BY w.id ORDER BY w.id""", merchant_id)
    return [dict(r) for r in rows]


def _eligible(warehouses: list[dict], channel_id: int) -> list[dict]:
    return [w for w in warehouses
            if w["active"] and (w["serves_all_channels"] or channel_id in w["channel_ids"])]


async def demands(order_ids: list[int]) -> dict[int, Demand]:
    """What each order's lines need: kits expanded into components, refunded units left out."""
    rows = await db.fetch(
        """SELECT ol.order_id, ol.id AS line_id, ol.line_no, ol.sku_id,
                  greatest(ol.quantity - ol.refunded_quantity, 0) AS qty,
                  coalesce(c.component_sku_id, ol.sku_id) AS need_sku, coalesce(c.quantity, 1) AS per_unit,
                  coalesce(cs.code, s.code) AS need_code
           FROM order_line ol
           LEFT JOIN sku s ON s.id = ol.sku_id
           LEFT JOIN sku_component c ON s.is_kit AND c.kit_sku_id = s.id
           LEFT JOIN sku cs ON cs.id = c.component_sku_id
           WHERE ol.order_id = ANY($1::bigint[])
           ORDER BY ol.order_id, ol.line_no, need_sku""", order_ids)
    out: dict[int, Demand] = {oid: Demand() for oid in order_ids}
    needs: dict[tuple[int, int, int], dict[int, int]] = {}
    for r in rows:
        d = out[r["order_id"]]
        if r["sku_id"] is None:
            d.unmatched = True
            continue
        if r["qty"] <= 0:
            continue
        per_line = needs.setdefault((r["order_id"], r["line_id"], r["line_no"]), {})
        per_line[r["need_sku"]] = per_line.get(r["need_sku"], 0) + r["qty"] * r["per_unit"]
        d.codes[r["need_sku"]] = r["need_code"]
    for (oid, line_id, line_no), n in needs.items():
        out[oid].lines.append(LineDemand(line_id=line_id, line_no=line_no, needs=n))
    return out


def _action(order: dict, demand: Demand) -> str:
    status = S(order["status"])
    if status in DEDUCTED:
        return "ship"
    if status == S.PARTIALLY_SHIPPED:
        return "keep"      # which lines left is a shipment's business (fulfilment issue); hold what is held
    if (status in st.PAYABLE and order["payment_status"] != "refunded" and not demand.unmatched
            and not NO_RESERVE_HOLDS & set(order["hold_reasons"])):
        return "reserve"
    return "release"


def _satisfied(demand: Demand, live: list[dict]) -> bool:
    want = {(ln.line_id, sku): qty for ln in demand.lines for sku, qty in ln.needs.items()}
    have = {(r["order_line_id"], r["sku_id"]): r["quantity"] for r in live}
    return want == have and len(have) == len(live)


@dataclass
class _Writes:
    """Everything one reconciliation decided, written in a few set-based statements."""

    actor: Actor
    moves: list[ledger.Move] = field(default_factory=list)
    new: list[tuple] = field(default_factory=list)
    ended: list[tuple[int, str]] = field(default_factory=list)
    events: list[tuple[int, str, str, str]] = field(default_factory=list)
    holds: list[tuple[dict, bool, str, dict]] = field(default_factory=list)
    freed: set[int] = field(default_factory=set)
    released_holds: list[int] = field(default_factory=list)

    def end(self, order: dict, live: list[dict], shipped: bool) -> None:
        if not live:
            return
        kind = "shipment" if shipped else "release"
        for r in live:
            self.ended.append((r["id"], "shipped" if shipped else "released"))
            self.moves.append(ledger.Move(
                r["stock_level_id"], r["warehouse_id"], r["sku_id"], kind,
                on_hand_delta=-r["quantity"] if shipped else 0, reserved_delta=-r["quantity"],
                reason=f"order {order['status'].replace('_', ' ')}", reference=order["order_number"],
                order_id=order["id"], order_line_id=r["order_line_id"]))
            if not shipped:
                self.freed.add(r["sku_id"])
        self.events.append((order["id"], "stock_shipped" if shipped else "stock_released",
                            "reserved stock left with the shipment" if shipped
                            else f"reserved stock released (order {order['status'].replace('_', ' ')})", "{}"))

    def unhold(self, order: dict, message: str, *, reserved: bool = True) -> None:
        self.holds.append((order, False, message, {"released": HOLD}))
        if reserved:
            self.released_holds.append(order["id"])

    def reserve(self, order: dict, line: LineDemand, sku: int, warehouse_id: int, level_id: int, qty: int) -> None:
        self.new.append((order["id"], line.line_id, sku, warehouse_id, level_id, qty))
        self.moves.append(ledger.Move(level_id, warehouse_id, sku, "reservation", reserved_delta=qty,
                                      reference=order["order_number"], order_id=order["id"],
                                      order_line_id=line.line_id))

    async def flush(self, merchant_id: int) -> None:
        if self.ended:   # before new rows: a line re-reserved must not meet its old live row
            await db.execute(
                """UPDATE reservation r SET status = u.status, updated_at = now()
                   FROM unnest($1::bigint[], $2::text[]) AS u(id, status) WHERE r.id = u.id""",
                [e[0] for e in self.ended], [e[1] for e in self.ended])
        also = []
        if self.new:
            also.append(ledger.Also(
                """INSERT INTO reservation (merchant_id, order_id, order_line_id, sku_id, warehouse_id,
                                            stock_level_id, quantity)
                   SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
                                            $7::int[])""",
                (merchant_id, *(list(c) for c in zip(*self.new, strict=True)))))
        if self.events:
            also.append(ledger.Also(
                """INSERT INTO order_event (order_id, merchant_id, kind, actor_label, message, data)
                   SELECT e.o, $1, e.k, $2, e.m, e.d::jsonb
                   FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[]) AS e(o, k, m, d)""",
                (merchant_id, self.actor.label, *(list(c) for c in zip(*self.events, strict=True)))))
        await ledger.apply(merchant_id, self.actor.label, self.moves, also)
        for order, hold, message, data in self.holds:
            await holds.set_hold(self.actor, order, hold, message, data)


def _shortage(demand: Demand, candidates: list[Candidate]) -> dict[str, dict]:
    short = {}
    for sku, qty in total_needs(demand.lines).items():
        best = max((c.available.get(sku, 0) for c in candidates), default=0)
        if qty > best:
            short[demand.codes.get(sku, str(sku))] = {
                "needed": qty, "available": sum(c.available.get(sku, 0) for c in candidates)}
    return short


async def reconcile_orders(actor: Actor, order_ids: list[int]) -> None:
    """Make each order's reservations match its status and payment (idempotent; see module doc).

    Runs in the caller's transaction (or its own). No permission of its own: it is the consequence of
    an order change the caller was allowed to make, confined to the actor's merchant. Orders are
    handled in the given order (it decides who gets the last unit); locks are taken by id. A merchant
    without any warehouse does not track stock: nothing happens.
    """
    await _reconcile(actor, order_ids, wait=True)


@dataclass
class _Batch:
    """The locked orders of one reconciliation and what they need."""

    merchant_id: int
    wait: bool
    warehouses: list[dict]
    wanted: list[int]
    orders: dict[int, dict]
    need: dict[int, Demand]
    live: dict[int, list[dict]]
    plan: dict[int, str] = field(default_factory=dict)
    skus: set[int] = field(default_factory=set)
    held_levels: set[int] = field(default_factory=set)


async def _reconcile(actor: Actor, order_ids: Iterable[int], *, wait: bool) -> list[int]:
    """Returns the ids of orders whose out_of_stock hold was released. wait=False is the SKIP LOCKED
    pass run where stock may already be locked (its caller holds the order-count rows)."""
    mid = policy.tenant(actor)
    wanted = list(dict.fromkeys(int(i) for i in order_ids))
    if not wanted:
        return []
    async with db.transaction():
        batch = await _load(mid, wanted, wait)
        if batch is None:
            return []
        if wait:
            w = await _decide_with_counts(actor, batch)
        else:
            w = await _decide(actor, batch)
        await w.flush(mid)
        if wait and w.freed:
            await _release_backorders(actor, sorted(w.freed), exclude=list(batch.orders))
    return w.released_holds


async def _load(mid: int, wanted: list[int], wait: bool) -> _Batch | None:
    warehouses = await _warehouses(mid)
    if not warehouses:
        return None
    lock_orders = ("SELECT id, merchant_id, channel_id, order_number, status, payment_status, "  # noqa: S608
                   "hold_reasons, priority, paid_at FROM sales_order WHERE merchant_id = $1 "
                   "AND id = ANY($2::bigint[]) ORDER BY id FOR UPDATE" + ("" if wait else " SKIP LOCKED"))
    orders = {r["id"]: dict(r) for r in await db.fetch(lock_orders, mid, wanted)}
    if not orders:
        return None
    need = await demands(list(orders))
    live: dict[int, list[dict]] = {}
    for r in await db.fetch(
            "SELECT * FROM reservation WHERE order_id = ANY($1::bigint[]) AND status = 'reserved' ORDER BY id",
            list(orders)):
        live.setdefault(r["order_id"], []).append(dict(r))
    b = _Batch(mid, wait, warehouses, wanted, orders, need, live)
    for oid, order in orders.items():
        action = _action(order, need[oid])
        if action == "reserve" and _satisfied(need[oid], live.get(oid, [])):
            action = "satisfied"
        b.plan[oid] = action
        if action == "reserve":
            b.skus.update(total_needs(need[oid].lines))
        if action in ("reserve", "release", "ship"):
            b.held_levels.update(r["stock_level_id"] for r in live.get(oid, []))
    return b


async def _decide_with_counts(actor: Actor, b: _Batch) -> _Writes:
    """Decide under the stock locks. Status changes no longer lock shared rows (order counts are
    insert-only deltas), so nothing here waits for a lock after the stock rows are taken."""
    return await _decide(actor, b)


async def _decide(actor: Actor, b: _Batch) -> _Writes:
    """Lock the stock rows (one statement, by id) and decide every order's reservations in memory."""
    active = [w["id"] for w in b.warehouses if w["active"]]
    levels: dict[int, dict] = {}
    if b.skus or b.held_levels:
        if b.wait and b.skus and active:
            # Create the missing (warehouse, SKU) rows first, in their own statement: if a receipt is
            # creating one right now, this waits for it and the locking read below (a new snapshot)
            # sees its stock. Only missing rows: inserting over an existing row would wait for its updater.
            await db.execute(
                """INSERT INTO stock_level (merchant_id, warehouse_id, sku_id)
                   SELECT $1, w, s FROM unnest($2::bigint[]) AS w CROSS JOIN unnest($3::bigint[]) AS s
                   WHERE NOT EXISTS (SELECT 1 FROM stock_level l WHERE l.warehouse_id = w AND l.sku_id = s)
                   ORDER BY w, s ON CONFLICT (warehouse_id, sku_id) DO NOTHING""",
                b.merchant_id, active, sorted(b.skus))
        levels = {r["id"]: dict(r) for r in await db.fetch(
            """SELECT id, warehouse_id, sku_id, on_hand, reserved FROM stock_level
               WHERE merchant_id = $1 AND (id = ANY($2::bigint[])
                     OR (sku_id = ANY($3::bigint[]) AND warehouse_id = ANY($4::bigint[])))
               ORDER BY id FOR UPDATE""" + ("" if b.wait else " SKIP LOCKED"),  # noqa: S608 - fixed fragments
            b.merchant_id, sorted(b.held_levels), sorted(b.skus), active)}
    avail = {lid: r["on_hand"] - r["reserved"] for lid, r in levels.items()}
    by_key = {(r["warehouse_id"], r["sku_id"]): lid for lid, r in levels.items()}
    codes = {w["id"]: w["code"] for w in b.warehouses}

    w = _Writes(actor)
    for oid in b.wanted:
        order = b.orders.get(oid)
        if order is None:
            continue            # another merchant's id, or locked by someone else in a SKIP LOCKED pass
        action, mine, demand = b.plan[oid], b.live.get(oid, []), b.need[oid]
        if any(r["stock_level_id"] not in levels for r in mine) and action in ("reserve", "release", "ship"):
            continue            # a level another transaction holds (SKIP LOCKED pass): leave it for later
        holding = HOLD in order["hold_reasons"]
        if action == "keep":
            continue
        if action == "satisfied":
            if holding:
                w.unhold(order, "stock is reserved")
            continue
        if action in ("ship", "release"):
            w.end(order, mine, shipped=action == "ship")
            for r in mine:
                avail[r["stock_level_id"]] += 0 if action == "ship" else r["quantity"]
            if action == "release" and holding and S(order["status"]) in st.OPEN:
                w.unhold(order, "nothing to reserve while the order cannot be allocated", reserved=False)
            continue
        # reserve: start from a clean slate if what is held no longer matches the lines
        w.end(order, mine, shipped=False)
        for r in mine:
            avail[r["stock_level_id"]] += r["quantity"]
        candidates = [
            Candidate(wh["id"], wh["code"], wh["priority"],
                      {sku: avail.get(by_key.get((wh["id"], sku), -1), 0) for sku in total_needs(demand.lines)})
            for wh in _eligible(b.warehouses, order["channel_id"])]
        allocation = choose_allocation(order, demand.lines, candidates)
        if allocation is None:
            if not holding:
                short = _shortage(demand, candidates)
                text = ", ".join(f"{code} needs {v['needed']}, {v['available']} available" for code, v in short.items())
                w.holds.append((order, True, f"not enough stock: {text}" if text else "not enough stock",
                                {"hold": HOLD, "short": short}))
            continue
        per_wh: dict[str, list[int]] = {}
        for ln in demand.lines:
            wh_id = allocation[ln.line_id]
            per_wh.setdefault(codes[wh_id], []).append(ln.line_no)
            for sku, qty in sorted(ln.needs.items()):
                level_id = by_key[(wh_id, sku)]
                avail[level_id] -= qty
                w.reserve(order, ln, sku, wh_id, level_id, qty)
        if demand.lines:
            w.events.append((oid, "stock_reserved", "stock reserved in " + ", ".join(per_wh),
                             db.dumps({"warehouses": per_wh})))
        if holding:
            w.unhold(order, "stock arrived and is reserved")
    return w


async def _any_available(merchant_id: int, sku_ids: list[int]) -> bool:
    return bool(await db.fetchval(
        """SELECT EXISTS (SELECT 1 FROM stock_level l JOIN warehouse w ON w.id = l.warehouse_id AND w.active
                          WHERE l.merchant_id = $1 AND l.sku_id = ANY($2::bigint[]) AND l.on_hand > l.reserved)""",
        merchant_id, sku_ids))


WAITING = """FROM sales_order o
               WHERE o.merchant_id = $1 AND o.hold_reasons <> '{}' AND o.hold_reasons @> ARRAY['out_of_stock']::text[]
                 AND o.status = 'on_hold' AND NOT (o.id = ANY($3::bigint[]))
                 AND EXISTS (SELECT 1 FROM order_line ol
                             WHERE ol.order_id = o.id
                               AND (ol.sku_id = ANY($2::bigint[])
                                    OR EXISTS (SELECT 1 FROM sku_component c WHERE c.kit_sku_id = ol.sku_id
                                                 AND c.component_sku_id = ANY($2::bigint[]))))"""


async def backorders_waiting(merchant_id: int, sku_ids: list[int]) -> bool:
    """Are orders held out_of_stock for any of these SKUs (directly or as kit components)?"""
    return bool(await db.fetchval(f"SELECT EXISTS (SELECT 1 {WAITING})", merchant_id, sku_ids, []))  # noqa: S608


async def _release_backorders(actor: Actor, sku_ids: list[int], *, exclude: list[int] | None = None) -> list[int]:
    """Reserve for orders held out_of_stock that need any of `sku_ids` (directly or as a kit
    component): highest order priority first, then the oldest paid, while any of that stock is left.
    Runs where stock locks may already be held, so it never waits: order and stock rows with SKIP
    LOCKED."""
    mid = policy.tenant(actor)
    seen = list(exclude or [])
    released: list[int] = []
    looked = 0
    if not await _any_available(mid, sku_ids) or not await backorders_waiting(mid, sku_ids):
        return released
    while looked < BACKORDER_MAX and await _any_available(mid, sku_ids):
        rows = await db.fetch(
            f"""SELECT o.id {WAITING}
               ORDER BY o.priority DESC, o.paid_at ASC NULLS LAST, o.id
               LIMIT $4 FOR UPDATE OF o SKIP LOCKED""", mid, sku_ids, seen, BACKORDER_CHUNK)  # noqa: S608
        if not rows:
            break
        ids = [r["id"] for r in rows]
        released += await _reconcile(actor, ids, wait=False)
        seen += ids
        looked += len(ids)
    return released


async def release_backorders(actor: Actor, skus: list[str | int] | None = None) -> list[int]:
    """Retry orders held out_of_stock (for these SKUs, or all with available stock). Returns the
    released order ids. The same pass runs by itself whenever stock is received or freed."""
    policy.authorize(actor, "inventory.adjust")
    mid = policy.tenant(actor)
    async with db.transaction():
        if skus:
            from server.inventory.stock import resolve_skus  # noqa: PLC0415 - stock imports this module

            sku_ids = sorted(s["id"] for s in await resolve_skus(actor, skus))
        else:
            sku_ids = [r["sku_id"] for r in await db.fetch(
                "SELECT DISTINCT sku_id FROM stock_level WHERE merchant_id = $1 AND on_hand > reserved ORDER BY 1",
                mid)]
        return await _release_backorders(actor, sku_ids) if sku_ids else []
