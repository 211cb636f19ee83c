"""Reservations against real PostgreSQL: whole-order allocation by priority, splits only when needed,
kits that never double-count a component, cancel/ship/platform updates, backorders, idempotency."""
from datetime import timedelta

import pytest

from server.catalog import service as catalog
from server.channels import service as channels
from server.channels.connectors.base import NormalizedStatus, PaymentStatus
from server.core import db
from server.core.actor import system
from server.core.errors import NotFound, ValidationError
from server.inventory import invariants
from server.inventory import service as inventory
from server.inventory.allocation import Candidate, LineDemand, choose_allocation
from server.orders import ingest
from server.orders import service as orders
from server.orders.service import LineInput, OrderInput, ReceiverInput
from server.orders.status import InvalidTransition
from tests.support.orders import fetched, later, line, order


async def world(merchant, *, stock: dict | None = None):
    """SKUs TEA, CUP, POT; a kit GIFT = 2 TEA + 1 CUP; warehouses SZ (10), HZ (5), BJ (1); channels Web, Store."""
    actor = system(merchant["id"], "test")
    for code in ("TEA", "CUP", "POT"):
        await catalog.create_sku(actor, {"code": code, "name": code.title(), "list_price": "10.00"})
    kit = await catalog.create_sku(actor, {"code": "GIFT", "name": "Gift set", "list_price": "30.00"})
    await db.execute("UPDATE sku SET is_kit = true WHERE id = $1", kit["id"])
    await db.execute("""INSERT INTO sku_component (kit_sku_id, component_sku_id, quantity)
                        SELECT $1, id, CASE code WHEN 'TEA' THEN 2 ELSE 1 END FROM sku
                        WHERE merchant_id = $2 AND code IN ('TEA', 'CUP')""", kit["id"], merchant["id"])
    for code, prio in (("SZ", 10), ("HZ", 5), ("BJ", 1)):
        await inventory.create_warehouse(actor, {"code": code, "name": code, "priority": prio})
    web = await channels.create_channel(actor, platform="website", name="Web")
    await channels.create_channel(actor, platform="pos", name="Store")
    for (wh, sku), qty in (stock or {}).items():
        await inventory.receive(actor, wh, sku, qty, "initial")
    return actor, web


async def place(actor, ext: str, *lines: tuple[str, int], channel: str = "Web", paid: bool = True) -> dict:
    created, _ = await orders.create_order(actor, OrderInput(
        channel=channel, external_id=ext, lines=[LineInput(sku=s, quantity=q) for s, q in lines],
        receiver=ReceiverInput(name="张三", phone="13812345678"), paid=paid))
    return created


async def held(order_id: int) -> list[tuple[str, str, int]]:
    """(line's SKU or component, warehouse, quantity) of an order's live reservations."""
    rows = await db.fetch("""SELECT s.code, w.code AS wh, r.quantity FROM reservation r JOIN sku s ON s.id = r.sku_id
                             JOIN warehouse w ON w.id = r.warehouse_id
                             WHERE r.order_id = $1 AND r.status = 'reserved' ORDER BY r.order_line_id, s.code""",
                          order_id)
    return [(r["code"], r["wh"], r["quantity"]) for r in rows]


async def state(order_id: int) -> tuple[str, list[str]]:
    row = await db.fetchrow("SELECT status, hold_reasons FROM sales_order WHERE id = $1", order_id)
    return row["status"], list(row["hold_reasons"])


async def level(actor, wh: str, sku: str) -> tuple[int, int]:
    lv = await inventory.get_level(actor, wh, sku)
    return lv["on_hand"], lv["reserved"]


async def invariants_hold(merchant_id: int) -> None:
    assert await invariants.oversold(merchant_id) == []
    assert await invariants.ledger_mismatches(merchant_id) == []
    assert await invariants.reservation_mismatches(merchant_id) == []
    assert await invariants.unaccounted_lines(merchant_id) == []


async def test_whole_order_goes_to_the_best_warehouse_that_can_fill_it(merchant):
    actor, _ = await world(merchant, stock={("SZ", "TEA"): 5, ("HZ", "TEA"): 5, ("HZ", "CUP"): 5,
                                            ("BJ", "CUP"): 5, ("BJ", "TEA"): 5})
    both = await place(actor, "W-1", ("TEA", 2), ("CUP", 1))
    assert await held(both["id"]) == [("TEA", "HZ", 2), ("CUP", "HZ", 1)]   # SZ has no cups: HZ fills it all
    tea = await place(actor, "W-2", ("TEA", 1))
    assert await held(tea["id"]) == [("TEA", "SZ", 1)]                      # SZ is preferred when it can
    assert (await state(tea["id"])) == ("awaiting_review", [])
    events = await db.fetch("SELECT kind, message, data FROM order_event WHERE order_id = $1 ORDER BY id", both["id"])
    assert [e["kind"] for e in events] == ["created", "stock_reserved"] and events[1]["message"] == "stock reserved in HZ"
    assert await level(actor, "HZ", "TEA") == (5, 2)
    await invariants_hold(merchant["id"])


