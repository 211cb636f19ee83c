"""Order commands and queries: idempotent creation, cancel, address, notes, bulk, filters, isolation."""
import asyncio

import pytest

from server.catalog import service as catalog
from server.channels import service as channels
from server.channels.connectors.base import NormalizedStatus
from server.core import db
from server.core.actor import system
from server.core.errors import Conflict, ErrorList, NotFound
from server.orders import ingest, queries
from server.orders import service as orders
from server.orders.service import LineInput, OrderInput, ReceiverInput
from server.orders.status import InvalidTransition
from tests.support.orders import fetched, later, line, order


async def world(merchant):
    actor = system(merchant["id"], "test")
    await catalog.create_sku(actor, {"code": "TEA-LJ-250", "name": "Longjing", "list_price": "168.00"})
    await catalog.create_sku(actor, {"code": "CUP-CER-01", "name": "Cup", "list_price": "45.50"})
    web = await channels.create_channel(actor, platform="website", name="Web")
    return actor, web


def order_input(web, ext="W-1", key=None, **kw) -> OrderInput:
    return OrderInput(channel=str(web["id"]), external_id=ext, idempotency_key=key,
                      lines=[LineInput(sku="TEA-LJ-250", quantity=2), LineInput(sku="CUP-CER-01", quantity=1,
                                                                                 unit_price="40.00")],
                      receiver=ReceiverInput(name="李四", phone="13900001111", province="浙江省", city="杭州市",
                                             district="西湖区", address="文三路 1 号"), shipping_fee="10", **kw)


async def test_create_order_computes_money_and_is_idempotent(merchant):
    actor, web = await world(merchant)
    created, fresh = await orders.create_order(actor, order_input(web, key="idem-1"))
    assert fresh and created["total"] == 168_00 * 2 + 40_00 + 10_00 and created["status"] == "awaiting_review"
    again, fresh2 = await orders.create_order(actor, order_input(web, key="idem-1"))
    assert not fresh2 and again["id"] == created["id"]
    with pytest.raises(Conflict):
        await orders.create_order(actor, order_input(web, key="idem-2"))  # same external id, other key


async def test_concurrent_retries_with_one_key_make_one_order(merchant):
    actor, web = await world(merchant)
    results = await asyncio.gather(*(orders.create_order(actor, order_input(web, ext="W-9", key="k"))
                                     for _ in range(10)))
    assert len({r[0]["id"] for r in results}) == 1 and sum(r[1] for r in results) == 1


async def test_create_order_reports_every_bad_field(merchant):
    actor, web = await world(merchant)
    bad = OrderInput(channel=str(web["id"]), external_id="", lines=[LineInput(sku="NOPE", quantity=1),
                                                                    LineInput(sku="TEA-LJ-250", quantity=0)],
                     receiver=ReceiverInput(name=""))
    with pytest.raises(ErrorList) as exc:
        await orders.create_order(actor, bad)
    fields = {e.field for e in exc.value.errors}
    assert {"externalId", "lines.0.sku", "lines.1.quantity", "receiver.name"} <= fields
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 0


async def test_cancel_address_and_notes(merchant):
    actor, web = await world(merchant)
    o, _ = await orders.create_order(actor, order_input(web))
    changed = await orders.update_address(actor, o["id"], ReceiverInput(name="王五", phone="13700002222",
                                                                       province="北京市", city="北京市",
                                                                       district="海淀区", address="中关村"))
    assert changed["receiver_edited"] and changed["region_code"] == "110108"
    await orders.add_note(actor, o["id"], "call before delivery")
    await orders.cancel_order(actor, o["id"], "buyer asked")
    detail = await queries.get_order(actor, o["id"])
    assert detail["status"] == "cancelled" and detail["notes"][0]["body"] == "call before delivery"
    assert [e["kind"] for e in detail["events"]] == ["created", "address_changed", "cancelled"]
    with pytest.raises(InvalidTransition):
        await orders.update_address(actor, o["id"], ReceiverInput(name="x"))
    audit = [r["action"] for r in await db.fetch("SELECT action FROM audit_entry WHERE object_type = 'order' ORDER BY id")]
    assert audit == ["order.create", "order.address_changed", "order.note_added", "order.cancelled"]


