"""The stock overview read (inventory.queries) against real PostgreSQL: totals and per-warehouse
breakdown per SKU, kits from their components, every filter, keyset pages, and tenancy."""
import pytest

from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db
from server.core.actor import system
from server.core.errors import NotFound, PermissionDenied, ValidationError
from server.inventory import queries
from server.inventory import service as inventory
from server.orders.service import LineInput, OrderInput, ReceiverInput, create_order


async def world(merchant):
    actor = system(merchant["id"], "test")
    for code, name, category in (("TEA-LJ-250", "Longjing tea", "tea"), ("TEA-PU-357", "Pu'er cake", "tea"),
                                 ("CUP-CER-01", "Ceramic cup", "ware"), ("POT-YX-300", "Yixing pot", "ware")):
        await catalog.create_sku(actor, {"code": code, "name": name, "category": category})
    await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
    await inventory.create_warehouse(actor, {"code": "HZ", "name": "Hangzhou", "priority": 5})
    await inventory.receive(actor, "SZ", "TEA-LJ-250", 10)
    await inventory.receive(actor, "HZ", "TEA-LJ-250", 4)
    await inventory.receive(actor, "HZ", "TEA-PU-357", 2)
    await inventory.receive(actor, "SZ", "CUP-CER-01", 30)
    return actor


def by_code(page) -> dict:
    return {it["code"]: it for it in page.items}


async def test_totals_and_breakdown_per_sku(merchant):
    actor = await world(merchant)
    web = await channels.create_channel(actor, platform="website", name="Web")
    await create_order(actor, OrderInput(channel=str(web["id"]), external_id="Q-1",
                                         lines=[LineInput(sku="TEA-LJ-250", quantity=3)],
                                         receiver=ReceiverInput(name="张三")))
    page = await queries.stock_overview(actor)
    assert [it["code"] for it in page.items] == ["CUP-CER-01", "POT-YX-300", "TEA-LJ-250", "TEA-PU-357"]
    assert page.total == 4
    tea = by_code(page)["TEA-LJ-250"]
    assert (tea["on_hand"], tea["reserved"], tea["available"], tea["incoming"]) == (14, 3, 11, 0)
    assert [(w["code"], w["on_hand"], w["reserved"], w["available"]) for w in tea["warehouses"]] == [
        ("SZ", 10, 3, 7), ("HZ", 4, 0, 4)]
    pot = by_code(page)["POT-YX-300"]
    assert (pot["on_hand"], pot["available"], pot["warehouses"]) == (0, 0, [])

    only_hz = by_code(await queries.stock_overview(actor, warehouse="HZ"))
    assert only_hz["TEA-LJ-250"]["on_hand"] == 4 and [w["code"] for w in only_hz["TEA-LJ-250"]["warehouses"]] == ["HZ"]
    assert only_hz["CUP-CER-01"]["on_hand"] == 0


async def test_filters_narrow(merchant):
    actor = await world(merchant)
    codes = lambda page: [it["code"] for it in page.items]  # noqa: E731
    assert codes(await queries.stock_overview(actor, category="ware")) == ["CUP-CER-01", "POT-YX-300"]
    assert codes(await queries.stock_overview(actor, out_of_stock=True)) == ["POT-YX-300"]
    assert codes(await queries.stock_overview(actor, low_stock=5)) == ["POT-YX-300", "TEA-PU-357"]
    assert codes(await queries.stock_overview(actor, low_stock=5, warehouse="HZ")) == [
        "CUP-CER-01", "POT-YX-300", "TEA-LJ-250", "TEA-PU-357"]
    assert codes(await queries.stock_overview(actor, out_of_stock=True, warehouse="SZ")) == [
        "POT-YX-300", "TEA-PU-357"]
    assert codes(await queries.stock_overview(actor, search="longjing")) == ["TEA-LJ-250"]
    assert codes(await queries.stock_overview(actor, search="tea-")) == ["TEA-LJ-250", "TEA-PU-357"]
    assert codes(await queries.stock_overview(actor, search="100%")) == []
    page = await queries.stock_overview(actor, category="tea", low_stock=5)
    assert codes(page) == ["TEA-PU-357"] and page.total == 1
    ids = [it["id"] for it in (await queries.stock_overview(actor)).items][:2]
    assert codes(await queries.stock_overview(actor, sku_ids=ids)) == ["CUP-CER-01", "POT-YX-300"]


