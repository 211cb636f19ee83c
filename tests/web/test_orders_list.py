"""The order list page (/orders): filters, keyset pages, live updates, bulk actions, CSV export,
saved views, roles and tenants — real app, real database, real requests."""
from __future__ import annotations

import csv
import html
import io
import re

import pytest

from server.catalog import service as catalog
from server.channels import service as channels
from server.channels.connectors.base import NormalizedStatus
from server.core import db
from server.core.actor import system
from server.orders import ingest
from tests.support.fixtures import new_client
from tests.support.orders import fetched, later, line, order
from tests.web.conftest import form, hx, rows_text, sign_in, text_of


async def seed(merchant: dict) -> dict:
    """Two channels and six orders with known differences; returns {external_id: id}, their order numbers and the channels."""
    actor = system(merchant["id"], "test")
    await catalog.create_sku(actor, {"code": "TEA-LJ-250", "name": "Longjing", "list_price": "168.00"})
    await catalog.create_sku(actor, {"code": "CUP-CER-01", "name": "Cup", "list_price": "45.50"})
    web = await channels.create_channel(actor, platform="website", name="Web shop")
    pos = await channels.create_channel(actor, platform="pos", name="Flagship store")
    ch_web = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", web["id"]))
    ch_pos = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", pos["id"]))

    def named(o, name):
        o.buyer.name = name
        o.receiver.name = name
        return o

    await ingest.ingest(ch_web, [
        fetched(named(order("W-1", placed=later(1), phone="13800001111", buyer_id="b1",
                            lines=[line("TEA-LJ-250", 1, 16800)]), "张三")),
        fetched(named(order("W-2", placed=later(2), phone="13900002222", buyer_id="b2", province="浙江省",
                            city="杭州市", district="西湖区", lines=[line("CUP-CER-01", 2, 4550)]), "李四")),
        fetched(named(order("W-4", placed=later(5), phone="13600005555", buyer_id="b5", province="北京市",
                            city="北京市", district="海淀区", lines=[line("NOPE-SKU", 1, 9900)]), "赵六")),
    ], source="pull")
    await ingest.ingest(ch_web, [  # the same buyer again, later: a returning buyer
        fetched(named(order("W-3", placed=later(4), phone="13800001111", buyer_id="b1",
                            lines=[line("CUP-CER-01", 1, 4550)]), "张三")),
    ], source="pull")
    await ingest.ingest(ch_pos, [
        fetched(named(order("P-1", placed=later(3), phone="13700003333", buyer_id="b3", city="广州市",
                            district="天河区", lines=[line("TEA-LJ-250", 3, 16800)]), "王五")),
    ], source="pull")
    await ingest.ingest(ch_pos, [
        fetched(named(order("P-2", placed=later(6), phone="13500006666", buyer_id="b6", status=NormalizedStatus.SHIPPED,
                            lines=[line("TEA-LJ-250", 1, 16800)]), "钱七")),
    ], source="pull")
    rows = await db.fetch("SELECT id, external_id, order_number FROM sales_order WHERE merchant_id = $1",
                          merchant["id"])
    return {"ids": {r["external_id"]: r["id"] for r in rows},
            "numbers": {r["external_id"]: r["order_number"] for r in rows}, "web": web, "pos": pos}


def shown(page: str) -> list[str]:
    """External ids (W-1, P-2, …) of the rows in a list page or fragment, top to bottom."""
    return re.findall(r'class="cell-title order-number" href="/orders/\d+">[^<]+</a>\s*'
                      r'<div class="cell-sub mono" title="External id">([^<]+)</div>', page)


@pytest.fixture
async def shop(users, client):
    admin = await users.make("admin")
    data = await seed(admin["merchant"])
    await sign_in(client, admin)
    return {**data, "admin": admin, "merchant": admin["merchant"]}


# -- page and fragments ------------------------------------------------------------------------