async def test_bulk_actions_report_what_could_not_be_done(merchant):
    actor, web = await world(merchant)
    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", web["id"]))
    await ingest.ingest(ch, [fetched(order(f"E{i}")) for i in range(4)], source="pull")
    await ingest.ingest(ch, [fetched(order("E0", status=NormalizedStatus.SHIPPED, updated=later(5)))], source="pull")
    res = await orders.bulk_tag(actor, ["VIP", "vip", " rush "], f=queries.OrderFilter())
    assert res.done == 4
    assert await db.fetchval("SELECT count(*) FROM sales_order WHERE tags = '{rush,vip}'") == 4
    res = await orders.bulk_cancel(actor, "duplicate", f=queries.OrderFilter())
    assert res.done == 3 and len(res.failed) == 1 and res.failed[0]["code"] == "invalid_transition"
    res = await orders.bulk_tag(actor, ["rush"], f=queries.OrderFilter(status=["cancelled"]), remove=True)
    assert res.done == 3


async def test_filters_keyset_and_counts(merchant):
    actor, web = await world(merchant)
    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", web["id"]))
    batch = [fetched(order(f"F{i}", placed=later(i), phone=f"1380000{i:04d}",
                           lines=[line("TEA-LJ-250" if i % 2 else "CUP-CER-01")])) for i in range(25)]
    await ingest.ingest(ch, batch, source="pull")
    seen, after = [], None
    while True:
        page = await queries.list_orders(actor, first=10, after=after)
        seen += [o["external_id"] for o in page.items]
        if not page.has_next:
            break
        after = page.end_cursor
    assert seen == [f"F{i}" for i in reversed(range(25))]
    only_cups = await queries.list_orders(actor, queries.OrderFilter(sku="CUP-CER-01"), with_total=True)
    assert only_cups.total == 13
    by_tail = await queries.list_orders(actor, queries.OrderFilter(search="0007"))
    assert [o["external_id"] for o in by_tail.items] == ["F7"]
    counts = await queries.status_counts(actor)
    assert counts["awaiting_review"] == 25 and counts["shipped"] == 0
    window = await queries.list_orders(actor, queries.OrderFilter(placed_from=later(10), placed_to=later(20)),
                                       with_total=True)
    assert window.total == 10


async def test_pii_masked_for_roles_without_it(merchant, users):
    actor, web = await world(merchant)
    o, _ = await orders.create_order(actor, order_input(web))
    finance = await users.make("finance", merchant=merchant)
    seen = await queries.get_order(finance["actor"], o["id"])
    assert seen["receiver_phone"] == "+86*******1111" and seen["address"] == "***"
    ops = await users.make("operations", merchant=merchant)
    assert (await queries.get_order(ops["actor"], o["id"]))["receiver_phone"] == "+8613900001111"


async def test_tenant_isolation_for_orders(merchant, other_merchant):
    actor, web = await world(merchant)
    o, _ = await orders.create_order(actor, order_input(web))
    intruder = system(other_merchant["id"], "test")
    with pytest.raises(NotFound):
        await queries.get_order(intruder, o["id"])
    with pytest.raises(NotFound):
        await orders.cancel_order(intruder, o["id"])
    with pytest.raises(NotFound):
        await orders.create_order(intruder, order_input(web, ext="X"))  # someone else's channel id
    assert (await queries.list_orders(intruder)).items == []
    res = await orders.bulk_tag(intruder, ["x"], ids=[o["id"]])
    assert res.done == 0


async def test_export_streams_csv(merchant):
    actor, web = await world(merchant)
    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", web["id"]))
    await ingest.ingest(ch, [fetched(order(f"G{i}", placed=later(i))) for i in range(5)], source="pull")
    chunks = [c async for c in queries.export_csv(actor, queries.OrderFilter(), batch=2)]
    text = "".join(chunks)
    rows = text.strip().splitlines()
    assert rows[0].lstrip("\ufeff").startswith("order_number,") and len(rows) == 6
    assert "178.00" in rows[1]
