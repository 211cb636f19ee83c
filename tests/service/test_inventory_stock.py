"""Warehouses, receipts, adjustments and stocktakes against real PostgreSQL: the ledger equals the
levels (I2), errors name the SKU and warehouse, and one merchant never touches another's stock."""
import pytest

from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db
from server.core.actor import system
from server.core.errors import Conflict, ErrorList, NotFound, PermissionDenied, ValidationError
from server.inventory import invariants
from server.inventory import service as inventory
from server.orders.service import LineInput, OrderInput, ReceiverInput, create_order

SHENZHEN = {"country_code": "CN", "province": "广东省", "city": "深圳市", "district": "南山区",
            "address": "科技园路1号", "postcode": "518000"}


async def assert_ledger_equals_levels(merchant_id: int | None = None) -> None:
    """I2 for every stock level: on hand and reserved equal the sums of the level's movements; and
    reserved equals the live reservations; and nothing is oversold (I1)."""
    assert await invariants.ledger_mismatches(merchant_id) == []
    assert await invariants.reservation_mismatches(merchant_id) == []
    assert await invariants.oversold(merchant_id) == []
    assert await db.fetchval("SELECT count(*) FROM stock_level") > 0


async def world(merchant):
    actor = system(merchant["id"], "test")
    await catalog.create_sku(actor, {"code": "TEA-LJ-250", "name": "Longjing", "category": "tea"})
    await catalog.create_sku(actor, {"code": "CUP-CER-01", "name": "Cup", "category": "ware"})
    await catalog.create_sku(actor, {"code": "POT-YX-300", "name": "Pot", "category": "ware"})
    main = await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10,
                                                    "address": SHENZHEN})
    await inventory.create_warehouse(actor, {"code": "HZ", "name": "Hangzhou", "priority": 5,
                                             "address": {"province": "浙江省", "city": "杭州市", "district": "西湖区"}})
    return actor, main


async def test_receive_adjust_stocktake_keep_the_ledger(merchant):
    actor, wh = await world(merchant)
    assert wh["region_code"] == "440305" and wh["latitude"] is not None and wh["country_code"] == "CN"
    level = await inventory.receive(actor, "SZ", "TEA-LJ-250", 10, "PO-1001")
    assert (level["on_hand"], level["reserved"], level["available"], level["released_orders"]) == (10, 0, 10, [])
    level = await inventory.adjust(actor, wh["id"], "TEA-LJ-250", delta=-3, reason="damaged in storage")
    assert level["on_hand"] == 7
    level = await inventory.adjust(actor, "SZ", "TEA-LJ-250", counted_quantity=12, reason="stocktake")
    assert (level["on_hand"], level["delta"]) == (12, 5)
    again = await inventory.adjust(actor, "SZ", "TEA-LJ-250", counted_quantity=12, reason="stocktake")
    assert again["delta"] == 0 and again["on_hand"] == 12
    await inventory.receive(actor, "HZ", "TEA-LJ-250", 4, "RMA-7", kind="return", reason="buyer returned")

    moves = (await inventory.list_movements(actor, "TEA-LJ-250")).items
    assert [(m["kind"], m["warehouse_code"], m["on_hand_delta"], m["reference"]) for m in moves] == [
        ("return", "HZ", 4, "RMA-7"), ("adjustment", "SZ", 5, ""), ("adjustment", "SZ", -3, ""),
        ("receipt", "SZ", 10, "PO-1001")]
    assert moves[2]["reason"] == "damaged in storage" and moves[0]["actor_label"] == "system:test"
    only_sz = await inventory.list_movements(actor, "TEA-LJ-250", warehouse="SZ", kind="adjustment")
    assert [m["on_hand_delta"] for m in only_sz.items] == [5, -3]
    total = await inventory.availability(actor, "TEA-LJ-250")
    assert total["available"] == 16 and [w["warehouse_code"] for w in total["warehouses"]] == ["SZ", "HZ"]
    await assert_ledger_equals_levels(merchant["id"])
    actions = [r["action"] for r in await db.fetch("SELECT action FROM audit_entry WHERE object_type = 'stock_level' "
                                                   "ORDER BY id")]
    assert actions == ["stock.receipt", "stock.adjust", "stock.count", "stock.count", "stock.return"]


async def test_the_ledger_is_append_only(merchant):
    actor, _ = await world(merchant)
    await inventory.receive(actor, "SZ", "CUP-CER-01", 3)
    with pytest.raises(Exception, match="append-only"):
        await db.execute("UPDATE stock_movement SET on_hand_delta = 300")
    with pytest.raises(Exception, match="append-only"):
        await db.execute("DELETE FROM stock_movement")
    with pytest.raises(Exception, match="stock_level_no_oversell"):
        await db.execute("UPDATE stock_level SET reserved = on_hand + 1")


