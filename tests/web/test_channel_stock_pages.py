"""The channel stock page: policy form (validated, clear errors, htmx fragment and full page), listing
table with sellable and push state, filters, keyset pages, bulk push and CSV export, resync all,
per-listing override, roles, tenant isolation, Chinese."""
from __future__ import annotations

import csv
import io

from server.core import db
from server.inventory import channel_stock_push
from server.inventory import service as inventory
from tests.service.test_channel_stock_policy import shop
from tests.web.conftest import form, hx, rows_text, sign_in, text_of


async def setup(users, merchant):
    admin = await users.make("admin", merchant=merchant)
    actor, ch, _other, listings = await shop(merchant)
    await inventory.receive(actor, "SZ", "TEA", 10)
    await inventory.receive(actor, "SZ", "CUP", 2)
    return admin, actor, ch, listings


async def test_page_shows_policy_listings_and_push_state(client, users, merchant):
    admin, _actor, ch, _listings = await setup(users, merchant)
    await channel_stock_push.push_channel(ch["id"])      # website: no stock API — visible as a failure
    await sign_in(client, admin)
    r = await client.get(f"/channels/{ch['id']}/stock")
    assert r.status_code == 200 and "<html" in r.text
    assert 'id="stock-policy"' in r.text and 'name="_csrf"' in r.text and "Resync all" in r.text
    rows = rows_text(r.text, "stock-rows")
    assert "TEA listing" in rows and "GIFT listing" in rows and "NOPE listing" in rows and "Unmatched" in rows
    assert "does not accept stock pushes" in rows
    # the table polls (so pushes appear by themselves) and has bulk selection and CSV export
    assert "every 3s" in r.text and 'data-select-all="stock-bulk"' in r.text and "/export.csv" in r.text
    # htmx: the list fragment only
    frag = await client.get(f"/channels/{ch['id']}/stock?status=unmatched", headers=hx(client))
    assert frag.status_code == 200 and "<html" not in frag.text and 'id="stock-list"' in frag.text
    assert "NOPE listing" in frag.text and "TEA listing" not in frag.text
    search = await client.get(f"/channels/{ch['id']}/stock?q=GIFT", headers=hx(client))
    assert "GIFT listing" in search.text and "TEA listing" not in search.text
    # overview of every channel
    overview = await client.get("/channels/stock")
    assert overview.status_code == 200 and f'/channels/{ch["id"]}/stock' in overview.text


async def test_policy_form_validates_with_clear_errors_then_saves(client, users, merchant):
    admin, _actor, ch, _listings = await setup(users, merchant)
    await sign_in(client, admin)
    url = f"/channels/{ch['id']}/stock/policy"
    bad = await client.post(url, headers=hx(client), data={"mode": "percent", "percent": "150", "buffer": "-2",
                                                           "quota": "x"})
    assert bad.status_code == 422 and "<html" not in bad.text
    text = text_of(bad.text)
    assert "Enter a percentage from 0 to 100." in text and "Enter a whole number, 0 or more." in text
    assert "Enter a whole number." in text and 'aria-invalid="true"' in bad.text
    assert await db.fetchval("SELECT count(*) FROM channel_stock_policy") == 0
    quota = await client.post(url, headers=hx(client), data={"mode": "quota", "quota": ""})
    assert quota.status_code == 422 and "A fixed quota needs the number of units to list." in quota.text
    bj = await db.fetchval("SELECT id FROM warehouse WHERE code = 'BJ'")
    ineligible = await client.post(url, data=form(client, mode="pool", warehouse_ids=str(bj)))
    assert ineligible.status_code == 422 and "<html" in ineligible.text
    assert "A chosen warehouse does not serve this channel or is inactive." in ineligible.text

    ok = await client.post(url, headers=hx(client), data={"mode": "percent", "percent": "50", "buffer": "2",
                                                          "max_listed": "", "zero_at": "0"})
    assert ok.status_code == 200 and "Saved" in ok.text and ok.headers.get("HX-Trigger") == "stock-changed"
    row = await db.fetchrow("SELECT * FROM channel_stock_policy WHERE channel_id = $1", ch["id"])
    assert (row["mode"], row["percent"], row["buffer"], row["max_listed"]) == ("percent", 50, 2, None)
    page = await client.get(f"/channels/{ch['id']}/stock?q=TEA", headers=hx(client))
    tea = rows_text(page.text, "stock-rows")
    assert "TEA listing" in tea and " 4 " in f" {tea} "          # (10 - 2) * 50 %
    # without htmx: redirect and flash
    plain = await client.post(url, data=form(client, mode="pool", buffer="1"))
    assert plain.status_code == 303 and plain.headers["location"] == f"/channels/{ch['id']}/stock"
    assert "Stock policy saved" in (await client.get(plain.headers["location"])).text