async def test_lines_split_across_warehouses_only_when_no_single_one_can(merchant):
    actor, _ = await world(merchant, stock={("SZ", "TEA"): 3, ("HZ", "CUP"): 2, ("BJ", "TEA"): 1})
    o = await place(actor, "W-1", ("TEA", 2), ("CUP", 2))
    assert await held(o["id"]) == [("TEA", "SZ", 2), ("CUP", "HZ", 2)]
    msg = await db.fetchval("SELECT message FROM order_event WHERE order_id = $1 AND kind = 'stock_reserved'", o["id"])
    assert msg == "stock reserved in SZ, HZ"
    # a line is never split: 2 more TEA exist only as 1 at SZ + 1 at BJ
    short = await place(actor, "W-2", ("TEA", 2))
    assert await held(short["id"]) == [] and await state(short["id"]) == ("on_hold", ["out_of_stock"])
    await invariants_hold(merchant["id"])


async def test_warehouses_serve_only_their_channels(merchant):
    actor, _ = await world(merchant, stock={("SZ", "TEA"): 1, ("BJ", "TEA"): 5})
    await inventory.update_warehouse(actor, "BJ", {"channels": ["Store"]})
    store_order = await place(actor, "S-1", ("TEA", 2), channel="Store")
    assert await held(store_order["id"]) == [("TEA", "BJ", 2)]
    web_order = await place(actor, "W-1", ("TEA", 2))                  # BJ's stock is not for Web
    assert await state(web_order["id"]) == ("on_hold", ["out_of_stock"])
    await inventory.update_warehouse(actor, "SZ", {"active": False})
    late = await place(actor, "W-2", ("TEA", 1))
    assert await state(late["id"]) == ("on_hold", ["out_of_stock"])
    # BJ starts serving Web too: its 3 spare units go to the waiting Web orders, oldest first
    await inventory.update_warehouse(actor, "BJ", {"channels": ["Store", "Web"]})
    assert await held(web_order["id"]) == [("TEA", "BJ", 2)] and await held(late["id"]) == [("TEA", "BJ", 1)]
    await invariants_hold(merchant["id"])


async def test_kit_lines_sharing_a_component_do_not_oversell(merchant):
    actor, _ = await world(merchant, stock={("SZ", "TEA"): 5, ("SZ", "CUP"): 5})
    assert (await inventory.availability(actor, "GIFT"))["available"] == 2
    # GIFT x2 needs 4 TEA + 2 CUP, plus 1 TEA: exactly the 5 TEA on hand
    first = await place(actor, "K-1", ("GIFT", 2), ("TEA", 1))
    assert await held(first["id"]) == [("CUP", "SZ", 2), ("TEA", "SZ", 4), ("TEA", "SZ", 1)]
    assert await level(actor, "SZ", "TEA") == (5, 5)
    await inventory.receive(actor, "SZ", "TEA", 3)
    # each line alone fits 3 TEA (GIFT needs 2, the TEA line 2), together they need 4: checked as one
    second = await place(actor, "K-2", ("GIFT", 1), ("TEA", 2))
    assert await held(second["id"]) == [] and await state(second["id"]) == ("on_hold", ["out_of_stock"])
    hold = await db.fetchrow("SELECT message, data FROM order_event WHERE order_id = $1 AND kind = 'held'",
                             second["id"])
    assert db.loads(hold["data"])["short"] == {"TEA": {"needed": 4, "available": 3}}
    assert "TEA needs 4, 3 available" in hold["message"]
    assert await level(actor, "SZ", "TEA") == (8, 5)
    await invariants_hold(merchant["id"])


