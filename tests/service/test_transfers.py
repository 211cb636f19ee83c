"""Transfers (调拨) against real PostgreSQL: draft → shipped (stock leaves the source, incoming at the
destination) → received in parts, or cancelled (in-transit units back to the source); shipping never
takes reserved units, even when many ships and orders race for the same stock; receipts release
backorders; suggestions from 14 days of demand; errors name SKU and warehouse; tenants stay apart."""
import asyncio
from datetime import timedelta

import pytest

from server.catalog import service as catalog
from server.channels import service as channels
from server.core import clock, db
from server.core.actor import system
from server.core.errors import DomainError, ErrorList, NotFound, PermissionDenied, ValidationError
from server.inventory import invariants, transfer_suggestions, transfers
from server.inventory import service as inventory
from server.orders.service import LineInput, OrderInput, ReceiverInput, create_order


async def world(merchant, *, hz_priority: int = 5):
    actor = system(merchant["id"], "test")
    for code in ("TEA", "CUP", "POT"):
        await catalog.create_sku(actor, {"code": code, "name": f"{code} name", "list_price": "10.00"})
    await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
    await inventory.create_warehouse(actor, {"code": "HZ", "name": "Hangzhou", "priority": hz_priority})
    return actor


async def level(actor, wh, sku):
    row = await db.fetchrow(
        """SELECT l.on_hand, l.reserved, l.incoming FROM stock_level l JOIN warehouse w ON w.id = l.warehouse_id
           JOIN sku s ON s.id = l.sku_id WHERE w.merchant_id = $1 AND w.code = $2 AND s.code = $3""",
        actor.merchant_id, wh, sku)
    return tuple(row) if row else (0, 0, 0)


async def assert_invariants(merchant_id):
    assert await invariants.oversold(merchant_id) == []
    assert await invariants.ledger_mismatches(merchant_id) == []
    assert await invariants.reservation_mismatches(merchant_id) == []
    assert await invariants.unaccounted_lines(merchant_id) == []
    assert await transfers.incoming_mismatches(merchant_id) == []


async def order(actor, channel, sku, qty=1, ext=None):
    made, _ = await create_order(actor, OrderInput(channel=channel, external_id=ext or f"O-{sku}-{qty}-{id(object())}",
                                                   lines=[LineInput(sku=sku, quantity=qty)],
                                                   receiver=ReceiverInput(name="买家")))
    return made


