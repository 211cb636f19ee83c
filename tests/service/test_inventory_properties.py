"""Property-based test of the inventory invariants (DESIGN §5): a hypothesis state machine drives random
sequences of receipts, adjustments, stocktakes, orders (partner API and platform ingest, kits included),
cancellations (staff and platform), shipments (mark shipped and platform) and returns against the real
database, and after every step checks

- I1  reserved <= on hand and nothing negative, for every warehouse × SKU; reserved equals the live
      reservations;
- I2  every stock level equals the sum of its ledger movements;
- I3  every line of every order is reserved, shipped, backordered (held) or cancelled;
- on hand equals what the model received, adjusted and took back, minus the units of shipped
  reservations;
- a backorder is real: no order held out_of_stock could be filled from the stock available now.

Transfers are in the machine too: ship (out of the source, never below what is reserved), receive in
parts at the destination (backorders served), cancel (in-transit units back to the source); the model
follows the units, and every level's `incoming` equals the units in transit to it.

Hypothesis runs the machine synchronously, so it runs in a worker thread and each step runs on the test's
event loop (where the connection pool lives) through run_coroutine_threadsafe.
"""
from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from server.auth import service as auth
from server.catalog import service as catalog
from server.channels import service as channels
from server.channels.connectors.base import NormalizedStatus
from server.core import db
from server.core.actor import system
from server.core.errors import DomainError
from server.inventory import invariants, transfers
from server.inventory import service as inventory
from server.inventory.allocation import Candidate, choose_allocation
from server.inventory.reservations import demands
from server.orders import ingest
from server.orders import service as orders
from server.orders.service import LineInput, OrderInput, ReceiverInput
from tests.support.fixtures import truncate_all
from tests.support.orders import T0, fetched, line, order

WAREHOUSES = ("W1", "W2")           # W1 serves every channel; W2 only the store
SKUS = ("A", "B", "C")
ORDERABLE = ("A", "B", "C", "KIT")  # KIT = 2 A + 1 B
_ids = itertools.count(1)