async def test_keyset_pages_walk_every_sku_once(merchant):
    actor = await world(merchant)
    seen, after = [], None
    while True:
        page = await queries.stock_overview(actor, first=3, after=after)
        seen += [it["code"] for it in page.items]
        assert page.total == 4
        if not page.has_next:
            break
        after = page.end_cursor
    assert seen == ["CUP-CER-01", "POT-YX-300", "TEA-LJ-250", "TEA-PU-357"]
    with pytest.raises(ValidationError):
        await queries.stock_overview(actor, after="bm90LWpzb24")


async def test_kits_follow_their_components(merchant):
    actor = await world(merchant)
    kit = await catalog.create_sku(actor, {"code": "GIFT-SET", "name": "Gift set", "category": "gift"})
    await db.execute("UPDATE sku SET is_kit = true WHERE id = $1", kit["id"])
    await db.execute("INSERT INTO sku_component (kit_sku_id, component_sku_id, quantity) "
                     "SELECT $1, id, CASE WHEN code = 'CUP-CER-01' THEN 2 ELSE 1 END FROM sku "
                     "WHERE merchant_id = $2 AND code IN ('TEA-LJ-250', 'CUP-CER-01')", kit["id"], merchant["id"])
    item = by_code(await queries.stock_overview(actor))["GIFT-SET"]
    assert item["is_kit"] and item["available"] == 10       # SZ: min(10, 30 // 2); HZ: no cups
    assert [(w["code"], w["available"]) for w in item["warehouses"]] == [("SZ", 10), ("HZ", 0)]
    assert item["available"] == (await inventory.availability(actor, "GIFT-SET"))["available"]
    comps = await queries.kit_components(actor, kit["id"])
    assert [(c["code"], c["quantity"], c["available"], c["kits"]) for c in comps] == [
        ("CUP-CER-01", 2, 30, 15), ("TEA-LJ-250", 1, 14, 14)]
    assert [it["code"] for it in (await queries.stock_overview(actor, low_stock=10, category="gift")).items] == [
        "GIFT-SET"]


async def test_inactive_warehouses_leave_the_totals(merchant):
    actor = await world(merchant)
    await inventory.update_warehouse(actor, "HZ", {"active": False})
    tea = by_code(await queries.stock_overview(actor))["TEA-LJ-250"]
    assert tea["on_hand"] == 10 and [(w["code"], w["active"]) for w in tea["warehouses"]] == [
        ("SZ", True), ("HZ", False)]


async def test_warehouses_page_and_categories(merchant):
    actor = await world(merchant)
    await inventory.create_warehouse(actor, {"code": "BJ", "name": "Beijing", "priority": 5, "active": False})
    page = await queries.warehouses_page(actor, first=2)
    assert [w["code"] for w in page.items] == ["SZ", "BJ"] and page.has_next and page.total == 3
    rest = await queries.warehouses_page(actor, first=2, after=page.end_cursor)
    assert [w["code"] for w in rest.items] == ["HZ"] and not rest.has_next
    assert [w["code"] for w in (await queries.warehouses_page(actor, active=False)).items] == ["BJ"]
    assert [w["code"] for w in (await queries.warehouses_page(actor, search="hang")).items] == ["HZ"]
    sz = page.items[0]
    assert (sz["skus_stocked"], sz["units_on_hand"], sz["channel_ids"]) == (2, 40, [])
    assert await queries.categories(actor) == ["tea", "ware"]


async def test_tenancy_and_permission(merchant, other_merchant, users):
    actor = await world(merchant)
    other = system(other_merchant["id"], "test")
    await catalog.create_sku(other, {"code": "OTHER-1", "name": "Other", "category": "zz"})
    assert [it["code"] for it in (await queries.stock_overview(other)).items] == ["OTHER-1"]
    assert "zz" not in await queries.categories(actor)
    with pytest.raises(NotFound):
        await queries.stock_overview(other, warehouse="SZ")
    tea = by_code(await queries.stock_overview(actor))["TEA-LJ-250"]
    assert await queries.kit_components(other, tea["id"]) == []
    assert await queries.listings_for_sku(other, tea["id"]) == []
    assert (await queries.warehouses_page(other)).items == []
    nobody = await users.make("admin", merchant=merchant)
    denied = nobody["actor"].__class__(kind="user", merchant_id=merchant["id"], role="none",
                                       permissions=frozenset(), user_id=nobody["id"], label="x")
    with pytest.raises(PermissionDenied):
        await queries.stock_overview(denied)
    assert actor.merchant_id == merchant["id"]
