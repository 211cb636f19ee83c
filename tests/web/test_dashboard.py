"""The dashboard: today's orders and sales per channel (SVG chart) computed from real orders, orders
waiting per status linking into the order list, channel sync health with failing channels first."""
from __future__ import annotations

import re
from datetime import timedelta

from server.catalog import service as catalog
from server.channels import service as channels
from server.core import clock, db
from server.core.actor import system
from server.orders import service as orders
from server.orders.service import LineInput, OrderInput, ReceiverInput
from tests.web.conftest import hx, sign_in, text_of


def an_order(channel: dict, ext: str, qty: int, price: str, **kw) -> OrderInput:
    return OrderInput(channel=str(channel["id"]), external_id=ext, lines=[LineInput(sku="TEA-1", quantity=qty,
                                                                                    unit_price=price)],
                      receiver=ReceiverInput(name="李四", phone="13900001111", province="浙江省", city="杭州市",
                                             district="西湖区", address="文三路 1 号"), shipping_fee="10", **kw)


def chart_figures(html: str) -> dict[int, tuple[int, int]]:
    """{channel id: (orders, sales minor)} as the chart's bars carry them."""
    out = {}
    for m in re.finditer(r'<g class="bar-row" data-channel="(\d+)">(.*?)</g>', html, flags=re.S):
        orders_n = int(re.search(r'data-orders="(\d+)"', m.group(2)).group(1))
        sales = int(re.search(r'data-sales="(\d+)"', m.group(2)).group(1))
        out[int(m.group(1))] = (orders_n, sales)
    return out


async def test_chart_shows_todays_orders_and_sales_per_channel(client, users, other_merchant):
    admin = await users.make("admin")
    actor = admin["actor"]
    await catalog.create_sku(actor, {"code": "TEA-1", "name": "Tea", "list_price": "100"})
    web = await channels.create_channel(actor, platform="website", name="Web shop")
    pos = await channels.create_channel(actor, platform="pos", name="Store 门店")
    idle = await channels.create_channel(actor, platform="website", name="Idle shop")
    a, _ = await orders.create_order(actor, an_order(web, "W1", 2, "100.00"))        # 200 + 10 shipping
    b, _ = await orders.create_order(actor, an_order(web, "W2", 1, "55.50"))         # 55.50 + 10
    c, _ = await orders.create_order(actor, an_order(pos, "P1", 3, "20.00"))         # 60 + 10
    cancelled, _ = await orders.create_order(actor, an_order(pos, "P2", 1, "999.00"))
    await orders.cancel_order(actor, cancelled["id"], "buyer asked")
    await orders.create_order(actor, an_order(web, "OLD", 1, "500.00", placed_at=clock.now() - timedelta(days=3)))
    # another merchant's orders never show
    theirs = system(other_merchant["id"], "t")
    await catalog.create_sku(theirs, {"code": "TEA-1", "name": "Tea", "list_price": "100"})
    their_web = await channels.create_channel(theirs, platform="website", name="Their web")
    await orders.create_order(theirs, an_order(their_web, "T1", 5, "100.00"))

    assert (a["total"], b["total"], c["total"]) == (21000, 6550, 7000)
    await sign_in(client, admin)
    page = await client.get("/")
    assert page.status_code == 200 and "<html" in page.text
    figures = chart_figures(page.text)
    assert figures == {web["id"]: (2, 21000 + 6550), pos["id"]: (1, 7000), idle["id"]: (0, 0)}
    text = text_of(page.text.split('id="today-chart"')[1].split("</section>")[0])
    assert "2 orders" in text and "1 order" in text and "0 orders" in text
    assert "¥275.50" in text and "¥70.00" in text  # the merchant's currency, formatted for the reader
    assert re.search(r'id="total-orders">3<', page.text) and re.search(r'id="total-sales">[^<]*345\.50<', page.text)
    assert "Their web" not in page.text
    # accessible: the svg is labelled and the figures are in a table for screen readers
    assert 'role="img"' in page.text and "<title id=\"chart-title\">" in page.text and 'id="today-table"' in page.text
    # htmx refresh answers only the panels
    panels = await client.get("/", headers=hx(client))
    assert panels.status_code == 200 and "<html" not in panels.text and chart_figures(panels.text) == figures