async def test_draft_ship_receive_in_parts(merchant):
    actor = await world(merchant)
    await inventory.receive(actor, "SZ", "TEA", 10, "PO-1")
    await inventory.receive(actor, "SZ", "CUP", 5, "PO-1")
    t = await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "TEA", "quantity": 6}, {"sku": "CUP", "quantity": "2"}],
                                        reference="WEEK-49", note="for the 12.12 sale")
    assert t["status"] == "draft" and t["number"] == f"TR-{t['id']:06d}"
    assert (t["from_code"], t["to_code"], t["line_count"], t["units"]) == ("SZ", "HZ", 2, 8)
    assert await level(actor, "SZ", "TEA") == (10, 0, 0)          # a draft moves nothing

    t = await transfers.ship_transfer(actor, t["id"])
    assert t["status"] == "shipped" and t["shipped_at"] is not None and t["in_transit_units"] == 8
    assert await level(actor, "SZ", "TEA") == (4, 0, 0)
    assert await level(actor, "HZ", "TEA") == (0, 0, 6)           # incoming at the destination
    assert await level(actor, "HZ", "CUP") == (0, 0, 2)
    await assert_invariants(merchant["id"])

    t = await transfers.receive_transfer(actor, t["number"], {"TEA": 4})
    assert t["status"] == "partially_received" and t["released_orders"] == []
    assert await level(actor, "HZ", "TEA") == (4, 0, 2)
    lines = {ln["sku_code"]: ln for ln in t["lines"]}
    assert (lines["TEA"]["received_quantity"], lines["TEA"]["in_transit"], lines["CUP"]["in_transit"]) == (4, 2, 2)
    t = await transfers.receive_transfer(actor, t["id"], {"TEA": 1})
    assert t["status"] == "partially_received"
    t = await transfers.receive_transfer(actor, t["id"])            # the rest
    assert t["status"] == "received" and t["received_at"] is not None and t["in_transit_units"] == 0
    assert await level(actor, "HZ", "TEA") == (6, 0, 0) and await level(actor, "HZ", "CUP") == (2, 0, 0)
    await assert_invariants(merchant["id"])

    moves = (await inventory.list_movements(actor, "TEA")).items
    assert [(m["kind"], m["warehouse_code"], m["on_hand_delta"]) for m in moves] == [
        ("transfer_in", "HZ", 1), ("transfer_in", "HZ", 1), ("transfer_in", "HZ", 4), ("transfer_out", "SZ", -6),
        ("receipt", "SZ", 10)]
    assert {m["reference"] for m in moves[:4]} == {t["number"]}
    assert [(e["kind"], e["from_status"], e["to_status"]) for e in t["events"]] == [
        ("created", "", "draft"), ("shipped", "draft", "shipped"),
        ("received_part", "shipped", "partially_received"),
        ("received_part", "partially_received", "partially_received"),
        ("received", "partially_received", "received")]
    actions = [r["action"] for r in await db.fetch(
        "SELECT action FROM audit_entry WHERE object_type = 'transfer' ORDER BY id")]
    assert actions == ["transfer.create", "transfer.shipped", "transfer.received_part", "transfer.received_part",
                       "transfer.received"]
    with pytest.raises(transfers.InvalidTransferTransition):
        await transfers.receive_transfer(actor, t["id"], {"TEA": 1})
    with pytest.raises(transfers.InvalidTransferTransition):
        await transfers.cancel_transfer(actor, t["id"])


async def test_shipping_never_takes_reserved_units(merchant):
    actor = await world(merchant)
    await channels.create_channel(actor, platform="website", name="Web")
    await inventory.receive(actor, "SZ", "TEA", 5)
    await inventory.receive(actor, "SZ", "CUP", 1)
    await order(actor, "Web", "TEA", 4)
    assert await level(actor, "SZ", "TEA") == (5, 4, 0)
    t = await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "CUP", "quantity": 1}, {"sku": "TEA", "quantity": 2}])
    with pytest.raises(DomainError) as exc:
        await transfers.ship_transfer(actor, t["id"])
    assert exc.value.code == "insufficient_stock" and exc.value.field == "lines.1.quantity"
    assert "TEA" in exc.value.message and "SZ" in exc.value.message and "1 available" in exc.value.message
    # all lines or none: the CUP line did not leave either
    assert await level(actor, "SZ", "CUP") == (1, 0, 0) and await level(actor, "HZ", "CUP") == (0, 0, 0)
    assert (await transfers.get_transfer(actor, t["id"]))["status"] == "draft"
    assert await db.fetchval("SELECT count(*) FROM stock_movement WHERE kind LIKE 'transfer%'") == 0
    await assert_invariants(merchant["id"])


async def test_cancel_draft_and_cancel_in_transit_returns_to_source(merchant):
    actor = await world(merchant)
    await inventory.receive(actor, "SZ", "TEA", 10)
    draft = await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "TEA", "quantity": 3}])
    draft = await transfers.cancel_transfer(actor, draft["id"], "made by mistake")
    assert draft["status"] == "cancelled" and draft["released_orders"] == []
    assert await level(actor, "SZ", "TEA") == (10, 0, 0)
    with pytest.raises(transfers.InvalidTransferTransition):
        await transfers.ship_transfer(actor, draft["id"])

    t = await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "TEA", "quantity": 6}])
    await transfers.ship_transfer(actor, t["id"])
    await transfers.receive_transfer(actor, t["id"], {"TEA": 2})
    t = await transfers.cancel_transfer(actor, t["id"], "truck turned back")
    assert t["status"] == "cancelled" and t["cancelled_at"] is not None
    (line,) = t["lines"]
    assert (line["shipped_quantity"], line["received_quantity"], line["returned_quantity"], line["in_transit"]) == (
        6, 2, 4, 0)
    assert await level(actor, "SZ", "TEA") == (8, 0, 0)        # 10 - 6 + 4 back
    assert await level(actor, "HZ", "TEA") == (2, 0, 0)        # received units stay, nothing incoming
    back = (await inventory.list_movements(actor, "TEA", warehouse="SZ")).items[0]
    assert back["kind"] == "transfer_in" and back["on_hand_delta"] == 4 and "truck turned back" in back["reason"]
    assert "returned" in t["events"][-1]["message"]
    await assert_invariants(merchant["id"])


