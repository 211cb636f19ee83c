"""The issue's headline test: 50 on hand, 200 concurrent paid orders for one unit each from 5 channels,
arriving at once through the ingest pipeline (as 2 workers would run it) and through create_order (the
GraphQL orderCreate path), every call in its own transaction on its own pooled connection. Exactly 50
are reserved, 150 held out_of_stock, the ledger equals the levels; 30 more units release exactly the
30 held orders that were paid first."""
import asyncio
import random
from datetime import timedelta

from server.catalog import service as catalog
from server.channels import service as channels
from server.channels.connectors.base import NormalizedStatus
from server.core import clock, db
from server.core.actor import system
from server.inventory import invariants
from server.inventory import service as inventory
from server.orders import ingest
from server.orders import service as orders
from server.orders.service import LineInput, OrderInput, ReceiverInput
from tests.support.orders import fetched, line, order

CHANNELS = [("website", "Own shop"), ("website", "Partner shop"), ("website", "Outlet"), ("pos", "Flagship store"),
            ("pos", "Airport kiosk")]


async def setup(merchant, stock: dict[tuple[str, str], int]):
    actor = system(merchant["id"], "test")
    for code in sorted({sku for _, sku in stock}):
        await catalog.create_sku(actor, {"code": code, "name": code, "list_price": "99.00"})
    for wh in sorted({wh for wh, _ in stock}):
        await inventory.create_warehouse(actor, {"code": wh, "name": wh, "priority": 10 if wh == "SZ" else 1})
    chans = []
    for platform, name in CHANNELS:
        made = await channels.create_channel(actor, platform=platform, name=name)
        chans.append(dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", made["id"])))
    for (wh, sku), qty in stock.items():
        await inventory.receive(actor, wh, sku, qty, "opening stock")
    return actor, chans


async def assert_invariants(merchant_id: int) -> None:
    assert await invariants.oversold(merchant_id) == []
    assert await invariants.ledger_mismatches(merchant_id) == []
    assert await invariants.reservation_mismatches(merchant_id) == []
    assert await invariants.unaccounted_lines(merchant_id) == []


async def test_200_concurrent_orders_for_50_units(merchant):
    actor, chans = await setup(merchant, {("SZ", "HOT-1"): 50})
    rng = random.Random(4)
    start = clock.now()

    # 100 platform orders, paid at moments interleaved with the API orders below, delivered in batches of
    # 5 by two "workers" — each batch is one ingest transaction, all of them running at once
    platform_orders = [order(f"P-{i:03d}", lines=[line("HOT-1", 1)], buyer_id=f"b{i}", phone=f"1380000{i:04d}",
                             placed=start + timedelta(milliseconds=rng.randrange(0, 3000)))
                       for i in range(100)]
    deliveries = [(chans[i % 5], platform_orders[i:i + 5]) for i in range(0, 100, 5)]
    worker_queues = [deliveries[0::2], deliveries[1::2]]

    async def run_worker(queue):
        await asyncio.gather(*(ingest.ingest(ch, [fetched(o) for o in batch], source="webhook")
                               for ch, batch in queue))

    # 100 partner/staff orders through create_order, as GraphQL orderCreate calls it
    async def api_order(i: int):
        await asyncio.sleep(rng.random() / 100)
        return await orders.create_order(actor, OrderInput(
            channel=CHANNELS[i % 5][1], external_id=f"A-{i:03d}", idempotency_key=f"key-{i}",
            lines=[LineInput(sku="HOT-1", quantity=1)], receiver=ReceiverInput(name=f"买家{i}", phone="13900001111")))

    await asyncio.gather(*(run_worker(q) for q in worker_queues), *(api_order(i) for i in range(100)))

    rows = await db.fetch("SELECT id, channel_id, status, hold_reasons, paid_at, priority FROM sales_order")
    assert len(rows) == 200 and len({r["channel_id"] for r in rows}) == 5
    reserved_orders = {r["order_id"] for r in await db.fetch(
        "SELECT order_id FROM reservation WHERE status = 'reserved'")}
    held = [r for r in rows if r["hold_reasons"] == ["out_of_stock"]]
    assert len(reserved_orders) == 50 and len(held) == 150
    assert all(r["status"] == "on_hold" for r in held)
    assert all(r["status"] == "awaiting_review" for r in rows if r["id"] in reserved_orders)
    level = await inventory.get_level(actor, "SZ", "HOT-1")
    assert (level["on_hand"], level["reserved"], level["available"]) == (50, 50, 0)
    assert await db.fetchval("SELECT count(*) FROM stock_movement WHERE kind = 'reservation'") == 50
    await assert_invariants(merchant["id"])

    # 30 more units: exactly the 30 held orders first in line (priority, then paid time) get them
    queue = sorted(held, key=lambda r: (-r["priority"], r["paid_at"], r["id"]))
    result = await inventory.receive(actor, "SZ", "HOT-1", 30, "PO-restock")
    assert result["released_orders"] == [r["id"] for r in queue[:30]]
    after = {r["id"]: r for r in await db.fetch("SELECT id, status, hold_reasons FROM sales_order")}
    assert all(after[r["id"]]["status"] == "awaiting_review" for r in queue[:30])
    assert all(after[r["id"]]["hold_reasons"] == ["out_of_stock"] for r in queue[30:])
    level = await inventory.get_level(actor, "SZ", "HOT-1")
    assert (level["on_hand"], level["reserved"]) == (80, 80)
    await assert_invariants(merchant["id"])


async def test_mixed_storm_of_orders_receipts_cancels_and_shipments(merchant):
    """Two SKUs in two warehouses; orders naming them in both line orders, from both paths; receipts,
    staff cancellations, mark-shipped and platform ship/cancel updates — all at once: no deadlock, no
    oversell, ledger equal to levels, every line accounted for, stock moved only by the ledger."""
    actor, chans = await setup(merchant, {("SZ", "A"): 20, ("SZ", "B"): 15, ("HZ", "A"): 10, ("HZ", "B"): 15})
    rng = random.Random(7)
    pair = [LineInput(sku="A", quantity=1), LineInput(sku="B", quantity=1)]

    async def early(prefix: str, n: int) -> list[int]:
        return [(await orders.create_order(actor, OrderInput(
            channel=CHANNELS[i % 5][1], external_id=f"{prefix}-{i}", lines=pair,
            receiver=ReceiverInput(name="甲"))))[0]["id"] for i in range(n)]

    to_cancel, to_ship = await early("E", 10), await early("M", 6)
    platform_early = [order(f"PE-{i}", lines=[line("A", 1), line("B", 1)], buyer_id=f"pe{i}") for i in range(6)]
    await ingest.ingest(chans[0], [fetched(o) for o in platform_early], source="pull")
    assert await db.fetchval("SELECT count(*) FROM sales_order WHERE status = 'awaiting_review'") == 22

    def lines_for(i: int):
        two = [("A", rng.randint(1, 2)), ("B", rng.randint(1, 2))]
        return two if i % 2 else two[::-1]

    async def api(i: int):
        await orders.create_order(actor, OrderInput(
            channel=CHANNELS[i % 5][1], external_id=f"S-{i}",
            lines=[LineInput(sku=s, quantity=q) for s, q in lines_for(i)], receiver=ReceiverInput(name="乙")))

    async def platform(i: int):
        batch = [order(f"G-{i}-{k}", lines=[line(s, q) for s, q in lines_for(i + k)], buyer_id=f"g{i}{k}")
                 for k in range(3)]
        await ingest.ingest(chans[i % 5], [fetched(o) for o in batch], source="pull")

    async def platform_update(i: int):
        status = NormalizedStatus.SHIPPED if i % 2 else NormalizedStatus.CANCELLED
        o = platform_early[i]
        await ingest.ingest(chans[0], [fetched(order(o.external_id, lines=[line("A", 1), line("B", 1)],
                                                     buyer_id=f"pe{i}", status=status,
                                                     updated=o.updated_at + timedelta(minutes=5)))],
                            source="webhook")

    async def receipt(i: int):
        await inventory.receive(actor, ("SZ", "HZ")[i % 2], ("A", "B")[i // 2 % 2], rng.randint(1, 3))

    tasks = ([api(i) for i in range(30)] + [platform(i) for i in range(10)] + [receipt(i) for i in range(8)]
             + [orders.cancel_order(actor, oid, "storm") for oid in to_cancel]
             + [inventory.mark_shipped(actor, oid, "SF", f"SF{oid}") for oid in to_ship]
             + [platform_update(i) for i in range(6)])
    rng.shuffle(tasks)
    await asyncio.gather(*tasks)

    assert await db.fetchval("SELECT count(*) FROM sales_order") == 82
    await assert_invariants(merchant["id"])
    by_kind = {r["kind"]: r["units"] for r in await db.fetch(
        "SELECT kind, sum(on_hand_delta) AS units FROM stock_movement GROUP BY kind")}
    assert by_kind["shipment"] == -(6 + 3) * 2                                  # 6 marked + 3 by the platform
    assert await db.fetchval("SELECT sum(on_hand) FROM stock_level") == by_kind["receipt"] + by_kind["shipment"]
    assert await db.fetchval("SELECT count(*) FROM reservation WHERE status = 'reserved' AND order_id = ANY($1)",
                             to_cancel) == 0
    statuses = await db.fetch("SELECT status, count(*) AS n FROM sales_order GROUP BY status")
    assert {r["status"]: r["n"] for r in statuses}["cancelled"] == 10 + 3
    counts = {r["status"]: r["count"] for r in await db.fetch("SELECT status, sum(count) AS count FROM order_status_count GROUP BY status")}
    assert {k: v for k, v in counts.items() if v} == {r["status"]: r["n"] for r in statuses}


async def test_concurrent_reconciles_race_on_one_stock_row(merchant):
    """The reservation race without anything else in the way: 120 orders exist before the merchant
    has a warehouse (nothing reserved), then stock for 40 arrives and all 120 are reconciled at once,
    each in its own transaction."""
    actor = system(merchant["id"], "test")
    await catalog.create_sku(actor, {"code": "HOT-2", "name": "Hot"})
    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", (await channels.create_channel(
        actor, platform="website", name="Web"))["id"]))
    await ingest.ingest(ch, [fetched(order(f"R-{i}", lines=[line("HOT-2", 1)], buyer_id=f"r{i}"))
                             for i in range(120)], source="pull")
    ids = [r["id"] for r in await db.fetch("SELECT id FROM sales_order ORDER BY id")]
    await inventory.create_warehouse(actor, {"code": "SZ", "name": "SZ"})
    await inventory.receive(actor, "SZ", "HOT-2", 40)

    async def one(oid: int):
        async with db.transaction():
            await inventory.reconcile_orders(actor, [oid])

    await asyncio.gather(*(one(oid) for oid in ids))
    level = await inventory.get_level(actor, "SZ", "HOT-2")
    assert (level["on_hand"], level["reserved"]) == (40, 40)
    assert await db.fetchval("SELECT count(*) FROM sales_order WHERE hold_reasons = '{out_of_stock}'") == 80
    await assert_invariants(merchant["id"])
