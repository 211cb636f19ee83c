"""The stock pages in a real Chromium: receive stock on /inventory and see the new available figure,
adjust on the SKU page, filter, and the warehouse pages. Screenshots go to test-artifacts/browser/."""
from __future__ import annotations

import pytest

from server.app import create_app
from server.catalog import service as catalog
from server.core import db
from server.core.actor import system
from server.inventory import service as inventory
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser


async def seed(merchant: dict) -> None:
    actor = system(merchant["id"], "seed")
    for code, name, category in (("TEA-LJ-250", "西湖龙井 250g", "tea"), ("TEA-PU-357", "Pu'er cake 357g", "tea"),
                                 ("CUP-CER-01", "Ceramic tea cup", "ware"), ("POT-YX-300", "Yixing clay pot", "ware")):
        await catalog.create_sku(actor, {"code": code, "name": name, "category": category})
    await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen DC", "priority": 10, "address": {
        "country_code": "CN", "province": "广东省", "city": "深圳市", "district": "南山区", "address": "科技园路1号"}})
    await inventory.create_warehouse(actor, {"code": "HZ", "name": "Hangzhou", "priority": 5, "address": {
        "province": "浙江省", "city": "杭州市", "district": "西湖区"}})
    await inventory.receive(actor, "SZ", "TEA-LJ-250", 10, "PO-1001")
    await inventory.receive(actor, "HZ", "TEA-LJ-250", 4, "PO-1002")
    await inventory.receive(actor, "HZ", "TEA-PU-357", 2)
    await inventory.receive(actor, "SZ", "CUP-CER-01", 30)


async def test_receive_and_adjust_stock_in_a_real_browser(browser, users, shots):  # noqa: F811
    admin = await users.make("admin", email="li.na@example.com")
    await seed(admin["merchant"])

    async with live_server(create_app()) as base:
        context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        await page.goto(f"{base}/login?next=/inventory")
        await page.fill("#f-email", admin["email"])
        await page.fill("#f-password", admin["password"])
        await page.click("button[type=submit].btn-primary")
        await page.wait_for_url(f"{base}/inventory")
        await page.screenshot(path=str(shots / "inv-01-stock.png"), full_page=True)

        # receive 6 pots into Hangzhou; the list refreshes through htmx and shows 6 available
        pot = page.locator("#stock-rows tr", has_text="POT-YX-300")
        assert (await pot.locator("td.num").nth(2).inner_text()).strip() == "0"
        await page.click("#stock-receive summary")
        await page.select_option("#stock-receive select[name=warehouse]", "HZ")
        await page.fill("#stock-receive input[name=sku]", "POT-YX-300")
        await page.fill("#stock-receive input[name=quantity]", "6")
        await page.fill("#stock-receive input[name=reference]", "PO-2001")
        await page.click("#stock-receive button[type=submit]")
        await page.wait_for_selector("#stock-received")
        assert "available 6" in await page.inner_text("#stock-received")
        await page.wait_for_function(
            "() => [...document.querySelectorAll('#stock-rows tr')].some(r => r.innerText.includes('POT-YX-300')"
            " && r.querySelectorAll('td.num')[2].innerText.trim() === '6')")
        await page.screenshot(path=str(shots / "inv-02-received.png"), full_page=True)

        # an unknown SKU is refused in place, with what was typed kept
        await page.fill("#stock-receive input[name=sku]", "NOPE-404")
        await page.fill("#stock-receive input[name=quantity]", "1")
        await page.click("#stock-receive button[type=submit]")
        await page.wait_for_selector("#stock-receive .field-error")
        assert "There is no SKU with the code NOPE-404." in await page.inner_text("#stock-receive .field-error")
        await page.screenshot(path=str(shots / "inv-03-receive-error.png"))

        # filters: out of stock, then low stock
        await page.check(".stock-filters input[name=out]")
        await page.wait_for_function("() => !document.querySelector('#stock-rows').innerText.includes('TEA-LJ-250')")
        assert "POT-YX-300" not in await page.inner_text("#stock-rows")
        await page.uncheck(".stock-filters input[name=out]")
        await page.fill(".stock-filters input[name=low]", "5")
        await page.wait_for_function("() => !document.querySelector('#stock-rows').innerText.includes('CUP-CER-01')")
        assert "TEA-PU-357" in await page.inner_text("#stock-rows")
        await page.screenshot(path=str(shots / "inv-04-low-stock.png"), full_page=True)

        # the SKU page: adjust at SZ and see the level and the ledger change
        await page.goto(f"{base}/inventory")
        await page.locator("#stock-rows a", has_text="TEA-LJ-250").click()
        await page.wait_for_selector("#sku-levels")
        assert (await page.inner_text("#sku-available")).strip() == "14"
        row = page.locator("#sku-levels tr", has_text="Shenzhen DC")
        await row.locator("summary").click()
        await page.screenshot(path=str(shots / "inv-05-sku-adjust-open.png"), full_page=True)
        await row.locator("input[name=delta]").fill("-3")
        await row.locator("form", has=page.locator("input[name=delta]")).locator("input[name=reason]").fill(
            "crushed in transit")
        await row.locator("button", has_text="Apply adjustment").click()
        await page.wait_for_selector("#adjust-done")
        assert "Adjusted at SZ: -3, 7 on hand, 7 available." in await page.inner_text("#adjust-done")
        await page.wait_for_selector("#movement-rows >> text=crushed in transit")
        await page.screenshot(path=str(shots / "inv-06-sku-adjusted.png"), full_page=True)
        assert await db.fetchval("SELECT on_hand FROM stock_level l JOIN warehouse w ON w.id = l.warehouse_id "
                                 "JOIN sku s ON s.id = l.sku_id WHERE w.code = 'SZ' AND s.code = 'TEA-LJ-250'") == 7

        # warehouses: list, then the edit page with region code and coordinates
        await page.click("nav >> text=Warehouses")
        await page.wait_for_url(f"{base}/warehouses")
        await page.screenshot(path=str(shots / "inv-07-warehouses.png"), full_page=True)
        await page.locator("#warehouse-rows a", has_text="SZ").first.click()
        await page.wait_for_selector("#warehouse-located")
        assert "440305" in await page.inner_text("#warehouse-located")
        await page.screenshot(path=str(shots / "inv-08-warehouse-edit.png"), full_page=True)
        await page.goto(f"{base}/warehouses/new")
        await page.fill("#f-code", "BJ 01")
        await page.click("#warehouse-form button[type=submit]")
        await page.wait_for_selector("#f-code-error")
        await page.screenshot(path=str(shots / "inv-09-warehouse-new-error.png"), full_page=True)

        # Chinese
        await page.goto(f"{base}/inventory")
        await page.click(".topbar .lang-switch button[value=zh]")
        await page.wait_for_selector("html[lang=zh-CN]")
        await page.screenshot(path=str(shots / "inv-10-stock-zh.png"), full_page=True)
        await page.locator("#stock-rows a", has_text="TEA-LJ-250").click()
        await page.wait_for_selector("#sku-levels")
        await page.screenshot(path=str(shots / "inv-11-sku-zh.png"), full_page=True)

        # a narrow screen
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.goto(f"{base}/inventory")
        await page.screenshot(path=str(shots / "inv-12-stock-mobile.png"), full_page=True)
        await context.close()
        assert not errors, errors