async def test_cancel_releases_and_the_next_backorder_gets_the_stock(merchant):
    actor, _ = await world(merchant, stock={("SZ", "TEA"): 1})
    a = await place(actor, "C-1", ("TEA", 1))
    b = await place(actor, "C-2", ("TEA", 1))
    assert await state(b["id"]) == ("on_hold", ["out_of_stock"])
    await orders.cancel_order(actor, a["id"], "buyer changed mind")
    assert await held(a["id"]) == [] and await held(b["id"]) == [("TEA", "SZ", 1)]
    assert await state(b["id"]) == ("awaiting_review", [])
    assert await level(actor, "SZ", "TEA") == (1, 1)
    kinds = [r["kind"] for r in await db.fetch("SELECT kind FROM stock_movement ORDER BY id")]
    assert kinds == ["receipt", "reservation", "release", "reservation"]
    b_events = [r["kind"] for r in await db.fetch("SELECT kind FROM order_event WHERE order_id = $1 ORDER BY id",
                                                  b["id"])]
    assert b_events == ["created", "held", "stock_reserved", "hold_released"]
    # bulk cancel goes through the same path
    await orders.bulk_cancel(actor, "oversold promo", ids=[b["id"]])
    assert await level(actor, "SZ", "TEA") == (1, 0)
    await invariants_hold(merchant["id"])


async def test_mark_shipped_deducts_on_hand(merchant, users):
    actor, _ = await world(merchant, stock={("SZ", "TEA"): 3, ("SZ", "CUP"): 1})
    o = await place(actor, "M-1", ("TEA", 2), ("CUP", 1))
    keeper = (await users.make("warehouse", merchant))["actor"]
    with pytest.raises(ValidationError):
        await inventory.mark_shipped(keeper, o["id"], "SF Express", " ")
    shipped = await inventory.mark_shipped(keeper, o["id"], "SF Express", "SF1234567890")
    assert shipped["status"] == "shipped"
    assert await level(actor, "SZ", "TEA") == (1, 0) and await level(actor, "SZ", "CUP") == (0, 0)
    assert await db.fetchval("SELECT array_agg(DISTINCT status) FROM reservation WHERE order_id = $1", o["id"]) == [
        "shipped"]
    moves = await db.fetch("SELECT kind, on_hand_delta, reserved_delta, actor_label FROM stock_movement "
                           "WHERE order_id = $1 AND kind = 'shipment' ORDER BY id", o["id"])
    assert [(m["on_hand_delta"], m["reserved_delta"]) for m in moves] == [(-2, -2), (-1, -1)]
    assert moves[0]["actor_label"] == keeper.label
    event = await db.fetchrow("SELECT * FROM order_event WHERE order_id = $1 AND kind = 'shipped'", o["id"])
    assert db.loads(event["data"]) == {"carrier": "SF Express", "tracking_number": "SF1234567890"}
    with pytest.raises(InvalidTransition) as exc:
        await inventory.mark_shipped(keeper, o["id"], "SF Express", "SF1234567890")
    assert exc.value.code == "already_shipped"
    waiting = await place(actor, "M-2", ("CUP", 1))
    with pytest.raises(InvalidTransition) as exc:
        await inventory.mark_shipped(keeper, waiting["id"], "SF Express", "SF2")
    assert exc.value.code == "order_on_hold"
    unpaid = await place(actor, "M-3", ("TEA", 1), paid=False)
    with pytest.raises(InvalidTransition):
        await inventory.mark_shipped(keeper, unpaid["id"], "SF Express", "SF3")
    await invariants_hold(merchant["id"])


async def test_platform_updates_ship_and_cancel_through_ingest(merchant):
    actor, _ = await world(merchant, stock={("SZ", "TEA"): 5})
    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE merchant_id = $1 AND name = 'Web'", merchant["id"]))
    await ingest.ingest(ch, [fetched(order("P-1", lines=[line("TEA", 2)])),
                             fetched(order("P-2", lines=[line("TEA", 1)])),
                             fetched(order("P-3", lines=[line("TEA", 1)], status=NormalizedStatus.PENDING_PAYMENT,
                                           payment=PaymentStatus.UNPAID))], source="pull")
    ids = {r["external_id"]: r["id"] for r in await db.fetch("SELECT id, external_id FROM sales_order")}
    assert await level(actor, "SZ", "TEA") == (5, 3) and await held(ids["P-3"]) == []
    await ingest.ingest(ch, [
        fetched(order("P-1", lines=[line("TEA", 2)], status=NormalizedStatus.SHIPPED, updated=later(10))),
        fetched(order("P-2", lines=[line("TEA", 1)], status=NormalizedStatus.CANCELLED,
                      payment=PaymentStatus.REFUNDED, updated=later(10))),
        fetched(order("P-3", lines=[line("TEA", 1)], updated=later(10)))], source="webhook")
    assert await level(actor, "SZ", "TEA") == (3, 1)
    assert await held(ids["P-1"]) == [] and await held(ids["P-3"]) == [("TEA", "SZ", 1)]
    assert await db.fetchval("SELECT status FROM reservation WHERE order_id = $1", ids["P-1"]) == "shipped"
    assert await db.fetchval("SELECT status FROM reservation WHERE order_id = $1", ids["P-2"]) == "released"
    # the platform later marks delivered, then completed: nothing is deducted twice
    await ingest.ingest(ch, [fetched(order("P-1", lines=[line("TEA", 2)], status=NormalizedStatus.COMPLETED,
                                           updated=later(20)))], source="pull")
    assert await level(actor, "SZ", "TEA") == (3, 1)
    await invariants_hold(merchant["id"])