async def test_full_page_and_htmx_fragment(client, shop):
    page = await client.get("/orders")
    assert page.status_code == 200
    body = page.text
    assert "<html" in body and 'aria-current="page"' in body and "/static/js/orders.js" in body
    assert 'id="order-filters"' in body and 'id="bulk-form"' in body and 'id="saved-views"' in body
    assert shown(body) == ["P-2", "W-4", "W-3", "P-1", "W-2", "W-1"]  # newest placed first
    fragment = await client.get("/orders", headers=hx(client))
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="order-list"') and "<html" not in fragment.text
    assert shown(fragment.text) == shown(body)
    # row contents: link, channel + platform, region, total with currency, status, holds
    rows = rows_text(body, "order-rows")
    assert "Web shop" in rows and "Website" in rows and "Flagship store" in rows and "Store (POS)" in rows
    assert "CN¥178.00" in rows and "浙江省" in rows and "杭州市" in rows
    assert "A line matches no SKU" in rows  # W-4's unmatched line holds it
    assert f'href="/orders/{shop["ids"]["W-1"]}"' in body
    assert "+8613800001111" in rows  # admins may see the full phone
    assert shop["numbers"]["W-1"] in rows


async def test_times_are_shown_in_the_viewers_timezone(client, shop):
    await db.execute("UPDATE app_user SET timezone = 'Asia/Shanghai' WHERE id = $1", shop["admin"]["id"])
    rows = rows_text((await client.get("/orders")).text, "order-rows")
    assert "2026-11-20 16:01" in rows  # W-1 placed 08:01 UTC


@pytest.mark.parametrize(("params", "expected"), [
    ({"status": "on_hold"}, {"W-4"}),
    ({"status": "shipped"}, {"P-2"}),
    ({"platform": "pos"}, {"P-1", "P-2"}),
    ({"placed_from": "2026-11-20", "placed_to": "2026-11-20"}, {"W-1", "W-2", "P-1", "W-3", "W-4", "P-2"}),
    ({"placed_to": "2026-11-19"}, set()),
    ({"province": "浙江省"}, {"W-2"}),
    ({"city": "广州市"}, {"P-1"}),
    ({"province": "广东省", "city": "深圳市"}, {"W-1", "W-3", "P-2"}),
    ({"sku": "CUP-CER-01"}, {"W-2", "W-3"}),
    ({"buyer": "李"}, {"W-2"}),
    ({"amount_min": "178"}, {"W-1", "P-1", "P-2"}),
    ({"amount_max": "101.00"}, {"W-2", "W-3"}),
    ({"amount_min": "100", "amount_max": "200"}, {"W-1", "W-2", "W-4", "P-2"}),
    ({"hold_reason": "unmatched_sku"}, {"W-4"}),
    ({"returning": "1"}, {"W-3"}),
    ({"returning": "0"}, {"W-1", "W-2", "P-1", "W-4", "P-2"}),
    ({"search": "W-2"}, {"W-2"}),  # external id
    ({"search": "SO00000004"}, {"W-3"}),  # order number (numbered in the order of arrival)
    ({"search": "2222"}, {"W-2"}),
    ({"search": "1111"}, {"W-1", "W-3"}),
    ({"search": "王五"}, {"P-1"}),
])
async def test_each_filter_narrows_the_list(client, shop, params, expected):
    response = await client.get("/orders", params=params, headers=hx(client))
    assert response.status_code == 200, response.text
    assert set(shown(response.text)) == expected


async def test_channel_and_tag_filters(client, shop):
    response = await client.get("/orders", params={"channel": shop["web"]["id"]}, headers=hx(client))
    assert set(shown(response.text)) == {"W-1", "W-2", "W-3", "W-4"}
    await db.execute("UPDATE sales_order SET tags = '{vip}' WHERE id = $1", shop["ids"]["P-1"])
    response = await client.get("/orders", params={"tag": "VIP"}, headers=hx(client))
    assert shown(response.text) == ["P-1"]
    # the filter form shows what is applied
    page = (await client.get("/orders", params={"channel": shop["web"]["id"], "province": "浙江省"})).text
    assert f'<option value="{shop["web"]["id"]}" selected>' in page and 'value="浙江省"' in page