async def test_received_units_release_backorders(merchant):
    actor = await world(merchant)
    await channels.create_channel(actor, platform="website", name="Web")
    await channels.create_channel(actor, platform="pos", name="Store")
    await inventory.update_warehouse(actor, "SZ", {"channels": ["Store"]})    # Web orders only ship from HZ
    await inventory.receive(actor, "SZ", "TEA", 10)
    waiting = await order(actor, "Web", "TEA", 3, "WEB-1")
    assert (await db.fetchrow("SELECT hold_reasons FROM sales_order WHERE id = $1", waiting["id"]))["hold_reasons"] \
        == ["out_of_stock"]
    t = await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "TEA", "quantity": 5}])
    await transfers.ship_transfer(actor, t["id"])
    t = await transfers.receive_transfer(actor, t["id"], {"TEA": 2})
    assert t["released_orders"] == []                          # 2 < 3 needed
    t = await transfers.receive_transfer(actor, t["id"], {"TEA": 3})
    assert t["released_orders"] == [waiting["id"]]
    assert await level(actor, "HZ", "TEA") == (5, 3, 0)
    # a store order waiting for stock is served when a cancelled transfer brings units back to HZ
    await inventory.adjust(actor, "SZ", "TEA", counted_quantity=0, reason="count")
    t2 = await transfers.create_transfer(actor, "HZ", "SZ", [{"sku": "TEA", "quantity": 2}])
    await transfers.ship_transfer(actor, t2["id"])
    assert await level(actor, "HZ", "TEA") == (3, 3, 0)
    store = await order(actor, "Store", "TEA", 1, "POS-1")
    assert (await db.fetchval("SELECT status FROM sales_order WHERE id = $1", store["id"])) == "on_hold"
    t3 = await transfers.create_transfer(actor, "HZ", "SZ", [{"sku": "TEA", "quantity": 1}])
    await transfers.cancel_transfer(actor, t3["id"])            # a draft: nothing arrives
    t2 = await transfers.cancel_transfer(actor, t2["id"])
    assert t2["released_orders"] == [store["id"]]              # back at HZ, which serves every channel
    assert await level(actor, "HZ", "TEA") == (5, 4, 0) and await level(actor, "SZ", "TEA") == (0, 0, 0)
    await assert_invariants(merchant["id"])


