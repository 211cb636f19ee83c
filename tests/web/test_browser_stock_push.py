"""In a real Chromium: receive stock through the /inventory form, then watch the channel's stock page
show the quantity the worker pushed to the platform (the table polls) — against a Shopify sandbox over
real HTTP and a real arq worker. Screenshots in test-artifacts/browser/."""
from __future__ import annotations

import asyncio
import re

import pytest

from server.app import create_app
from server.core import db
from server.inventory import channel_stock as cs
from server.inventory import service as inventory
from tests.api.test_stock_push import platform_shop, running_worker
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser


async def shows(cell, quantity: int, timeout: float = 20.0) -> None:
    """Wait until the cell (re-found after each htmx poll) shows the quantity."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        text = await cell.inner_text() if await cell.count() else ""
        if re.search(rf"\b{quantity}\b", text):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the page shows {text!r}, not {quantity}")
        await asyncio.sleep(0.2)


async def test_receive_stock_and_see_the_pushed_quantity_change(browser, users, merchant, shots):  # noqa: F811
    admin = await users.make("admin", merchant=merchant, email="stock.lead@example.com")
    async with platform_shop(merchant, "shopify") as (actor, ch, sandbox, _sandbox_base):
        await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
        page_rows = (await cs.list_listings(actor, ch["id"], first=200)).items
        listing = next(r for r in page_rows if r["sku_code"] == "POT-YX-300") if any(
            r["sku_code"] == "POT-YX-300" for r in page_rows) else next(r for r in page_rows if r["sku_code"])
        code = listing["sku_code"]
        await cs.update_policy(actor, ch["id"], {"mode": "pool", "buffer": 1})
        item = str(sandbox.products[code]["inventory_item_id"])
        async with running_worker(), live_server(create_app()) as base:
            context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{base}/login?next=/channels/{ch['id']}/stock")
            await page.fill("#f-email", admin["email"])
            await page.fill("#f-password", admin["password"])
            await page.click("button[type=submit].btn-primary")
            await page.wait_for_url(f"{base}/channels/{ch['id']}/stock")
            row = page.locator(f"#stock-listing-{listing['id']}")
            # the policy change already pushed what there was: nothing in stock yet
            await row.locator("text=Pushed").wait_for(timeout=10_000)
            assert (await row.locator("[data-pushed] strong").inner_text()).strip() == "0"
            await page.screenshot(path=str(shots / "stock-01-before.png"), full_page=True)

            # receive 25 units on the /inventory form in a second tab; this tab is not reloaded
            other = await context.new_page()
            await other.goto(f"{base}/inventory")
            await other.click("#stock-receive summary")
            await other.select_option("#stock-receive select[name=warehouse]", "SZ")
            await other.fill("#stock-receive input[name=sku]", code)
            await other.fill("#stock-receive input[name=quantity]", "25")
            await other.fill("#stock-receive input[name=reference]", "PO-7001")
            await other.click("#stock-receive button[type=submit]")
            await other.wait_for_selector("#stock-received")
            await other.close()

            # the channel's page shows the pushed quantity by itself (the table polls)
            expected = (await cs.list_listings(actor, ch["id"], listing_ids=[listing["id"]], first=1)).items[0]["sellable"]
            assert expected is not None and expected > 0
            pushed = page.locator(f"#stock-listing-{listing['id']} [data-pushed]")
            await shows(pushed, expected)
            assert sandbox.inventory[item] == expected
            await page.screenshot(path=str(shots / "stock-02-pushed.png"), full_page=True)

            # the policy form: a bad value gets a clear error; a good one re-pushes a smaller quantity
            await page.fill("#stock-policy input[name=buffer]", "-4")
            await page.click("#stock-policy button[type=submit]")
            await page.wait_for_selector("#stock-policy .field-error")
            assert "Enter a whole number, 0 or more." in await page.inner_text("#stock-policy")
            await page.select_option("#stock-policy select[name=mode]", "quota")
            await page.fill("#stock-policy input[name=quota]", "3")
            await page.fill("#stock-policy input[name=buffer]", "0")
            await page.click("#stock-policy button[type=submit]")
            await page.wait_for_selector("#stock-policy-saved")
            await shows(pushed, 3)
            assert sandbox.inventory[item] == 3
            await page.screenshot(path=str(shots / "stock-03-quota.png"), full_page=True)

            # a per-listing override: its own fixed quota of 2
            await row.locator("text=Override").click()
            await page.wait_for_url(f"{base}/channels/{ch['id']}/stock/listings/{listing['id']}")
            await page.select_option("#stock-policy select[name=mode]", "quota")
            await page.fill("#stock-policy input[name=quota]", "2")
            await page.screenshot(path=str(shots / "stock-04-override.png"), full_page=True)
            await page.click("#stock-policy button[type=submit]")
            await page.wait_for_url(f"{base}/channels/{ch['id']}/stock")
            assert "Own policy" in await row.inner_text()
            await shows(pushed, 2)
            assert sandbox.inventory[item] == 2
            await page.goto(f"{base}/channels/stock")
            assert ch["name"] in await page.inner_text("main")
            await page.screenshot(path=str(shots / "stock-05-overview.png"), full_page=True)
            assert errors == []
            await context.close()
    assert await db.fetchval("SELECT last_pushed_qty FROM listing_stock_push WHERE listing_id = $1", listing["id"]) == 2