async def test_reconcile_is_idempotent(merchant):
    actor, _ = await world(merchant, stock={("SZ", "TEA"): 4, ("HZ", "CUP"): 1})
    made = [await place(actor, "I-1", ("TEA", 2), ("CUP", 1)), await place(actor, "I-2", ("GIFT", 1)),
            await place(actor, "I-3", ("TEA", 1)), await place(actor, "I-4", ("TEA", 1), paid=False)]
    await orders.cancel_order(actor, made[2]["id"])
    await inventory.mark_shipped(actor, made[0]["id"], "YTO", "YT1")

    async def snapshot():
        return [await db.fetch(f"SELECT * FROM {t} ORDER BY id")  # noqa: S608
                for t in ("stock_level", "stock_movement", "reservation", "order_event", "sales_order")]

    before = await snapshot()
    ids = [o["id"] for o in made]
    await inventory.reconcile_orders(actor, ids)
    await inventory.reconcile_orders(actor, list(reversed(ids)) + ids)
    assert await snapshot() == before
    await invariants_hold(merchant["id"])


async def test_backorders_release_by_priority_then_paid_time(merchant):
    actor, web = await world(merchant, stock={})
    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", web["id"]))
    # placed (and paid) out of order: P-late is paid last, P-early first
    batch = [order(ext, lines=[line("POT", 1)], placed=later(minutes)) for ext, minutes in
             (("P-late", 30), ("P-early", 0), ("P-mid", 10), ("P-vip", 40))]
    await ingest.ingest(ch, [fetched(o) for o in batch], source="pull")
    ids = {r["external_id"]: r["id"] for r in await db.fetch("SELECT id, external_id FROM sales_order")}
    assert [await state(i) for i in ids.values()] == [("on_hold", ["out_of_stock"])] * 4
    await db.execute("UPDATE sales_order SET priority = 5 WHERE id = $1", ids["P-vip"])
    result = await inventory.receive(actor, "HZ", "POT", 2, "PO-7")
    assert result["released_orders"] == [ids["P-vip"], ids["P-early"]]
    assert (result["on_hand"], result["reserved"]) == (2, 2)
    result = await inventory.adjust(actor, "BJ", "POT", delta=1, reason="found one")
    assert result["released_orders"] == [ids["P-mid"]]
    assert await state(ids["P-late"]) == ("on_hold", ["out_of_stock"])
    assert await inventory.release_backorders(actor) == []
    await invariants_hold(merchant["id"])


async def test_unmatched_order_reserves_once_its_sku_exists(merchant):
    actor, web = await world(merchant, stock={})
    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", web["id"]))
    await ingest.ingest(ch, [fetched(order("U-1", lines=[line("NEW-1", 2), line("TEA", 1)]))], source="pull")
    oid = await db.fetchval("SELECT id FROM sales_order")
    assert await state(oid) == ("on_hold", ["unmatched_sku"]) and await held(oid) == []
    await inventory.receive(actor, "SZ", "TEA", 5)
    assert await held(oid) == []                                    # cannot allocate half an order
    await catalog.create_sku(actor, {"code": "NEW-1", "name": "New"})   # auto-matches, releases the hold
    assert await state(oid) == ("on_hold", ["out_of_stock"])        # ... and NEW-1 has no stock yet
    await inventory.receive(actor, "SZ", "NEW-1", 2)
    assert await state(oid) == ("awaiting_review", [])
    assert await held(oid) == [("NEW-1", "SZ", 2), ("TEA", "SZ", 1)]
    await invariants_hold(merchant["id"])