async def test_invalid_input_is_reported_with_fields(merchant, other_merchant):
    actor = await world(merchant)
    kit = await catalog.create_sku(actor, {"code": "KIT", "name": "Kit"})
    await db.execute("UPDATE sku SET is_kit = true WHERE id = $1", kit["id"])
    await db.execute("INSERT INTO sku_component (kit_sku_id, component_sku_id, quantity) "
                     "SELECT $1, id, 1 FROM sku WHERE code = 'TEA' AND merchant_id = $2", kit["id"], merchant["id"])
    with pytest.raises(ValidationError) as exc:
        await transfers.create_transfer(actor, "SZ", "SZ", [{"sku": "TEA", "quantity": 1}])
    assert exc.value.code == "same_warehouse"
    with pytest.raises(ErrorList) as exc:
        await transfers.create_transfer(actor, "SZ", "BJ", [{"sku": "NOPE", "quantity": 1}, {"sku": "TEA", "quantity": 0},
                                                            {"sku": "CUP", "quantity": 1}, {"sku": "CUP", "quantity": 2},
                                                            {"sku": "KIT", "quantity": 1}, {"sku": "", "quantity": 1}])
    assert {(e.code, e.field) for e in exc.value.errors} == {
        ("unknown_warehouse", "toWarehouse"), ("unknown_sku", "lines.0.sku"), ("invalid", "lines.1.quantity"),
        ("duplicate_sku", "lines.3.sku"), ("kit_not_stocked", "lines.4.sku"), ("required", "lines.5.sku")}
    with pytest.raises(ValidationError) as exc:
        await transfers.create_transfer(actor, "SZ", "HZ", [])
    assert exc.value.field == "lines"
    assert await db.fetchval("SELECT count(*) FROM transfer_order") == 0

    await inventory.receive(actor, "SZ", "TEA", 4)
    t = await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "TEA", "quantity": 3}])
    with pytest.raises(transfers.InvalidTransferTransition):
        await transfers.receive_transfer(actor, t["id"])            # not shipped yet
    await transfers.ship_transfer(actor, t["id"])
    with pytest.raises(ValidationError) as exc:
        await transfers.receive_transfer(actor, t["id"], {"TEA": 4})
    assert exc.value.code == "too_many" and "3 still in transit" in exc.value.message
    with pytest.raises(ValidationError) as exc:
        await transfers.receive_transfer(actor, t["id"], {"CUP": 1})
    assert exc.value.code == "unknown_sku"
    with pytest.raises(ValidationError):
        await transfers.receive_transfer(actor, t["id"], {"TEA": "-1"})
    with pytest.raises(ValidationError) as exc:
        await transfers.receive_transfer(actor, t["id"], {"TEA": 0})
    assert exc.value.code == "required"
    with pytest.raises(NotFound):
        await transfers.get_transfer(actor, "TR-abc")
    await assert_invariants(merchant["id"])


async def test_concurrent_ships_and_orders_never_oversell(merchant):
    """10 units; 12 transfers of 3 shipping at once while 6 one-unit orders reserve the same stock,
    every call in its own transaction on its own connection: what left plus what is reserved never
    exceeds what was there, nothing goes negative, and every refusal is insufficient_stock."""
    actor = await world(merchant)
    await channels.create_channel(actor, platform="website", name="Web")
    await inventory.update_warehouse(actor, "HZ", {"active": False})      # orders reserve at SZ only
    await inventory.receive(actor, "SZ", "TEA", 10)
    drafts = [await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "TEA", "quantity": 3}]) for _ in range(12)]

    async def ship(t):
        try:
            await transfers.ship_transfer(actor, t["id"])
            return "shipped"
        except DomainError as exc:
            return exc.code

    results = await asyncio.gather(*(ship(t) for t in drafts),
                                   *(order(actor, "Web", "TEA", 1, f"RACE-{i}") for i in range(6)))
    outcomes = results[:12]
    shipped = outcomes.count("shipped")
    assert set(outcomes) <= {"shipped", "insufficient_stock"} and 1 <= shipped <= 3
    on_hand, reserved, _ = await level(actor, "SZ", "TEA")
    assert on_hand == 10 - 3 * shipped and 0 <= reserved <= on_hand
    reserved_orders = await db.fetchval("SELECT count(DISTINCT order_id) FROM reservation WHERE status = 'reserved'")
    held = await db.fetchval("SELECT count(*) FROM sales_order WHERE 'out_of_stock' = ANY(hold_reasons)")
    assert reserved_orders == reserved and reserved_orders + held == 6
    if "insufficient_stock" in outcomes:     # available only falls here: a refused ship really had no 3 left
        assert on_hand - reserved < 3
    assert await level(actor, "HZ", "TEA") == (0, 0, 3 * shipped)
    await assert_invariants(merchant["id"])

    # two ships of the very same transfer at once: one ships, the other is told it is no longer a draft
    t = await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "TEA", "quantity": 1}])
    if on_hand - reserved >= 1:
        both = await asyncio.gather(ship(t), ship(t))
        assert sorted(both) == ["invalid_transition", "shipped"]
    await assert_invariants(merchant["id"])


