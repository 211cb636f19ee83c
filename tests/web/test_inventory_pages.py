"""The stock pages with real requests: full page vs htmx fragment, filters on real data, receipts,
adjustments and stocktakes through the forms (levels and ledger change), 422 error fragments,
movements, CSV export, permissions and tenant isolation."""
from __future__ import annotations

import csv
import io
import re

import pytest

from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db
from server.core.actor import system
from server.inventory import invariants
from server.inventory import service as inventory
from server.orders.service import LineInput, OrderInput, ReceiverInput, create_order
from tests.web.conftest import form, hx, rows_text, sign_in, text_of


async def stock_world(merchant: dict) -> dict:
    actor = system(merchant["id"], "test")
    skus = {}
    for code, name, category in (("TEA-LJ-250", "Longjing tea 250g", "tea"), ("TEA-PU-357", "Pu'er cake", "tea"),
                                 ("CUP-CER-01", "Ceramic cup", "ware"), ("POT-YX-300", "Yixing pot", "ware")):
        skus[code] = await catalog.create_sku(actor, {"code": code, "name": name, "category": category})
    sz = await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
    hz = await inventory.create_warehouse(actor, {"code": "HZ", "name": "Hangzhou", "priority": 5})
    await inventory.receive(actor, "SZ", "TEA-LJ-250", 10, "PO-1")
    await inventory.receive(actor, "HZ", "TEA-LJ-250", 4, "PO-2")
    await inventory.receive(actor, "HZ", "TEA-PU-357", 2)
    await inventory.receive(actor, "SZ", "CUP-CER-01", 30)
    return {"actor": actor, "skus": skus, "sz": sz, "hz": hz}


@pytest.fixture
async def shop(users, merchant):
    world = await stock_world(merchant)
    world["admin"] = await users.make("admin", merchant=merchant, email="boss@tea.example")
    return world


def codes_in(html: str) -> list[str]:
    text = rows_text(html, "stock-rows")
    return [c for c in ("CUP-CER-01", "POT-YX-300", "TEA-LJ-250", "TEA-PU-357") if c in text]


async def test_full_page_and_fragment(client, shop):
    await sign_in(client, shop["admin"])
    page = await client.get("/inventory")
    assert page.status_code == 200 and "<html" in page.text
    text = text_of(page.text)
    assert "Receive stock" in text and "Import counts (CSV)" in text and 'href="/inventory/counts/import"' in page.text
    assert codes_in(page.text) == ["CUP-CER-01", "POT-YX-300", "TEA-LJ-250", "TEA-PU-357"]
    assert 'href="/transfers"' in page.text and 'href="/alerts"' in page.text
    row = rows_text(page.text, "stock-rows")
    assert "Longjing tea 250g" in row and "10 on hand · 0 res." in row
    fragment = await client.get("/inventory", headers=hx(client))
    assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="stock-list"' in fragment.text
    assert 'class="nav' not in fragment.text


async def test_filters_narrow_on_real_data(client, shop):
    await sign_in(client, shop["admin"])
    get = lambda q: client.get(f"/inventory?{q}", headers=hx(client))  # noqa: E731
    assert codes_in((await get("category=ware")).text) == ["CUP-CER-01", "POT-YX-300"]
    assert codes_in((await get("out=1")).text) == ["POT-YX-300"]
    assert codes_in((await get("low=5")).text) == ["POT-YX-300", "TEA-PU-357"]
    assert codes_in((await get("warehouse=SZ&out=1")).text) == ["POT-YX-300", "TEA-PU-357"]
    assert codes_in((await get("q=longjing")).text) == ["TEA-LJ-250"]
    assert codes_in((await get("category=tea&low=3")).text) == ["TEA-PU-357"]
    hz = (await get("warehouse=HZ")).text
    assert ">HZ</th>" in hz and ">SZ</th>" not in hz
    empty = (await get("q=nothing-like-this")).text
    assert "No SKUs match these filters." in empty
    full = await client.get("/inventory?category=tea&low=3")
    assert codes_in(full.text) == ["TEA-PU-357"] and 'value="3"' in full.text