async def test_errors_are_clear_and_change_nothing(merchant):
    actor, _ = await world(merchant)
    await inventory.receive(actor, "SZ", "TEA-LJ-250", 3)
    with pytest.raises(inventory.NegativeStock) as exc:
        await inventory.adjust(actor, "SZ", "TEA-LJ-250", delta=-5, reason="lost")
    assert exc.value.code == "negative_stock" and "TEA-LJ-250" in exc.value.message and "SZ" in exc.value.message
    with pytest.raises(inventory.NegativeStock):
        await inventory.adjust(actor, "SZ", "TEA-LJ-250", counted_quantity=-1, reason="count")
    with pytest.raises(inventory.NegativeStock):
        await inventory.adjust(actor, "HZ", "CUP-CER-01", delta=-1, reason="never stocked here")
    with pytest.raises(NotFound) as exc:
        await inventory.receive(actor, "SZ", "NOPE-1", 1)
    assert exc.value.code == "unknown_sku" and exc.value.field == "sku"
    with pytest.raises(NotFound) as exc:
        await inventory.receive(actor, "BJ", "TEA-LJ-250", 1)
    assert exc.value.code == "unknown_warehouse" and exc.value.field == "warehouse"
    for bad in (0, -2, "x", 1.5, True):
        with pytest.raises(ValidationError):
            await inventory.receive(actor, "SZ", "TEA-LJ-250", bad)
    with pytest.raises(ErrorList) as exc:
        await inventory.adjust(actor, "SZ", "TEA-LJ-250", delta=1, counted_quantity=2, reason="")
    assert {e.field for e in exc.value.errors} == {"delta", "reason"}
    with pytest.raises(ValidationError):
        await inventory.adjust(actor, "SZ", "TEA-LJ-250", delta=0, reason="nothing")

    kit = await catalog.create_sku(actor, {"code": "GIFT-SET", "name": "Gift set"})
    await db.execute("UPDATE sku SET is_kit = true WHERE id = $1", kit["id"])
    await db.execute("INSERT INTO sku_component (kit_sku_id, component_sku_id, quantity) "
                     "SELECT $1, id, 1 FROM sku WHERE code = 'TEA-LJ-250'", kit["id"])
    with pytest.raises(ValidationError) as exc:
        await inventory.receive(actor, "SZ", "GIFT-SET", 1)
    assert exc.value.code == "kit_not_stocked"
    assert (await inventory.get_level(actor, "SZ", "TEA-LJ-250"))["on_hand"] == 3
    await assert_ledger_equals_levels(merchant["id"])


async def test_reserved_units_cannot_be_adjusted_away(merchant):
    actor, _ = await world(merchant)
    web = await channels.create_channel(actor, platform="website", name="Web")
    await inventory.receive(actor, "SZ", "TEA-LJ-250", 5)
    await create_order(actor, OrderInput(channel=str(web["id"]), external_id="R-1",
                                         lines=[LineInput(sku="TEA-LJ-250", quantity=4)],
                                         receiver=ReceiverInput(name="张三")))
    with pytest.raises(inventory.InsufficientStock) as exc:
        await inventory.adjust(actor, "SZ", "TEA-LJ-250", counted_quantity=3, reason="stocktake")
    err = exc.value
    assert err.code == "insufficient_stock" and "TEA-LJ-250" in err.message and "SZ" in err.message
    assert err.details == {"sku": "TEA-LJ-250", "warehouse": "SZ", "on_hand": 5, "reserved": 4}
    level = await inventory.adjust(actor, "SZ", "TEA-LJ-250", delta=-1, reason="damaged")
    assert (level["on_hand"], level["reserved"], level["available"]) == (4, 4, 0)
    await assert_ledger_equals_levels(merchant["id"])


async def test_warehouses_are_created_updated_and_resolved(merchant):
    actor, sz = await world(merchant)
    web = await channels.create_channel(actor, platform="website", name="Web")
    pos = await channels.create_channel(actor, platform="pos", name="Store")
    store = await inventory.create_warehouse(actor, {"code": "STORE-1", "name": "Flagship", "channels": ["Store"]})
    assert store["serves_all_channels"] is False and store["channel_ids"] == [pos["id"]]
    with pytest.raises(Conflict) as exc:
        await inventory.create_warehouse(actor, {"code": "SZ", "name": "again"})
    assert exc.value.code == "duplicate_code"
    with pytest.raises(ErrorList):
        await inventory.create_warehouse(actor, {"code": "has space", "name": ""})

    updated = await inventory.update_warehouse(actor, "STORE-1", {"priority": 50, "channels": [web["id"], "Store"],
                                                                  "address": SHENZHEN})
    assert updated["priority"] == 50 and updated["channel_ids"] == sorted([web["id"], pos["id"]])
    assert updated["region_code"] == "440305"
    assert (await inventory.resolve_warehouse(actor, str(sz["id"])))["code"] == "SZ"
    assert (await inventory.resolve_warehouse(actor, "STORE-1"))["id"] == store["id"]
    assert [w["code"] for w in await inventory.list_warehouses(actor)] == ["STORE-1", "SZ", "HZ"]
    await inventory.update_warehouse(actor, "HZ", {"active": False})
    assert [w["code"] for w in await inventory.list_warehouses(actor, active=True)] == ["STORE-1", "SZ"]
    with pytest.raises(Conflict):
        await inventory.update_warehouse(actor, "HZ", {"code": "SZ"})
    audit = [r["action"] for r in await db.fetch("SELECT action FROM audit_entry WHERE object_type = 'warehouse' "
                                                 "ORDER BY id")]
    assert audit == ["warehouse.create", "warehouse.create", "warehouse.create", "warehouse.update",
                     "warehouse.update"]