async def test_suggestions_from_fourteen_days_of_demand(merchant):
    actor = await world(merchant, hz_priority=20)       # orders reserve at HZ first
    await channels.create_channel(actor, platform="website", name="Web")
    await inventory.receive(actor, "HZ", "TEA", 5)
    await inventory.receive(actor, "SZ", "TEA", 40)
    await inventory.receive(actor, "HZ", "CUP", 1)
    for i in range(8):
        await order(actor, "Web", "TEA", 1, f"T-{i}")   # 5 reserve at HZ, 3 at SZ
    await order(actor, "Web", "CUP", 1, "C-1")           # HZ's only cup; SZ has no cups to give
    assert await level(actor, "HZ", "TEA") == (5, 5, 0) and await level(actor, "SZ", "TEA") == (40, 3, 0)

    (s,) = await transfer_suggestions.suggestions(actor)
    assert (s["from_warehouse"]["code"], s["to_warehouse"]["code"], s["units"]) == ("SZ", "HZ", 5)
    (line,) = s["lines"]
    assert (line["sku_code"], line["quantity"], line["demand"], line["available"], line["source_available"],
            line["source_demand"]) == ("TEA", 5, 5, 0, 37, 3)

    t = await transfer_suggestions.create_suggested(actor, "SZ", "HZ")
    assert t["status"] == "draft" and t["suggested"] and [(ln["sku_code"], ln["quantity"]) for ln in t["lines"]] == [
        ("TEA", 5)]
    assert await transfer_suggestions.suggestions(actor) == []    # the draft already covers it
    with pytest.raises(NotFound) as exc:
        await transfer_suggestions.create_suggested(actor, "SZ", "HZ")
    assert exc.value.code == "no_suggestion"
    await transfers.ship_transfer(actor, t["id"])
    assert await transfer_suggestions.suggestions(actor) == []    # in transit counts as on its way

    # demand older than 14 days does not count
    await transfers.cancel_transfer(actor, t["id"])
    assert len(await transfer_suggestions.suggestions(actor)) == 1
    clock.freeze(clock.now() + timedelta(days=15))
    assert await transfer_suggestions.suggestions(actor) == []
    assert len(await transfer_suggestions.suggestions(actor, days=30)) == 1
    clock.freeze(None)
    await assert_invariants(merchant["id"])


async def test_permissions_and_tenancy(merchant, other_merchant, users):
    actor = await world(merchant)
    await inventory.receive(actor, "SZ", "TEA", 5)
    t = await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "TEA", "quantity": 2}])
    other = system(other_merchant["id"], "test")
    await inventory.create_warehouse(other, {"code": "SZ", "name": "Their SZ"})
    await inventory.create_warehouse(other, {"code": "HZ", "name": "Their HZ"})
    for call in (transfers.get_transfer(other, t["id"]), transfers.ship_transfer(other, t["id"]),
                 transfers.receive_transfer(other, t["id"]), transfers.cancel_transfer(other, t["id"])):
        with pytest.raises(NotFound):
            await call
    assert (await transfers.list_transfers(other)).items == []
    assert (await transfer_suggestions.suggestions(other)) == []

    readonly = (await users.make("partner_readonly", merchant))["actor"]
    service = (await users.make("customer_service", merchant))["actor"]
    assert [x["id"] for x in (await transfers.list_transfers(readonly)).items] == [t["id"]]
    with pytest.raises(PermissionDenied):
        await transfers.create_transfer(readonly, "SZ", "HZ", [{"sku": "TEA", "quantity": 1}])
    with pytest.raises(PermissionDenied):
        await transfers.ship_transfer(service, t["id"])
    warehouse = (await users.make("warehouse", merchant))["actor"]
    await transfers.ship_transfer(warehouse, t["id"])
    operations = (await users.make("operations", merchant))["actor"]
    with pytest.raises(PermissionDenied):
        await transfers.cancel_transfer(operations, t["id"])
    assert (await transfers.receive_transfer(operations, t["id"]))["status"] == "received"   # receiving is adjusting