async def test_keyset_pages(client, shop):
    actor = shop["actor"]
    for i in range(30):
        await catalog.create_sku(actor, {"code": f"ZZ-{i:03d}", "name": f"Filler {i}"})
    await sign_in(client, shop["admin"])
    first = await client.get("/inventory")
    assert "Load more" in first.text and "ZZ-020" in first.text and "ZZ-021" not in first.text

    after = re.search(r'hx-get="(/inventory\?after=[^"]+)"', first.text).group(1).replace("&amp;", "&")
    more = await client.get(after, headers=hx(client))
    assert more.status_code == 200 and "ZZ-029" in more.text and "CUP-CER-01" not in more.text
    assert 'id="stock-list"' not in more.text


async def test_receive_form_changes_levels_and_ledger(client, shop):
    await sign_in(client, shop["admin"])
    response = await client.post("/inventory/receive", headers=hx(client, **{"HX-Target": "stock-receive"}),
                                 data={"warehouse": "HZ", "sku": "POT-YX-300", "quantity": "7", "reference": "PO-77"})
    assert response.status_code == 200, response.text
    assert response.headers["HX-Trigger"] == "stock-changed"
    assert "Received POT-YX-300 at HZ." in text_of(response.text) and "available 7" in text_of(response.text)
    level = await inventory.get_level(shop["actor"], "HZ", "POT-YX-300")
    assert (level["on_hand"], level["available"]) == (7, 7)
    move = await db.fetchrow("SELECT kind, on_hand_delta, reference, actor_label FROM stock_movement "
                             "ORDER BY id DESC LIMIT 1")
    assert dict(move) == {"kind": "receipt", "on_hand_delta": 7, "reference": "PO-77",
                          "actor_label": "boss@tea.example"}
    # the plain form: flash + redirect, and the list shows the new figure
    plain = await client.post("/inventory/receive",
                              data=form(client, warehouse="SZ", sku="POT-YX-300", quantity="3", reference=""))
    assert plain.status_code == 303 and plain.headers["location"] == "/inventory"
    page = await client.get("/inventory?q=POT")
    assert "Received 3 × POT-YX-300 at SZ. Available now: 3." in text_of(page.text)
    assert "3 on hand · 0 res." in rows_text(page.text, "stock-rows")
    assert await invariants.ledger_mismatches(shop["admin"]["merchant"]["id"]) == []


async def test_receive_errors_are_422_fragments(client, shop):
    await sign_in(client, shop["admin"])
    unknown = await client.post("/inventory/receive", headers=hx(client),
                                data={"warehouse": "SZ", "sku": "NOPE-9", "quantity": "2"})
    assert unknown.status_code == 422 and "<html" not in unknown.text
    assert "There is no SKU with the code NOPE-9." in text_of(unknown.text)
    assert 'value="NOPE-9"' in unknown.text               # what was typed stays
    bad = await client.post("/inventory/receive", headers=hx(client),
                            data={"warehouse": "SZ", "sku": "TEA-LJ-250", "quantity": "-4"})
    assert bad.status_code == 422 and "Enter a whole number greater than 0." in text_of(bad.text)
    wrong_wh = await client.post("/inventory/receive", headers=hx(client),
                                 data={"warehouse": "XX", "sku": "TEA-LJ-250", "quantity": "1"})
    assert wrong_wh.status_code == 422 and "Choose one of your warehouses." in text_of(wrong_wh.text)
    plain = await client.post("/inventory/receive", data=form(client, warehouse="SZ", sku="NOPE-9", quantity="2"))
    assert plain.status_code == 422 and "<html" in plain.text and "There is no SKU with the code NOPE-9." in plain.text
    assert await db.fetchval("SELECT count(*) FROM stock_movement") == 4