async def test_merchant_without_warehouses_does_not_track_stock(merchant):
    actor = system(merchant["id"], "test")
    await catalog.create_sku(actor, {"code": "TEA", "name": "Tea"})
    await channels.create_channel(actor, platform="website", name="Web")
    o = await place(actor, "N-1", ("TEA", 3))
    assert o["status"] == "awaiting_review" and await db.fetchval("SELECT count(*) FROM reservation") == 0
    shipped = await inventory.mark_shipped(actor, o["id"], "own delivery", "D-1")
    assert shipped["status"] == "shipped" and await db.fetchval("SELECT count(*) FROM stock_movement") == 0


async def test_other_holds_are_kept_when_stock_arrives(merchant):
    actor, _ = await world(merchant, stock={})
    o = await place(actor, "H-1", ("CUP", 1))
    await db.execute("UPDATE sales_order SET hold_reasons = hold_reasons || '{address_review}' WHERE id = $1", o["id"])
    await inventory.receive(actor, "SZ", "CUP", 1)
    assert await state(o["id"]) == ("on_hold", ["address_review"]) and await held(o["id"]) == [("CUP", "SZ", 1)]
    await invariants_hold(merchant["id"])


def demand(line_id, **needs):
    return LineDemand(line_id=line_id, line_no=line_id, needs={int(k[1:]): v for k, v in needs.items()})


def test_choose_allocation_prefers_priority_then_fills_most():
    lines = [demand(1, s1=2), demand(2, s2=1)]
    a = Candidate(1, "A", 10, {1: 2})
    b = Candidate(2, "B", 5, {1: 2, 2: 1})
    c = Candidate(3, "C", 1, {1: 5, 2: 5})
    assert choose_allocation({}, lines, [c, a, b]) == {1: 2, 2: 2}             # B: best that fills all
    assert choose_allocation({}, lines, [a, Candidate(4, "D", 0, {2: 1})]) == {1: 1, 2: 4}
    # the same component in two lines is checked against decremented stock
    assert choose_allocation({}, [demand(1, s1=2), demand(2, s1=1)], [Candidate(1, "A", 0, {1: 2})]) is None
    # split: the warehouse filling the most units goes first; ties keep priority
    split = choose_allocation({}, [demand(1, s1=1), demand(2, s2=3), demand(3, s3=1)],
                              [Candidate(1, "A", 9, {1: 1, 3: 1}), Candidate(2, "B", 1, {2: 3})])
    assert split == {1: 1, 2: 2, 3: 1}
    assert choose_allocation({}, [], []) == {}


async def test_refunded_units_are_not_held(merchant):
    actor, web = await world(merchant, stock={("SZ", "TEA"): 5})
    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", web["id"]))
    lines = [line("TEA", 3, ext="L-R1")]
    await ingest.ingest(ch, [fetched(order("R-1", lines=lines))], source="pull")
    oid = await db.fetchval("SELECT id FROM sales_order")
    assert await held(oid) == [("TEA", "SZ", 3)]
    lines[0].refunded_quantity = 2
    await ingest.ingest(ch, [fetched(order("R-1", lines=lines, payment=PaymentStatus.PARTIALLY_REFUNDED,
                                           refunded=2000, updated=later(5) + timedelta(seconds=1)))],
                        source="pull")
    assert await held(oid) == [("TEA", "SZ", 1)] and await level(actor, "SZ", "TEA") == (5, 1)
    await invariants_hold(merchant["id"])


async def test_other_merchants_cannot_ship_or_reconcile_my_orders(merchant, other_merchant):
    actor, _ = await world(merchant, stock={("SZ", "TEA"): 2})
    mine = await place(actor, "T-1", ("TEA", 2))
    waiting = await place(actor, "T-2", ("TEA", 1))
    stranger = system(other_merchant["id"], "test")
    await catalog.create_sku(stranger, {"code": "TEA", "name": "B's tea"})
    await inventory.create_warehouse(stranger, {"code": "SZ", "name": "B's SZ"})
    await inventory.receive(stranger, "SZ", "TEA", 50)           # B's stock never serves A's orders
    with pytest.raises(NotFound):
        await inventory.mark_shipped(stranger, mine["id"], "SF", "SF1")
    await inventory.reconcile_orders(stranger, [mine["id"], waiting["id"]])
    assert await state(waiting["id"]) == ("on_hold", ["out_of_stock"])
    assert await inventory.release_backorders(stranger) == []
    assert await state(waiting["id"]) == ("on_hold", ["out_of_stock"])
    assert (await inventory.list_reservations(stranger, status=None)).items == []
    assert await held(mine["id"]) == [("TEA", "SZ", 2)] and await level(actor, "SZ", "TEA") == (2, 2)
    await invariants_hold(merchant["id"])
    await invariants_hold(other_merchant["id"])