async def test_list_filters_and_export(merchant):
    actor = await world(merchant)
    await inventory.receive(actor, "SZ", "TEA", 20)
    await inventory.receive(actor, "HZ", "CUP", 20)
    await inventory.create_warehouse(actor, {"code": "BJ", "name": "Beijing"})
    a = await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "TEA", "quantity": 2}])
    b = await transfers.create_transfer(actor, "HZ", "BJ", [{"sku": "CUP", "quantity": 3}], reference="=cmd")
    c = await transfers.create_transfer(actor, "SZ", "BJ", [{"sku": "TEA", "quantity": 1}])
    await transfers.ship_transfer(actor, b["id"])
    await transfers.cancel_transfer(actor, c["id"])
    page = await transfers.list_transfers(actor, first=2)
    assert [x["id"] for x in page.items] == [c["id"], b["id"]] and page.has_next and page.total == 3
    page2 = await transfers.list_transfers(actor, first=2, after=page.end_cursor)
    assert [x["id"] for x in page2.items] == [a["id"]] and not page2.has_next
    assert [x["id"] for x in (await transfers.list_transfers(actor, status="shipped")).items] == [b["id"]]
    assert [x["id"] for x in (await transfers.list_transfers(actor, status="open")).items] == [b["id"], a["id"]]
    assert [x["id"] for x in (await transfers.list_transfers(actor, warehouse="BJ")).items] == [c["id"], b["id"]]
    assert [x["id"] for x in (await transfers.list_transfers(actor, sku="CUP")).items] == [b["id"]]
    with pytest.raises(ValidationError):
        await transfers.list_transfers(actor, status="lost")
    text = "".join([chunk async for chunk in transfers.export_transfers_csv(actor, ids=[a["id"], b["id"]])])
    rows = text.lstrip("\ufeff").strip().splitlines()
    assert rows[0].startswith("number,status,from_warehouse,to_warehouse,sku")
    assert len(rows) == 3 and rows[1].startswith(f"{b['number']},shipped,HZ,BJ,CUP") and "'=cmd" in rows[1]


async def test_concurrent_receipts_cancels_and_orders_at_the_destination(merchant):
    """Backorders wait at HZ; two transfers arrive, a third is cancelled back to SZ and new orders come
    in, all at once: every unit ends up reserved or on the shelf, nothing is oversold, the ledger and
    `incoming` agree, and no order that could be filled is left waiting."""
    actor = await world(merchant)
    await channels.create_channel(actor, platform="website", name="Web")
    await channels.create_channel(actor, platform="pos", name="Store")
    await inventory.update_warehouse(actor, "SZ", {"channels": ["Store"]})    # Web orders only from HZ
    await inventory.receive(actor, "SZ", "TEA", 30)
    waiting = [await order(actor, "Web", "TEA", 1, f"WAIT-{i}") for i in range(8)]
    shipped = []
    for qty in (4, 3, 5):
        t = await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "TEA", "quantity": qty}])
        shipped.append(await transfers.ship_transfer(actor, t["id"]))
    assert await level(actor, "HZ", "TEA") == (0, 0, 12) and await level(actor, "SZ", "TEA") == (18, 0, 0)

    results = await asyncio.gather(
        transfers.receive_transfer(actor, shipped[0]["id"]), transfers.receive_transfer(actor, shipped[1]["id"]),
        transfers.cancel_transfer(actor, shipped[2]["id"]),
        *(order(actor, "Web", "TEA", 1, f"NEW-{i}") for i in range(3)),
        *(order(actor, "Store", "TEA", 2, f"POS-{i}") for i in range(2)))
    assert [r["status"] for r in results[:3]] == ["received", "received", "cancelled"]
    on_hand, reserved, incoming = await level(actor, "HZ", "TEA")
    assert (on_hand, incoming) == (7, 0) and reserved == 7          # 7 arrived, 11 Web orders want them
    assert await level(actor, "SZ", "TEA") == (23, 4, 0)            # 18 + 5 back; the store orders hold 4
    web_held = await db.fetchval("SELECT count(*) FROM sales_order o JOIN channel c ON c.id = o.channel_id "
                                 "WHERE c.name = 'Web' AND 'out_of_stock' = ANY(o.hold_reasons)")
    assert web_held == 11 - 7
    released = [oid for r in results[:3] for oid in r["released_orders"]]
    web_orders = {r["id"] for r in await db.fetch("SELECT o.id FROM sales_order o JOIN channel c ON c.id = o.channel_id "
                                                   "WHERE c.name = 'Web'")}
    assert set(released) <= web_orders and {w["id"] for w in waiting} <= web_orders
    assert await inventory.release_backorders(actor) == []           # nothing fillable was left behind
    await assert_invariants(merchant["id"])