async def test_chart_formats_money_for_chinese_readers(client, users):
    admin = await users.make("admin")
    actor = admin["actor"]
    await catalog.create_sku(actor, {"code": "TEA-1", "name": "Tea", "list_price": "100"})
    web = await channels.create_channel(actor, platform="website", name="Web shop")
    await orders.create_order(actor, an_order(web, "W1", 12, "1000.00"))
    await db.execute("UPDATE app_user SET language = 'zh' WHERE id = $1", admin["id"])
    await sign_in(client, admin)
    page = await client.get("/")
    assert "¥12,010.00" in page.text and "今日" in page.text


async def test_waiting_counts_link_into_the_order_list(client, users):
    admin = await users.make("admin")
    actor = admin["actor"]
    await catalog.create_sku(actor, {"code": "TEA-1", "name": "Tea", "list_price": "100"})
    web = await channels.create_channel(actor, platform="website", name="Web shop")
    for i in range(3):
        await orders.create_order(actor, an_order(web, f"W{i}", 1, "10.00"))
    await orders.create_order(actor, an_order(web, "U1", 1, "10.00", paid=False))
    expected = {r["status"]: r["n"] for r in await db.fetch(
        "SELECT status, count(*) AS n FROM sales_order GROUP BY status")}
    assert sum(expected.values()) == 4 and expected.get("pending_payment") == 1
    await sign_in(client, admin)
    page = await client.get("/")
    panel = page.text.split('id="waiting-orders"')[1].split("</section>")[0]
    shown = {m.group(1): int(m.group(2)) for m in re.finditer(
        r'href="/orders\?status=(\w+)"[^>]*>.*?class="waiting-count">(\d+)<', panel, flags=re.S)}
    assert set(shown) == {"pending_payment", "awaiting_review", "on_hold", "ready", "in_fulfillment", "partially_shipped"}
    for status, n in shown.items():
        assert n == expected.get(status, 0), status
    assert sum(shown.values()) == 4


async def test_sync_health_puts_failing_channels_first(client, users):
    admin = await users.make("admin")
    actor = admin["actor"]
    await channels.create_channel(actor, platform="website", name="A healthy web shop")
    broken = await channels.create_channel(actor, platform="shopify", name="Zed Shopify", config={
        "shop_domain": "x.myshopify.com", "access_token": "shpat_x", "client_secret": "s",
        "api_base_url": "http://127.0.0.1:9/sandbox/shopify"})
    for _ in range(3):  # nothing listens there: three failures in a row -> failing, with backoff
        result = await channels.run_sync(broken["id"])
        assert result.get("error")
    assert await db.fetchval("SELECT status FROM channel WHERE id = $1", broken["id"]) == "failing"
    await sign_in(client, admin)
    page = await client.get("/")
    panel = page.text.split('id="channel-health-panel"')[1].split("</section>")[0]
    names = re.findall(r'<span class="health-name">\s*([^<]+?)\s*<', panel)
    assert names[0] == "Zed Shopify" and "A healthy web shop" in names
    assert f'href="/channels/{broken["id"]}"' in panel and "is-failing" in panel and "Failing" in panel


async def test_panels_follow_the_role(client, users):
    warehouse = await users.make("warehouse")  # orders.view, no channels.view
    await sign_in(client, warehouse)
    page = await client.get("/")
    assert 'id="waiting-orders"' in page.text and 'id="channel-health-panel"' not in page.text
    assert 'id="dashboard-alerts"' in page.text  # the spot other areas' badges go into