async def test_resync_push_selected_export_and_override(client, users, merchant):
    admin, _actor, ch, listings = await setup(users, merchant)
    await db.execute("DELETE FROM stock_push_mark")
    await sign_in(client, admin)
    r = await client.post(f"/channels/{ch['id']}/stock/resync", headers=hx(client))
    assert r.status_code == 200 and "2 listings queued for a push." in r.text
    assert await db.fetchval("SELECT count(*) FROM stock_push_mark") == 2
    r = await client.post(f"/channels/{ch['id']}/stock/push", headers=hx(client), data={"ids": [str(listings["TEA"])]})
    assert "1 listing queued for a push." in r.text
    assert await db.fetchval("SELECT count(*) FROM stock_push_mark WHERE listing_id = $1", listings["TEA"]) == 2

    export = await client.get(f"/channels/{ch['id']}/stock/export.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(export.text)))
    assert table[0][:3] == ["Listing", "Platform product id", "Platform SKU id"] and len(table) == 4
    selected = await client.get(f"/channels/{ch['id']}/stock/export.csv?ids={listings['GIFT']}")
    assert [row[5] for row in csv.reader(io.StringIO(selected.text))][1:] == ["GIFT"]

    page = await client.get(f"/channels/{ch['id']}/stock/listings/{listings['TEA']}")
    assert page.status_code == 200 and "follows the channel" in page.text
    bad = await client.post(f"/channels/{ch['id']}/stock/listings/{listings['TEA']}",
                            data=form(client, mode="quota", quota="-1"))
    assert bad.status_code == 422 and "Enter a whole number, 0 or more." in bad.text
    saved = await client.post(f"/channels/{ch['id']}/stock/listings/{listings['TEA']}",
                              data=form(client, mode="quota", quota="3"))
    assert saved.status_code == 303
    rows = rows_text((await client.get(f"/channels/{ch['id']}/stock?q=TEA")).text, "stock-rows")
    assert "Own policy" in rows and " 3 " in f" {rows} "
    removed = await client.post(f"/channels/{ch['id']}/stock/listings/{listings['TEA']}/remove", data=form(client))
    assert removed.status_code == 303
    assert await db.fetchval("SELECT count(*) FROM channel_stock_policy WHERE listing_id IS NOT NULL") == 0


async def test_roles_and_tenants(client, users, merchant, other_merchant):
    _admin, _actor, ch, listings = await setup(users, merchant)
    viewer = await users.make("finance", merchant=merchant)
    await sign_in(client, viewer)
    page = await client.get(f"/channels/{ch['id']}/stock")
    assert page.status_code == 200 and "Resync all" not in page.text and "Save policy" not in page.text
    denied = await client.post(f"/channels/{ch['id']}/stock/resync", data=form(client))
    assert denied.status_code == 403
    cs_role = await users.make("customer_service", merchant=merchant)     # has inventory.view
    stranger = await users.make("admin", merchant=other_merchant)
    client.cookies.clear()
    await sign_in(client, stranger)
    for path in (f"/channels/{ch['id']}/stock", f"/channels/{ch['id']}/stock/export.csv",
                 f"/channels/{ch['id']}/stock/listings/{listings['TEA']}"):
        assert (await client.get(path)).status_code == 404, path
    for path in (f"/channels/{ch['id']}/stock/policy", f"/channels/{ch['id']}/stock/resync",
                 f"/channels/{ch['id']}/stock/listings/{listings['TEA']}"):
        assert (await client.post(path, data=form(client, mode="pool"))).status_code == 404, path
    assert await db.fetchval("SELECT count(*) FROM channel_stock_policy") == 0
    overview = await client.get("/channels/stock")
    assert ch["name"] not in text_of(overview.text)
    del cs_role


async def test_chinese_page(client, users, merchant):
    admin, _actor, ch, _listings = await setup(users, merchant)
    await db.execute("UPDATE app_user SET language = 'zh' WHERE id = $1", admin["id"])
    await sign_in(client, admin)
    r = await client.get(f"/channels/{ch['id']}/stock")
    assert r.status_code == 200
    assert "渠道库存策略" in r.text and "全部重新同步" in r.text and "可售" in r.text
    bad = await client.post(f"/channels/{ch['id']}/stock/policy", headers=hx(client), data={"mode": "percent",
                                                                                             "percent": "150"})
    assert "请输入 0 到 100 之间的百分比" in bad.text