async def test_idempotency_key_replays_races_and_conflicts(merchant, other_merchant):
    """A partner's retry with the same key gets the first transfer back and creates nothing; 30 calls
    racing with one key make one transfer (fewer did not catch a missing lock); the same key with other
    content is refused naming the key; keys are per merchant; without a key every call creates."""
    actor = await world(merchant)
    lines = [{"sku": "TEA", "quantity": 6}, {"sku": "CUP", "quantity": 2}]
    first = await transfers.create_transfer(actor, "SZ", "HZ", lines, reference="ERP-7", idempotency_key="erp-7")
    assert first["created"] is True
    again = await transfers.create_transfer(actor, "SZ", "HZ", [dict(ln) for ln in lines], reference="ERP-7",
                                            idempotency_key=" erp-7 ")
    assert again["created"] is False and again["id"] == first["id"] and again["units"] == 8
    assert await db.fetchval("SELECT count(*) FROM transfer_order") == 1
    assert await db.fetchval("SELECT count(*) FROM transfer_line") == 2
    assert await db.fetchval("SELECT count(*) FROM transfer_event") == 1
    assert await db.fetchval("SELECT idempotency_key FROM transfer_order") == "erp-7"

    for kwargs, differs in (({"lines": [{"sku": "TEA", "quantity": 5}, {"sku": "CUP", "quantity": 2}]}, "lines"),
                            ({"to": "BJ"}, "to"), ({"reference": "ERP-8"}, "reference"),
                            ({"note": "rush"}, "note")):
        if kwargs.get("to") == "BJ" and not await db.fetchval("SELECT 1 FROM warehouse WHERE code = 'BJ'"):
            await inventory.create_warehouse(actor, {"code": "BJ", "name": "Beijing"})
        with pytest.raises(DomainError) as err:
            await transfers.create_transfer(actor, "SZ", kwargs.get("to", "HZ"), kwargs.get("lines", lines),
                                            reference=kwargs.get("reference", "ERP-7"), note=kwargs.get("note", ""),
                                            idempotency_key="erp-7")
        assert (err.value.code, err.value.field) == ("idempotency_conflict", "idempotencyKey")
        assert differs in err.value.message and first["number"] in err.value.message
    assert await db.fetchval("SELECT count(*) FROM transfer_order") == 1

    async def make(key):
        try:
            return await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "POT", "quantity": 1}],
                                                   idempotency_key=key)
        except DomainError as exc:
            return exc.code

    raced = await asyncio.gather(*(make("race-1") for _ in range(30)))
    assert all(isinstance(r, dict) for r in raced), raced
    assert len({r["id"] for r in raced}) == 1 and sum(r["created"] for r in raced) == 1
    assert await db.fetchval("SELECT count(*) FROM transfer_order WHERE idempotency_key = 'race-1'") == 1
    assert await db.fetchval("SELECT count(*) FROM transfer_line l JOIN transfer_order t ON t.id = l.transfer_id "
                             "WHERE t.idempotency_key = 'race-1'") == 1

    # the same key at another merchant is theirs; no key (the pages, suggestions) always creates
    theirs = await world(other_merchant)
    other = await transfers.create_transfer(theirs, "SZ", "HZ", lines, reference="ERP-7", idempotency_key="erp-7")
    assert other["created"] is True and other["id"] != first["id"]
    plain = [await transfers.create_transfer(actor, "SZ", "HZ", lines, reference="ERP-7") for _ in range(2)]
    assert plain[0]["id"] != plain[1]["id"] and all(p["created"] for p in plain)
    assert await db.fetchval("SELECT count(*) FROM transfer_order WHERE idempotency_key = ''") == 2
    await assert_invariants(merchant["id"])