async def test_invalid_filters_get_an_inline_error_not_a_500(client, shop):
    params = {"status": "lost", "channel": "abc", "placed_from": "2026-13-40", "amount_min": "lots",
              "returning": "maybe", "platform": "ebay"}
    full = await client.get("/orders", params=params)
    assert full.status_code == 422
    text = text_of(full.text)
    assert "These filters cannot be used" in text
    for message in ("Unknown status “lost”", "Choose a channel from the list", "Enter dates as YYYY-MM-DD",
                    "Enter an amount such as 99.50", "Choose new or returning buyers", "Unknown platform “ebay”"):
        assert message in text
    assert 'id="order-filters"' in full.text  # the rest of the page is still there to fix it
    fragment = await client.get("/orders", params={"amount_max": "1", "amount_min": "5"}, headers=hx(client))
    assert fragment.status_code == 422 and "The largest amount is below the smallest" in fragment.text
    bad_cursor = await client.get("/orders", params={"after": "not-a-cursor"}, headers=hx(client))
    assert bad_cursor.status_code == 422 and "This page link has expired" in bad_cursor.text


async def test_keyset_paging_returns_every_order_exactly_once(client, shop):
    merchant = shop["merchant"]
    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", shop["web"]["id"]))
    # many orders share one placed time: the (placed_at, id) keyset must still not skip or repeat
    await ingest.ingest(ch, [fetched(order(f"K-{i:03d}", placed=later(10 + i // 7), phone=f"1310000{i:04d}"))
                             for i in range(117)], source="pull")
    seen: list[str] = []
    response = await client.get("/orders", headers=hx(client))
    body = response.text
    pages = 1
    while True:
        seen += shown(body)
        more = re.search(r'<tr class="load-more-row">.*?hx-get="([^"]+)"', body, flags=re.S)
        if not more:
            break
        url = html.unescape(more.group(1))
        assert "after=" in url and "offset" not in url
        body = (await client.get(url, headers=hx(client))).text
        assert "<table" not in body  # a page of rows, not the list again
        pages += 1
    total = await db.fetchval("SELECT count(*) FROM sales_order WHERE merchant_id = $1", merchant["id"])
    assert len(seen) == len(set(seen)) == total == 123 and pages == 3


# -- live updates ------------------------------------------------------------------------------

async def test_live_counts_and_new_orders_banner(client, shop):
    page = (await client.get("/orders")).text
    since = int(re.search(r'/orders/live\?since=(\d+)', page).group(1))
    assert since == max(shop["ids"].values())
    live = await client.get(f"/orders/live?since={since}", headers=hx(client))
    assert live.status_code == 200 and "new order" not in live.text
    assert re.search(r'id="tab-count-all" hx-swap-oob="true">6<', live.text)
    assert re.search(r'id="tab-count-on_hold" hx-swap-oob="true">1<', live.text)
    assert re.search(r'id="order-total" data-total="6"', live.text)

    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", shop["web"]["id"]))
    await ingest.ingest(ch, [fetched(order("W-NEW", placed=later(-60), phone="13100009999", province="浙江省"))],
                        source="webhook")
    live = await client.get(f"/orders/live?since={since}", headers=hx(client))
    assert "1 new order since you opened this list" in text_of(live.text)
    assert re.search(r'id="tab-count-all" hx-swap-oob="true">7<', live.text)
    # a filter the new order does not match announces nothing
    other = await client.get(f"/orders/live?since={since}&province=北京市", headers=hx(client))
    assert "new order" not in other.text and re.search(r'data-total="1"', other.text)

    fresh = await client.get(f"/orders/fresh?since={since}&province=浙江省", headers=hx(client))
    assert shown(fresh.text) == ["W-NEW"] and "row-new" in fresh.text
    new_id = await db.fetchval("SELECT id FROM sales_order WHERE external_id = 'W-NEW'")
    # the poller comes back with the new watermark, so the same order is not announced twice
    assert f"/orders/live?province=%E6%B5%99%E6%B1%9F%E7%9C%81&amp;since={new_id}" in fresh.text
    assert 'hx-swap-oob="outerHTML"' in fresh.text
    again = await client.get(f"/orders/live?since={new_id}", headers=hx(client))
    assert "new order" not in again.text


# -- bulk actions ------------------------------------------------------------------------------

async def tags_of(ids: dict, *numbers: str) -> dict[str, list[str]]:
    rows = await db.fetch("SELECT external_id, tags FROM sales_order WHERE id = ANY($1::bigint[])",
                          [ids[n] for n in numbers])
    return {r["external_id"]: list(r["tags"]) for r in rows}


async def test_bulk_tag_by_ids_and_all_matching(client, shop):
    ids = shop["ids"]
    response = await client.post("/orders/bulk/tag", headers=hx(client, **{"HX-Target": "bulk-result"}),
                                 data={"ids": [ids["W-1"], ids["W-2"]], "scope": "ids", "tags": "VIP, rush"})
    assert response.status_code == 200, response.text
    assert "2 orders done" in text_of(response.text) and response.headers["HX-Trigger"] == "orders-changed"
    assert await tags_of(ids, "W-1", "W-2", "W-3") == {"W-1": ["rush", "vip"], "W-2": ["rush", "vip"], "W-3": []}

    # all matching: the filter goes up, not the ids (here none are sent at all)
    response = await client.post("/orders/bulk/tag", headers=hx(client),
                                 data={"scope": "all", "province": "广东省", "tags": "south"})
    assert "4 orders done" in text_of(response.text)
    tagged = await db.fetch("SELECT external_id FROM sales_order WHERE 'south' = ANY(tags) ORDER BY 1")
    assert [r["external_id"] for r in tagged] == ["P-1", "P-2", "W-1", "W-3"]
    listed = await client.get("/orders", params={"tag": "south"}, headers=hx(client))
    assert set(shown(listed.text)) == {"P-1", "P-2", "W-1", "W-3"}

    # nothing selected, no tag given: clear errors, nothing changes
    none = await client.post("/orders/bulk/tag", headers=hx(client, **{"HX-Target": "bulk-result"}),
                             data={"scope": "ids", "tags": "x"})
    assert none.status_code == 422 and "Select orders first" in none.text
    empty = await client.post("/orders/bulk/tag", headers=hx(client, **{"HX-Target": "bulk-result"}),
                              data={"scope": "ids", "ids": ids["W-1"], "tags": " , "})
    assert empty.status_code == 422 and "Give at least one tag" in empty.text


async def test_bulk_note_by_ids_and_all_matching(client, shop):
    ids = shop["ids"]
    response = await client.post("/orders/bulk/note", headers=hx(client),
                                 data={"ids": [ids["W-2"]], "body": "call the buyer first"})
    assert response.status_code == 200 and "1 order done" in text_of(response.text)
    response = await client.post("/orders/bulk/note", headers=hx(client),
                                 data={"scope": "all", "platform": "pos", "body": "store pickup"})
    assert "2 orders done" in text_of(response.text)
    notes = await db.fetch("SELECT o.external_id, n.body FROM order_note n JOIN sales_order o ON o.id = n.order_id "
                           "ORDER BY o.external_id")
    assert [(r["external_id"], r["body"]) for r in notes] == [
        ("P-1", "store pickup"), ("P-2", "store pickup"), ("W-2", "call the buyer first")]


async def test_bulk_cancel_reports_done_and_not_possible(client, shop):
    ids = shop["ids"]
    no_reason = await client.post("/orders/bulk/cancel", headers=hx(client, **{"HX-Target": "bulk-result"}),
                                  data={"ids": [ids["W-1"]], "reason": ""})
    assert no_reason.status_code == 422 and "Give a reason for cancelling" in no_reason.text
    response = await client.post("/orders/bulk/cancel", headers=hx(client),
                                 data={"ids": [ids["W-1"], ids["P-2"]], "reason": "duplicate"})
    text = text_of(response.text)
    assert response.status_code == 200 and "1 order done" in text and "1 could not be changed" in text
    assert f"{shop['numbers']['P-2']} : its status no longer allows this" in text  # the shipped one is named
    response = await client.post("/orders/bulk/cancel", headers=hx(client),
                                 data={"scope": "all", "sku": "CUP-CER-01", "reason": "out of cups"})
    assert "2 orders done" in text_of(response.text)
    statuses = {r["external_id"]: r["status"] for r in await db.fetch("SELECT external_id, status FROM sales_order")}
    assert statuses["W-1"] == statuses["W-2"] == statuses["W-3"] == "cancelled"
    assert statuses["P-2"] == "shipped" and statuses["P-1"] != "cancelled"


async def test_bulk_without_javascript_redirects_with_a_flash(client, shop):
    response = await client.post("/orders/bulk/tag", data=form(client, ids=str(shop["ids"]["W-1"]), tags="plain",
                                                              province="广东省"))
    assert response.status_code == 303 and response.headers["location"].startswith("/orders?province=")
    page = await client.get(response.headers["location"])
    assert "Tags added: 1 done, 0 skipped, 0 could not be changed." in text_of(page.text)


# -- export ------------------------------------------------------------------------------------

def csv_rows(body: str) -> list[dict]:
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:])))