async def test_levels_filter_and_page(merchant):
    actor, _ = await world(merchant)
    for wh, code, qty in [("SZ", "TEA-LJ-250", 20), ("HZ", "TEA-LJ-250", 2), ("SZ", "CUP-CER-01", 1),
                          ("HZ", "CUP-CER-01", 9), ("SZ", "POT-YX-300", 3)]:
        await inventory.receive(actor, wh, code, qty)
    await inventory.adjust(actor, "SZ", "POT-YX-300", counted_quantity=0, reason="none left")

    def view(page):
        return [(i["sku_code"], i["warehouse_code"], i["available"]) for i in page.items]

    everything = await inventory.list_levels(actor)
    assert everything.total == 5 and view(everything)[0][0] == "CUP-CER-01"
    assert view(await inventory.list_levels(actor, warehouse="HZ")) == [("CUP-CER-01", "HZ", 9),
                                                                        ("TEA-LJ-250", "HZ", 2)]
    assert {i["sku_code"] for i in (await inventory.list_levels(actor, category="ware")).items} == {
        "CUP-CER-01", "POT-YX-300"}
    assert view(await inventory.list_levels(actor, out_of_stock=True)) == [("POT-YX-300", "SZ", 0)]
    assert sorted(view(await inventory.list_levels(actor, low_stock=2))) == [
        ("CUP-CER-01", "SZ", 1), ("POT-YX-300", "SZ", 0), ("TEA-LJ-250", "HZ", 2)]
    assert view(await inventory.list_levels(actor, sku="TEA-LJ-250")) == [("TEA-LJ-250", "SZ", 20),
                                                                          ("TEA-LJ-250", "HZ", 2)]
    seen, after = [], None
    while True:
        page = await inventory.list_levels(actor, first=2, after=after)
        seen += view(page)
        if not page.has_next:
            break
        after = page.end_cursor
    assert seen == view(everything)


async def test_roles_decide_who_may_change_stock(merchant, users):
    await world(merchant)
    finance = (await users.make("finance", merchant))["actor"]
    keeper = (await users.make("warehouse", merchant))["actor"]
    with pytest.raises(PermissionDenied):
        await inventory.receive(finance, "SZ", "TEA-LJ-250", 1)
    with pytest.raises(PermissionDenied):
        await inventory.create_warehouse(finance, {"code": "X", "name": "X"})
    level = await inventory.receive(keeper, "SZ", "TEA-LJ-250", 2, "PO-9")
    assert level["on_hand"] == 2
    assert (await inventory.list_levels(finance)).total == 1
    moves = (await inventory.list_movements(finance, "TEA-LJ-250")).items
    assert moves[0]["actor_label"] == keeper.label


async def test_merchants_cannot_touch_each_others_stock(merchant, other_merchant):
    actor_a, wh_a = await world(merchant)
    await inventory.receive(actor_a, "SZ", "TEA-LJ-250", 7)
    sku_a = await db.fetchval("SELECT id FROM sku WHERE merchant_id = $1 AND code = 'TEA-LJ-250'", merchant["id"])
    actor_b = system(other_merchant["id"], "test")
    await catalog.create_sku(actor_b, {"code": "TEA-LJ-250", "name": "B's tea"})

    for ref in (wh_a["id"], str(wh_a["id"])):
        with pytest.raises(NotFound):
            await inventory.resolve_warehouse(actor_b, ref)
        with pytest.raises(NotFound):
            await inventory.receive(actor_b, ref, "TEA-LJ-250", 1)
        with pytest.raises(NotFound):
            await inventory.update_warehouse(actor_b, ref, {"name": "stolen"})
    with pytest.raises(NotFound):
        await inventory.resolve_warehouse(actor_b, "SZ")          # A's code means nothing to B
    b_wh = await inventory.create_warehouse(actor_b, {"code": "SZ", "name": "B's Shenzhen"})
    with pytest.raises(NotFound):
        await inventory.adjust(actor_b, b_wh["id"], sku_a, delta=-1, reason="A's SKU by id")
    with pytest.raises(NotFound):
        await inventory.list_movements(actor_b, sku_a)
    await inventory.receive(actor_b, "SZ", "TEA-LJ-250", 1)       # B's own SKU of the same code, B's SZ
    assert [(i["warehouse_id"], i["on_hand"]) for i in (await inventory.list_levels(actor_b)).items] == [
        (b_wh["id"], 1)]
    assert (await inventory.get_level(actor_a, "SZ", "TEA-LJ-250"))["on_hand"] == 7
    assert (await inventory.resolve_warehouse(actor_a, wh_a["id"]))["name"] == "Shenzhen"
    await assert_ledger_equals_levels()
