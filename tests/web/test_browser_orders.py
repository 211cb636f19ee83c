"""The order list in a real Chromium: filter, select rows and "all matching", bulk-tag, watch a new
order arrive without losing the selection. Screenshots go to test-artifacts/browser/."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from server.app import create_app
from server.core import db
from server.orders import ingest
from tests.support.live_server import live_server
from tests.support.orders import fetched, later, line, order
from tests.web.test_orders_list import seed

pytestmark = pytest.mark.browser


async def more_orders(shop: dict) -> None:
    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", shop["web"]["id"]))
    people = [("陈晨", "上海市", "上海市", "黄浦区"), ("刘洋", "广东省", "广州市", "越秀区"), ("Emily Clark", "广东省", "深圳市", "福田区"),
              ("孙丽", "四川省", "成都市", "武侯区"), ("周杰", "广东省", "东莞市", "南城区"), ("吴敏", "江苏省", "南京市", "鼓楼区")]
    batch = []
    for i, (name, province, city, district) in enumerate(people):
        o = order(f"WEB-{1001 + i}", placed=later(10 + i), phone=f"1390000{i:04d}", buyer_id=f"x{i}",
                  province=province, city=city, district=district,
                  lines=[line("TEA-LJ-250", 1 + i % 3, 16800), line("CUP-CER-01", 1, 4550)])
        o.buyer.name = o.receiver.name = name
        batch.append(fetched(o))
    await ingest.ingest(ch, batch, source="pull")


async def test_filter_select_and_bulk_tag_in_a_real_browser(browser, users, shots):  # noqa: F811
    admin = await users.make("admin", email="li.na@example.com")
    shop = await seed(admin["merchant"])
    await more_orders(shop)

    async with live_server(create_app()) as base:
        context = await browser.new_context(viewport={"width": 1440, "height": 960}, locale="en-US")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())

        await page.goto(f"{base}/orders")
        await page.fill("#f-email", admin["email"])
        await page.fill("#f-password", admin["password"])
        await page.click("button[type=submit].btn-primary")
        await page.wait_for_url(f"{base}/orders")
        await page.wait_for_selector("#tab-count-all:has-text('12')")  # live counts arrive after the page
        await page.screenshot(path=str(shots / "20-orders.png"), full_page=True)

        # filter: a status tab, then a province under "More filters"; the address bar follows
        await page.click("label.order-tab:has-text('Awaiting review')")
        await page.wait_for_url("**/orders?status=awaiting_review")
        await page.click(".more-filters > summary")
        await page.fill("#f-province", "广东省")
        await page.press("#f-province", "Enter")
        await page.wait_for_url("**/orders?status=awaiting_review&province=*")
        await page.wait_for_function("document.querySelectorAll('#order-rows [data-order-check]').length === 6")
        texts = await page.locator("#order-rows").inner_text()
        assert "浙江省" not in texts and "北京市" not in texts and "Shipped" not in texts
        await page.wait_for_selector("#order-total:has-text('6')", state="attached")

        # select two rows, tag them
        boxes = page.locator("#order-rows [data-order-check]")
        await boxes.nth(0).check()
        await boxes.nth(1).check()
        assert (await page.inner_text("[data-bulk-count]")).strip() == "2 selected"
        first_two = [int(await boxes.nth(i).get_attribute("value")) for i in range(2)]
        await page.click("summary:has-text('Add tags')")
        await page.fill("#bulk-tags", "VIP, call-first")
        await page.click(".bulk-pop button:has-text('Add tags')")
        await page.wait_for_selector("#bulk-result >> text=2 orders done")
        await page.wait_for_selector("#order-rows .badge-tag:has-text('vip')")
        tagged = await db.fetch("SELECT id FROM sales_order WHERE tags @> '{vip,call-first}' ORDER BY id")
        assert [r["id"] for r in tagged] == sorted(first_two)
        await page.screenshot(path=str(shots / "21-orders-tagged.png"), full_page=True)

        # select the page, then every matching order (the filter goes up, not the ids)
        await page.check("[data-select-page]")
        await page.click("[data-select-all]")
        assert "All 6 matching orders selected" in await page.inner_text("[data-bulk-count]")
        await page.click("summary:has-text('Add tags')")
        await page.fill("#bulk-tags", "south")
        await page.click(".bulk-pop button:has-text('Add tags')")
        await page.wait_for_selector("#bulk-result >> text=6 orders done")
        assert await db.fetchval("SELECT count(*) FROM sales_order WHERE 'south' = ANY(tags)") == 6
        await page.wait_for_function("document.querySelectorAll('#order-rows .badge-tag').length >= 8")
        assert (await page.inner_text("[data-bulk-count]")).strip() == "No orders selected"

        # a new order arrives: a banner offers it; showing it keeps the checked rows checked
        await boxes.nth(2).check()
        kept = await boxes.nth(2).get_attribute("value")
        ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", shop["web"]["id"]))
        fresh = order("WEB-NEW", placed=later(-30), phone="13911112222", buyer_id="new")
        fresh.buyer.name = fresh.receiver.name = "新客户"
        await ingest.ingest(ch, [fetched(fresh)], source="webhook")
        await page.wait_for_selector(".live-banner >> text=1 new order", timeout=25_000)
        await page.wait_for_selector("#order-total:has-text('7')", state="attached")
        await page.screenshot(path=str(shots / "22-orders-new-banner.png"), full_page=True)
        await page.click(".live-banner button")
        await page.wait_for_selector("#order-rows tr.row-new >> text=新客户")
        assert await page.is_checked(f"#order-rows [data-order-check][value='{kept}']")
        assert (await page.inner_text("[data-bulk-count]")).strip() == "1 selected"
        assert await page.locator(".live-banner").count() == 0

        # export the selection: streamed, with progress, saved as a file
        async with page.expect_download() as download_info:
            await page.click("[data-export]")
        download = await download_info.value
        assert download.suggested_filename.startswith("orders-") and download.suggested_filename.endswith(".csv")
        saved = await download.path()
        body = (await asyncio.to_thread(Path(saved).read_text, encoding="utf-8-sig")).splitlines()
        assert len(body) == 2 and body[0].startswith("order_number,") and "WEB-1002" in body[1]
        await page.wait_for_selector("[data-export-progress] >> text=Export ready")

        # a saved view shows up as a quick link
        await page.fill("#view-name", "Guangdong to review")
        await page.click("#view-save button")
        await page.wait_for_selector("#saved-views a:has-text('Guangdong to review')")
        await page.screenshot(path=str(shots / "23-orders-final.png"), full_page=True)

        # the same page in Chinese
        await page.click(".topbar .lang-switch button[value=zh]")
        await page.wait_for_selector("h1:has-text('订单')")
        await page.wait_for_selector("#tab-count-all:has-text('13')")
        await page.screenshot(path=str(shots / "24-orders-zh.png"), full_page=True)
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

        # a narrow screen: nothing sticks out of the window (the table scrolls inside its card)
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.goto(f"{base}/orders?status=awaiting_review")
        await page.wait_for_selector("#tab-count-awaiting_review:has-text('11')")
        await page.check("#order-rows [data-order-check] >> nth=0")
        await page.click("summary:has-text('添加标签')")
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        await page.screenshot(path=str(shots / "25-orders-mobile.png"), full_page=True)
        await context.close()
        assert not errors, errors