async def test_csv_export_of_a_selection_and_of_all_matching(client, shop):
    ids = shop["ids"]
    response = await client.post("/orders/export", data=form(client, ids=[str(ids["W-2"]), str(ids["P-1"])]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert re.match(r'attachment; filename="orders-\d{8}-\d{6}\.csv"', response.headers["content-disposition"])
    rows = csv_rows(response.text)
    assert {r["external_id"] for r in rows} == {"W-2", "P-1"}
    w2 = next(r for r in rows if r["external_id"] == "W-2")
    assert w2["total"] == "101.00" and w2["province"] == "浙江省" and w2["receiver_phone"] == "+8613900002222"
    assert w2["channel_name"] == "Web shop" and w2["sku_codes"] == "CUP-CER-01"

    everything = await client.post("/orders/export", data=form(client, scope="all", platform="website"))
    assert [r["external_id"] for r in csv_rows(everything.text)] == ["W-4", "W-3", "W-2", "W-1"]
    # nothing selected: the whole filter
    unselected = await client.post("/orders/export", data=form(client, returning="1"))
    assert [r["external_id"] for r in csv_rows(unselected.text)] == ["W-3"]
    bad = await client.post("/orders/export", data=form(client, status="nope"))
    assert bad.status_code == 422


async def test_big_export_streams_every_order_once(client, shop):
    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", shop["web"]["id"]))
    await ingest.ingest(ch, [fetched(order(f"X-{i:04d}", placed=later(20 + i % 50), phone=f"1330000{i:04d}"))
                             for i in range(1_100)], source="pull")
    chunks = []
    async with client.stream("POST", "/orders/export", data=form(client, scope="all")) as response:
        assert response.status_code == 200 and "content-length" not in response.headers
        async for chunk in response.aiter_text():
            chunks.append(chunk)
    rows = csv_rows("".join(chunks))
    assert len(rows) == len({r["external_id"] for r in rows}) == 1_106


# -- saved views -------------------------------------------------------------------------------

async def test_saved_views_are_per_user(client, second_client, shop, users):
    colleague = await users.make("operations", merchant=shop["merchant"])
    await sign_in(second_client, colleague)
    saved = await client.post("/orders/views", headers=hx(client),
                              data={"name": "Guangdong", "query": "province=广东省&status=awaiting_review"})
    assert saved.status_code == 200 and "Guangdong" in saved.text
    assert "/orders?status=awaiting_review&amp;province=%E5%B9%BF%E4%B8%9C%E7%9C%81" in saved.text
    mine = await client.get("/orders")
    assert ">Guangdong</a>" in mine.text
    theirs = await second_client.get("/orders")
    assert "Guangdong" not in theirs.text
    view_id = await db.fetchval("SELECT id FROM saved_view WHERE name = 'Guangdong'")
    # someone else cannot delete it
    await second_client.post(f"/orders/views/{view_id}/delete", headers=hx(second_client))
    assert await db.fetchval("SELECT count(*) FROM saved_view") == 1
    # a view whose filters do not work is not saved; an unnamed one neither
    bad = await client.post("/orders/views", headers=hx(client), data={"name": "Broken", "query": "status=zzz"})
    assert bad.status_code == 422 and "Unknown status" in bad.text
    unnamed = await client.post("/orders/views", headers=hx(client), data={"name": " ", "query": "status=ready"})
    assert unnamed.status_code == 422
    gone = await client.post(f"/orders/views/{view_id}/delete", headers=hx(client))
    assert gone.status_code == 200 and "Guangdong" not in gone.text
    assert await db.fetchval("SELECT count(*) FROM saved_view") == 0


# -- who may see and do what -------------------------------------------------------------------

async def test_another_merchant_never_sees_or_touches_these_orders(client, second_client, shop, users):
    outsider = await users.make("admin")
    await sign_in(second_client, outsider)
    ids = shop["ids"]
    page = await second_client.get("/orders")
    assert page.status_code == 200 and shown(page.text) == [] and "No orders match these filters" in page.text
    assert shown((await second_client.get("/orders", params={"search": "W-1"}, headers=hx(second_client))).text) == []
    live = await second_client.get("/orders/live?since=0", headers=hx(second_client))
    assert re.search(r'id="tab-count-all" hx-swap-oob="true">0<', live.text) and "new order" not in live.text
    fresh = await second_client.get("/orders/fresh?since=0", headers=hx(second_client))
    assert shown(fresh.text) == []
    tag = await second_client.post("/orders/bulk/tag", headers=hx(second_client),
                                   data={"ids": [ids["W-1"], ids["W-2"]], "tags": "stolen"})
    assert "0 orders done" in text_of(tag.text) and "2 skipped" in text_of(tag.text)
    await second_client.post("/orders/bulk/tag", headers=hx(second_client), data={"scope": "all", "tags": "stolen"})
    cancel = await second_client.post("/orders/bulk/cancel", headers=hx(second_client),
                                      data={"ids": [ids["W-1"]], "reason": "x"})
    assert cancel.status_code == 200
    assert await db.fetchval("SELECT count(*) FROM sales_order WHERE 'stolen' = ANY(tags) OR status = 'cancelled'") == 0
    export = await second_client.post("/orders/export", data=form(second_client, ids=[str(ids["W-1"])]))
    assert len(csv_rows(export.text)) == 0


async def test_a_role_without_orders_manage_cannot_run_bulk_actions(app, client, second_client, shop, users):
    finance = await users.make("finance", merchant=shop["merchant"])
    await sign_in(second_client, finance)
    page = (await second_client.get("/orders")).text
    assert "Add tags" not in page and "Cancel orders" not in page and "Export CSV" in page
    ids = shop["ids"]
    for action, extra in (("tag", {"tags": "x"}), ("note", {"body": "x"}), ("cancel", {"reason": "x"})):
        response = await second_client.post(f"/orders/bulk/{action}", headers=hx(second_client),
                                            data={"ids": [ids["W-1"]], **extra})
        assert response.status_code == 403, action
        assert "does not include the permission" in text_of(response.text)
    assert await db.fetchval("SELECT count(*) FROM order_note") == 0
    assert await db.fetchval("SELECT count(*) FROM sales_order WHERE tags <> '{}' OR status = 'cancelled'") == 0
    # read-only partners may not export either
    partner = await users.make("partner_readonly", merchant=shop["merchant"])
    async with await new_client(app) as third:
        await sign_in(third, partner)
        assert "Export CSV" not in (await third.get("/orders")).text
        denied = await third.post("/orders/export", data=form(third, scope="all"))
        assert denied.status_code == 403


async def test_phone_is_masked_for_a_role_without_pii(client, second_client, shop, users):
    finance = await users.make("finance", merchant=shop["merchant"])
    await sign_in(second_client, finance)
    rows = rows_text((await second_client.get("/orders")).text, "order-rows")
    assert "+86*******1111" in rows and "13800001111" not in rows
    export = await second_client.post("/orders/export", data=form(second_client, ids=[str(shop["ids"]["W-1"])]))
    assert csv_rows(export.text)[0]["receiver_phone"] == "+86*******1111"
    assert "+8613800001111" in rows_text((await client.get("/orders")).text, "order-rows")


async def test_bulk_posts_need_the_csrf_token(client, shop):
    ids = shop["ids"]
    for path, data in (("/orders/bulk/tag", {"ids": ids["W-1"], "tags": "x"}),
                       ("/orders/bulk/cancel", {"ids": ids["W-1"], "reason": "x"}),
                       ("/orders/views", {"name": "v", "query": ""}),
                       ("/orders/export", {"scope": "all"})):
        response = await client.post(path, data=data, headers={"HX-Request": "true"})
        assert response.status_code == 403, path
        bad = await client.post(path, data={**data, "_csrf": "forged"})
        assert bad.status_code == 403, path
    assert await db.fetchval("SELECT count(*) FROM sales_order WHERE tags <> '{}' OR status = 'cancelled'") == 0
    assert await db.fetchval("SELECT count(*) FROM saved_view") == 0


async def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = await client.get("/orders?status=ready")
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Forders%3Fstatus%3Dready"


async def test_page_in_chinese(client, shop):
    await db.execute("UPDATE app_user SET language = 'zh' WHERE id = $1", shop["admin"]["id"])
    page = await client.get("/orders")
    text = text_of(page.text)
    assert "订单" in text and "待审核" in text and "保存视图" in text