async def test_sku_page_adjust_and_stocktake(client, shop):
    tea = shop["skus"]["TEA-LJ-250"]
    await sign_in(client, shop["admin"])
    page = await client.get(f"/inventory/skus/{tea['id']}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Stock per warehouse" in text and "Movements" in text and "PO-1" in text
    assert 'id="sku-available">14<' in page.text
    url = f"/inventory/skus/{tea['id']}/adjust"
    adjusted = await client.post(url, headers=hx(client), data={"warehouse": str(shop["sz"]["id"]), "mode": "delta",
                                                               "delta": "-2", "reason": "crushed box"})
    assert adjusted.status_code == 200 and adjusted.headers["HX-Trigger"] == "stock-changed"
    assert "Adjusted at SZ: -2, 8 on hand, 8 available." in text_of(adjusted.text)
    counted = await client.post(url, headers=hx(client), data={"warehouse": "HZ", "mode": "count",
                                                              "counted": "6", "reason": "monthly count"})
    assert counted.status_code == 200
    assert "Stocktake recorded at HZ: +2, 6 on hand, 6 available." in text_of(counted.text)
    moves = await db.fetch("SELECT w.code, m.kind, m.on_hand_delta, m.reason FROM stock_movement m "
                           "JOIN warehouse w ON w.id = m.warehouse_id WHERE m.sku_id = $1 ORDER BY m.id DESC LIMIT 2",
                           tea["id"])
    assert [tuple(m) for m in moves] == [("HZ", "adjustment", 2, "monthly count"),
                                         ("SZ", "adjustment", -2, "crushed box")]
    # movements list (fragment), filtered by warehouse and kind
    frag = await client.get(f"/inventory/skus/{tea['id']}/movements?warehouse=SZ&kind=adjustment", headers=hx(client))
    rows = rows_text(frag.text, "movement-rows")
    assert "crushed box" in rows and "monthly count" not in rows and "PO-1" not in rows
    receipts = rows_text((await client.get(f"/inventory/skus/{tea['id']}/movements?kind=receipt",
                                           headers=hx(client))).text, "movement-rows")
    assert "PO-1" in receipts and "PO-2" in receipts and "crushed box" not in receipts
    plain_filter = await client.get(f"/inventory/skus/{tea['id']}/movements?kind=receipt&warehouse=HZ")
    assert plain_filter.status_code == 303
    assert plain_filter.headers["location"] == f"/inventory/skus/{tea['id']}?warehouse=HZ&kind=receipt"
    full = rows_text((await client.get(plain_filter.headers["location"])).text, "movement-rows")
    assert "PO-2" in full and "PO-1" not in full
    # plain form posts redirect with a flash
    plain = await client.post(url, data=form(client, warehouse="SZ", mode="delta", delta="1", reason="found"))
    assert plain.status_code == 303
    assert "changed by +1; 9 on hand now" in text_of((await client.get(f"/inventory/skus/{tea['id']}")).text)
    assert await invariants.ledger_mismatches(shop["admin"]["merchant"]["id"]) == []


async def test_adjust_errors_are_422_fragments(client, shop):
    actor, tea = shop["actor"], shop["skus"]["TEA-LJ-250"]
    web = await channels.create_channel(actor, platform="website", name="Web")
    order, _ = await create_order(actor, OrderInput(channel=str(web["id"]), external_id="R-1",
                                                    lines=[LineInput(sku="TEA-LJ-250", quantity=8)],
                                                    receiver=ReceiverInput(name="张三")))
    await sign_in(client, shop["admin"])
    url = f"/inventory/skus/{tea['id']}/adjust"
    below = await client.post(url, headers=hx(client), data={"warehouse": "SZ", "mode": "delta", "delta": "-5",
                                                            "reason": "lost"})
    assert below.status_code == 422 and "<html" not in below.text
    assert "8 of the 10 units of TEA-LJ-250 on hand at SZ are reserved for orders: only 2 can be removed." in \
        text_of(below.text)
    count_low = await client.post(url, headers=hx(client), data={"warehouse": "SZ", "mode": "count", "counted": "3",
                                                                "reason": "count"})
    assert count_low.status_code == 422 and "are reserved for orders" in text_of(count_low.text)
    no_reason = await client.post(url, headers=hx(client), data={"warehouse": "SZ", "mode": "delta", "delta": "1",
                                                                "reason": ""})
    assert no_reason.status_code == 422 and "Say why the stock changes" in text_of(no_reason.text)
    negative = await client.post(url, headers=hx(client), data={"warehouse": "HZ", "mode": "delta", "delta": "-9",
                                                               "reason": "lost"})
    assert negative.status_code == 422 and "Only 4 of TEA-LJ-250 are on hand at HZ" in text_of(negative.text)
    zero = await client.post(url, headers=hx(client), data={"warehouse": "HZ", "mode": "delta", "delta": "0",
                                                           "reason": "x"})
    assert zero.status_code == 422 and "other than 0" in text_of(zero.text)
    level = await inventory.get_level(actor, "SZ", "TEA-LJ-250")
    assert (level["on_hand"], level["reserved"]) == (10, 8)
    page = await client.get(f"/inventory/skus/{tea['id']}")
    assert f'href="/orders/{order["id"]}"' in page.text and "Live reservations" in page.text


async def test_sku_page_lists_listings_and_kits(client, shop):
    actor = shop["actor"]
    web = await channels.create_channel(actor, platform="website", name="Tea website")
    listing_id = await db.fetchval(
        "INSERT INTO channel_listing (merchant_id, channel_id, platform_sku_code, title, sku_id, match_method) "
        "VALUES ($1, $2, 'TEA-LJ-250', 'Longjing on the web', $3, 'code') RETURNING id",
        actor.merchant_id, web["id"], shop["skus"]["TEA-LJ-250"]["id"])
    kit = await catalog.create_sku(actor, {"code": "GIFT-SET", "name": "Gift set"})
    await db.execute("UPDATE sku SET is_kit = true WHERE id = $1", kit["id"])
    await db.execute("INSERT INTO sku_component (kit_sku_id, component_sku_id, quantity) VALUES ($1, $2, 1), "
                     "($1, $3, 2)", kit["id"], shop["skus"]["TEA-LJ-250"]["id"], shop["skus"]["CUP-CER-01"]["id"])
    await sign_in(client, shop["admin"])
    tea_url = f"/inventory/skus/{shop['skus']['TEA-LJ-250']['id']}"
    tea_page = text_of((await client.get(tea_url)).text)
    assert "Tea website" in tea_page and "Longjing on the web" in tea_page and "Never pushed" in tea_page
    # the push state recorded by channel stock sync shows beside the listing
    await db.execute("INSERT INTO listing_stock_push (listing_id, merchant_id, channel_id, last_pushed_qty, "
                     "last_pushed_at, last_result) VALUES ($1, $2, $3, 13, now(), 'ok')",
                     listing_id, actor.merchant_id, web["id"])
    pushed = await client.get(tea_url)
    assert "<strong data-pushed>13</strong>" in pushed.text and "Pushed" in text_of(pushed.text)
    assert f'href="/channels/{web["id"]}/stock"' in pushed.text
    kit_page = await client.get(f"/inventory/skus/{kit['id']}")
    assert kit_page.status_code == 200
    text = text_of(kit_page.text)
    assert "Components" in text and "CUP-CER-01" in text and 'id="sku-available">10<' in kit_page.text
    assert "Adjust or count" not in text                  # a kit's stock is its components'
    listing = text_of((await client.get("/inventory?q=GIFT", headers=hx(client))).text)
    assert "Kit" in listing


async def test_csv_export_of_filter_and_selection(client, shop):
    await sign_in(client, shop["admin"])
    response = await client.get("/inventory/export.csv?category=tea")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert rows[0][:8] == ["sku", "name", "category", "kit", "on_hand", "reserved", "available", "incoming"]
    assert rows[0][8:] == ["available_SZ", "available_HZ"]
    assert [r[0] for r in rows[1:]] == ["TEA-LJ-250", "TEA-PU-357"]
    assert rows[1][4:] == ["14", "0", "14", "0", "10", "4"]
    ids = [shop["skus"]["CUP-CER-01"]["id"], shop["skus"]["POT-YX-300"]["id"]]
    picked = await client.get(f"/inventory/export.csv?ids={ids[0]}&ids={ids[1]}")
    assert [r[0] for r in list(csv.reader(io.StringIO(picked.text.lstrip("\ufeff"))))[1:]] == [
        "CUP-CER-01", "POT-YX-300"]


async def test_read_only_role_sees_no_forms_and_gets_403(client, users, shop):
    viewer = await users.make("customer_service", merchant=shop["admin"]["merchant"])
    await sign_in(client, viewer)
    page = await client.get("/inventory")
    assert page.status_code == 200 and "Receive stock" not in page.text and "/inventory/receive" not in page.text
    tea = shop["skus"]["TEA-LJ-250"]
    sku_page = await client.get(f"/inventory/skus/{tea['id']}")
    assert sku_page.status_code == 200 and "Adjust or count" not in sku_page.text
    receive = await client.post("/inventory/receive", data=form(client, warehouse="SZ", sku="TEA-LJ-250",
                                                                  quantity="5"))
    assert receive.status_code == 403
    adjust = await client.post(f"/inventory/skus/{tea['id']}/adjust", headers=hx(client),
                               data={"warehouse": "SZ", "mode": "delta", "delta": "5", "reason": "x"})
    assert adjust.status_code == 403
    assert (await inventory.get_level(shop["actor"], "SZ", "TEA-LJ-250"))["on_hand"] == 10
    nobody = await users.make("partner_readonly", merchant=shop["admin"]["merchant"])
    await sign_in(client, nobody)
    assert (await client.get("/inventory")).status_code == 200          # partners read stock
    anonymous = await client.get("/inventory", cookies={})
    assert anonymous.status_code in (200, 303)


async def test_other_merchants_sku_is_404(client, users, shop, other_merchant):
    other = system(other_merchant["id"], "test")
    theirs = await catalog.create_sku(other, {"code": "THEIR-1", "name": "Theirs", "category": "secret-cat"})
    await inventory.create_warehouse(other, {"code": "BJ", "name": "Beijing"})
    await inventory.receive(other, "BJ", "THEIR-1", 5)
    await sign_in(client, shop["admin"])
    assert (await client.get(f"/inventory/skus/{theirs['id']}")).status_code == 404
    assert (await client.get(f"/inventory/skus/{theirs['id']}/movements", headers=hx(client))).status_code == 404
    post = await client.post(f"/inventory/skus/{theirs['id']}/adjust", headers=hx(client),
                             data={"warehouse": "BJ", "mode": "delta", "delta": "-5", "reason": "x"})
    assert post.status_code == 404
    receive = await client.post("/inventory/receive", headers=hx(client),
                                data={"warehouse": "BJ", "sku": "THEIR-1", "quantity": "1"})
    assert receive.status_code == 422
    page = await client.get("/inventory")
    assert "THEIR-1" not in page.text and "secret-cat" not in page.text and ">BJ" not in page.text
    assert (await client.get("/inventory?warehouse=BJ")).status_code == 404
    assert (await inventory.get_level(other, "BJ", "THEIR-1"))["on_hand"] == 5


async def test_movements_load_more(client, shop):
    for i in range(30):
        await inventory.receive(shop["actor"], "SZ", "POT-YX-300", 1, f"PO-{i:03d}")
    pot = shop["skus"]["POT-YX-300"]
    await sign_in(client, shop["admin"])
    page = await client.get(f"/inventory/skus/{pot['id']}")
    rows = rows_text(page.text, "movement-rows")
    assert "PO-029" in rows and "PO-005" in rows and "PO-004" not in rows       # newest first, 25 a page

    url = re.search(r'hx-get="(/inventory/skus/\d+/movements\?after=[^"]+)"', page.text).group(1).replace("&amp;", "&")
    more = await client.get(url, headers=hx(client))
    assert "PO-004" in more.text and "PO-000" in more.text and "PO-005" not in more.text
    assert 'id="sku-movements"' not in more.text


async def test_chinese_reader_gets_chinese_errors(client, shop):
    await db.execute("UPDATE app_user SET language = 'zh' WHERE id = $1", shop["admin"]["id"])
    await sign_in(client, shop["admin"])
    page = await client.get("/inventory")
    assert "入库" in page.text and "按 SKU 查看库存" in page.text
    unknown = await client.post("/inventory/receive", headers=hx(client),
                                data={"warehouse": "SZ", "sku": "NOPE-9", "quantity": "2"})
    assert unknown.status_code == 422 and "没有编码为 NOPE-9 的 SKU。" in text_of(unknown.text)
    tea = shop["skus"]["TEA-LJ-250"]
    below = await client.post(f"/inventory/skus/{tea['id']}/adjust", headers=hx(client),
                              data={"warehouse": "HZ", "mode": "delta", "delta": "-9", "reason": "丢失"})
    assert below.status_code == 422 and "HZ 的 TEA-LJ-250 只有 4 件在库" in text_of(below.text)


async def test_transfer_in_flight_shows_as_incoming(client, shop):
    from server.inventory import transfers

    transfer = await transfers.create_transfer(shop["actor"], "SZ", "HZ", [{"sku": "CUP-CER-01", "quantity": 12}])
    await transfers.ship_transfer(shop["actor"], transfer["id"])
    await sign_in(client, shop["admin"])
    row = rows_text((await client.get("/inventory?q=CUP", headers=hx(client))).text, "stock-rows")
    assert "+12" in row and "18 on hand" in row                      # 30 - 12 left SZ, 12 on their way to HZ
    cup = shop["skus"]["CUP-CER-01"]
    page = await client.get(f"/inventory/skus/{cup['id']}")
    levels = re.search(rf'<tr id="level-{shop["hz"]["id"]}".*?</tr>', page.text, flags=re.S).group(0)
    assert [c.strip() for c in re.findall(r'<td class="num">(.*?)</td>', levels, flags=re.S)][-1] == "12"
    assert "transfer_out" not in text_of(page.text) and "Transfer out" in text_of(page.text)