class InventoryMachine(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    @initialize()
    def world(self):
        self.run(self._world())

    async def _world(self):
        await truncate_all()
        merchant = await auth.create_merchant(f"prop-{next(_ids)}", "Property shop")
        self.mid = merchant["id"]
        self.actor = system(self.mid, "property")
        for code in SKUS:
            await catalog.create_sku(self.actor, {"code": code, "name": code, "list_price": "5.00"})
        kit = await catalog.create_sku(self.actor, {"code": "KIT", "name": "Kit", "list_price": "12.00"})
        await db.execute("UPDATE sku SET is_kit = true WHERE id = $1", kit["id"])
        await db.execute("""INSERT INTO sku_component (kit_sku_id, component_sku_id, quantity)
                            SELECT $1, id, CASE code WHEN 'A' THEN 2 ELSE 1 END FROM sku
                            WHERE merchant_id = $2 AND code IN ('A', 'B')""", kit["id"], self.mid)
        self.channels = []
        for platform, name in (("website", "Web"), ("pos", "Store")):
            made = await channels.create_channel(self.actor, platform=platform, name=name)
            self.channels.append(dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", made["id"])))
        await inventory.create_warehouse(self.actor, {"code": "W1", "name": "Main", "priority": 2})
        await inventory.create_warehouse(self.actor, {"code": "W2", "name": "Store room", "priority": 1,
                                                      "channels": ["Store"]})
        self.expected = {(w, s): 0 for w in WAREHOUSES for s in SKUS}
        self.orders: list[int] = []
        self.platform: dict[int, tuple[dict, object]] = {}     # order id -> (channel, normalized order)
        self.returned: dict[int, int] = {}                    # reservation id -> units returned
        self.transfers: dict[int, dict] = {}                  # open shipped transfer id -> src, dst, sku, in transit

    # -- stock --------------------------------------------------------------------------------------
    @rule(wh=st.sampled_from(WAREHOUSES), sku=st.sampled_from(SKUS), qty=st.integers(1, 4))
    def receive(self, wh, sku, qty):
        self.run(inventory.receive(self.actor, wh, sku, qty, "PO"))
        self.expected[(wh, sku)] += qty

    @rule(wh=st.sampled_from(WAREHOUSES), sku=st.sampled_from(SKUS), delta=st.integers(-3, 3).filter(bool))
    def adjust(self, wh, sku, delta):
        self._correct(wh, sku, delta, lambda: inventory.adjust(self.actor, wh, sku, delta=delta, reason="check"))

    @rule(wh=st.sampled_from(WAREHOUSES), sku=st.sampled_from(SKUS), counted=st.integers(0, 5))
    def stocktake(self, wh, sku, counted):
        on_hand = self._level(wh, sku)[0]
        self._correct(wh, sku, counted - on_hand,
                      lambda: inventory.adjust(self.actor, wh, sku, counted_quantity=counted, reason="count"))

    def _correct(self, wh, sku, delta, call):
        on_hand, reserved = self._level(wh, sku)
        try:
            self.run(call())
        except DomainError as exc:
            expected = "negative_stock" if on_hand + delta < 0 else "insufficient_stock"
            assert exc.code == expected and on_hand + delta < reserved, (exc.code, on_hand, reserved, delta)
            assert self._level(wh, sku) == (on_hand, reserved)
            return
        assert on_hand + delta >= reserved
        self.expected[(wh, sku)] += delta

    def _level(self, wh, sku) -> tuple[int, int]:
        row = self.run(db.fetchrow(
            """SELECT l.on_hand, l.reserved FROM stock_level l JOIN warehouse w ON w.id = l.warehouse_id
               JOIN sku s ON s.id = l.sku_id WHERE w.merchant_id = $1 AND w.code = $2 AND s.code = $3""",
            self.mid, wh, sku))
        return (row["on_hand"], row["reserved"]) if row else (0, 0)

    # -- transfers ----------------------------------------------------------------------------------
    @rule(src=st.sampled_from(WAREHOUSES), sku=st.sampled_from(SKUS), qty=st.integers(1, 3))
    def transfer_ship(self, src, sku, qty):
        dst = next(w for w in WAREHOUSES if w != src)
        made = self.run(transfers.create_transfer(self.actor, src, dst, [{"sku": sku, "quantity": qty}]))
        on_hand, reserved = self._level(src, sku)
        try:
            self.run(transfers.ship_transfer(self.actor, made["id"]))
        except DomainError as exc:
            assert exc.code == "insufficient_stock" and qty > on_hand - reserved, (exc.code, on_hand, reserved, qty)
            assert self._level(src, sku) == (on_hand, reserved)
            self.run(transfers.cancel_transfer(self.actor, made["id"]))
            return
        assert qty <= on_hand - reserved
        self.expected[(src, sku)] -= qty
        self.transfers[made["id"]] = {"src": src, "dst": dst, "sku": sku, "in_transit": qty}

    @precondition(lambda self: self.transfers)
    @rule(pick=st.integers(0, 10_000), part=st.integers(1, 2))
    def transfer_receive(self, pick, part):
        tid = sorted(self.transfers)[pick % len(self.transfers)]
        t = self.transfers[tid]
        qty = min(part, t["in_transit"])
        done = self.run(transfers.receive_transfer(self.actor, tid, {t["sku"]: qty}))
        self.expected[(t["dst"], t["sku"])] += qty
        t["in_transit"] -= qty
        assert done["status"] == ("received" if t["in_transit"] == 0 else "partially_received")
        if t["in_transit"] == 0:
            del self.transfers[tid]

    @precondition(lambda self: self.transfers)
    @rule(pick=st.integers(0, 10_000))
    def transfer_cancel(self, pick):
        tid = sorted(self.transfers)[pick % len(self.transfers)]
        t = self.transfers.pop(tid)
        self.run(transfers.cancel_transfer(self.actor, tid, "changed plans"))
        self.expected[(t["src"], t["sku"])] += t["in_transit"]

    # -- orders -------------------------------------------------------------------------------------
    @rule(lines=st.lists(st.tuples(st.sampled_from(ORDERABLE), st.integers(1, 2)), min_size=1, max_size=3),
          store=st.booleans(), paid=st.booleans())
    def order_via_api(self, lines, store, paid):
        made, _ = self.run(orders.create_order(self.actor, OrderInput(
            channel="Store" if store else "Web", external_id=f"API-{next(_ids)}",
            lines=[LineInput(sku=s, quantity=q) for s, q in lines], receiver=ReceiverInput(name="买家"),
            paid=paid or len(lines) > 1)))
        self.orders.append(made["id"])

    @rule(batch=st.lists(st.lists(st.tuples(st.sampled_from(ORDERABLE), st.integers(1, 2)), min_size=1, max_size=3),
                         min_size=1, max_size=3), store=st.booleans())
    def orders_via_ingest(self, batch, store):
        ch = self.channels[1 if store else 0]
        normalized = [order(f"PL-{next(_ids)}", lines=[line(s, q) for s, q in lines],
                            placed=T0 + timedelta(minutes=next(_ids))) for lines in batch]
        self.run(ingest.ingest(ch, [fetched(o) for o in normalized], source="pull"))
        for o in normalized:
            oid = self.run(db.fetchval("SELECT id FROM sales_order WHERE channel_id = $1 AND external_id = $2",
                                       ch["id"], o.external_id))
            self.orders.append(oid)
            self.platform[oid] = (ch, o)

    @precondition(lambda self: self.orders)
    @rule(pick=st.integers(0, 10_000), by_platform=st.booleans())
    def cancel(self, pick, by_platform):
        oid = self.orders[pick % len(self.orders)]
        if by_platform and oid in self.platform:
            self._platform_update(oid, NormalizedStatus.CANCELLED)
            return
        try:
            self.run(orders.cancel_order(self.actor, oid, "buyer asked"))
        except DomainError as exc:
            assert exc.code == "invalid_transition"
            assert self._status(oid) in ("shipped", "delivered", "completed")

    @precondition(lambda self: self.orders)
    @rule(pick=st.integers(0, 10_000), by_platform=st.booleans())
    def ship(self, pick, by_platform):
        oid = self.orders[pick % len(self.orders)]
        if by_platform and oid in self.platform:
            self._platform_update(oid, NormalizedStatus.SHIPPED)
            return
        before = self._status(oid)
        try:
            self.run(inventory.mark_shipped(self.actor, oid, "SF", f"SF{oid}"))
        except DomainError as exc:
            assert exc.code in ("already_shipped", "order_on_hold", "invalid_transition"), exc.code
            assert before not in ("awaiting_review", "ready", "in_fulfillment"), before
            return
        assert self._status(oid) == "shipped"

    def _platform_update(self, oid, status):
        ch, o = self.platform[oid]
        newer = order(o.external_id, lines=o.lines, status=status, placed=o.placed_at,
                      updated=o.updated_at + timedelta(minutes=next(_ids)))
        self.platform[oid] = (ch, newer)
        self.run(ingest.ingest(ch, [fetched(newer)], source="webhook"))

    def _status(self, oid) -> str:
        return self.run(db.fetchval("SELECT status FROM sales_order WHERE id = $1", oid))

    @rule(pick=st.integers(0, 10_000))
    def return_goods(self, pick):
        shipped = self.run(db.fetch(
            """SELECT r.id, r.quantity, w.code AS wh, s.code AS sku, o.order_number FROM reservation r
               JOIN warehouse w ON w.id = r.warehouse_id JOIN sku s ON s.id = r.sku_id
               JOIN sales_order o ON o.id = r.order_id
               WHERE r.merchant_id = $1 AND r.status = 'shipped' ORDER BY r.id""", self.mid))
        open_ = [r for r in shipped if self.returned.get(r["id"], 0) < r["quantity"]]
        if not open_:
            return
        r = open_[pick % len(open_)]
        self.run(inventory.receive(self.actor, r["wh"], r["sku"], 1, r["order_number"], kind="return"))
        self.returned[r["id"]] = self.returned.get(r["id"], 0) + 1
        self.expected[(r["wh"], r["sku"])] += 1

    @rule()
    def sweep_backorders(self):
        assert self.run(inventory.release_backorders(self.actor)) == []     # nothing was left behind

    # -- invariants ---------------------------------------------------------------------------------
    @invariant()
    def no_oversell_and_ledger_is_the_truth(self):
        assert self.run(invariants.oversold(self.mid)) == []
        assert self.run(invariants.ledger_mismatches(self.mid)) == []
        assert self.run(invariants.reservation_mismatches(self.mid)) == []

    @invariant()
    def incoming_is_what_is_in_transit(self):
        assert self.run(transfers.incoming_mismatches(self.mid)) == []
        for wh in WAREHOUSES:
            for sku in SKUS:
                units = sum(t["in_transit"] for t in self.transfers.values() if t["dst"] == wh and t["sku"] == sku)
                row = self.run(db.fetchval(
                    """SELECT l.incoming FROM stock_level l JOIN warehouse w ON w.id = l.warehouse_id
                       JOIN sku s ON s.id = l.sku_id WHERE w.merchant_id = $1 AND w.code = $2 AND s.code = $3""",
                    self.mid, wh, sku))
                assert (row or 0) == units, (wh, sku)

    @invariant()
    def every_line_is_accounted_for(self):
        assert self.run(invariants.unaccounted_lines(self.mid)) == []

    @invariant()
    def on_hand_follows_the_model(self):
        shipped = {(r["wh"], r["sku"]): r["units"] for r in self.run(db.fetch(
            """SELECT w.code AS wh, s.code AS sku, sum(r.quantity) AS units FROM reservation r
               JOIN warehouse w ON w.id = r.warehouse_id JOIN sku s ON s.id = r.sku_id
               WHERE r.merchant_id = $1 AND r.status = 'shipped' GROUP BY 1, 2""", self.mid))}
        for (wh, sku), units in self.expected.items():
            assert self._level(wh, sku)[0] == units - shipped.get((wh, sku), 0), (wh, sku)

    @invariant()
    def backorders_are_real(self):
        self.run(self._no_fillable_backorder())

    async def _no_fillable_backorder(self):
        waiting = await db.fetch("SELECT id, channel_id FROM sales_order WHERE merchant_id = $1 "
                                 "AND 'out_of_stock' = ANY(hold_reasons) ORDER BY id", self.mid)
        if not waiting:
            return
        need = await demands([r["id"] for r in waiting])
        levels = await db.fetch(
            """SELECT w.id, w.code, w.priority, w.serves_all_channels,
                      array(SELECT channel_id FROM warehouse_channel WHERE warehouse_id = w.id) AS chans,
                      l.sku_id, l.on_hand - l.reserved AS available
               FROM warehouse w JOIN stock_level l ON l.warehouse_id = w.id
               WHERE w.merchant_id = $1 AND w.active""", self.mid)
        for r in waiting:
            cands: dict[int, Candidate] = {}
            for lv in levels:
                if lv["serves_all_channels"] or r["channel_id"] in lv["chans"]:
                    c = cands.setdefault(lv["id"], Candidate(lv["id"], lv["code"], lv["priority"]))
                    c.available[lv["sku_id"]] = lv["available"]
            assert choose_allocation({}, need[r["id"]].lines, list(cands.values())) is None, r["id"]


async def test_inventory_invariants_hold_for_any_sequence(db):
    InventoryMachine.loop = asyncio.get_running_loop()
    config = settings(max_examples=40, stateful_step_count=20, deadline=None, derandomize=False,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    await asyncio.to_thread(run_state_machine_as_test, InventoryMachine, settings=config)
