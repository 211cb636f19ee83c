"""Channels, catalog and dashboard in a real Chromium (Playwright) against the real app over HTTP,
with a Shopify sandbox as the platform. One screenshot per main page in test-artifacts/browser/."""
from __future__ import annotations

from datetime import timedelta

import pytest
from litestar import Litestar

from server.app import create_app
from server.catalog import service as catalog
from server.channels import service as channels
from server.channels.sandbox.base import DEMO_SKUS
from server.channels.sandbox.shopify import Sandbox as ShopifySandbox
from server.core import clock, db
from server.orders import service as orders
from server.orders.service import LineInput, OrderInput, ReceiverInput
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser


async def seed(actor) -> dict:
    # half the sandbox's SKUs are in the catalogue: the other half arrive as unmatched listings
    for sku in DEMO_SKUS[: max(1, len(DEMO_SKUS) // 2)]:
        await catalog.create_sku(actor, {"code": sku.code, "name": sku.title_en, "list_price": sku.price_cny,
                                         "cost": str(round(float(sku.price_cny) * 0.4, 2)), "category": "Demo",
                                         "weight_g": "350"})
    await catalog.create_sku(actor, {"code": "GIFT-BOX-01", "name": "礼盒 Gift box", "spec": "红色 / 大号",
                                     "barcode": "6901234567892", "list_price": "39.90", "cost": "12.00",
                                     "category": "Packaging", "weight_g": "220"})
    web = await channels.create_channel(actor, platform="website", name="官网商城 Web store")
    await channels.create_channel(actor, platform="pos", name="Shanghai flagship store")
    jd = await channels.create_channel(actor, platform="jd", name="京东自营店", config={
        "app_key": "jd-app", "app_secret": "jd-secret-123456", "access_token": "jd-token-abcdef",
        "api_base_url": "http://127.0.0.1:9/routerjson"})
    for _ in range(3):  # nothing listens there: it fails and backs off
        await channels.run_sync(jd["id"])
    code = DEMO_SKUS[0].code
    for i, qty in enumerate((2, 1, 3, 1)):
        await orders.create_order(actor, OrderInput(
            channel=str(web["id"]), external_id=f"WEB-{i}", lines=[LineInput(sku=code, quantity=qty)],
            receiver=ReceiverInput(name="王芳", phone="13800138000", province="上海市", city="上海市",
                                   district="浦东新区", address="世纪大道 100 号"), shipping_fee="8"))
    return {"web": web, "jd": jd}


async def test_channels_catalog_dashboard_in_a_real_browser(browser, client, users, shots):
    admin = await users.make("admin", email="li.na@example.com")
    await seed(admin["actor"])
    sandbox = ShopifySandbox(seed=5)
    async with live_server(Litestar(route_handlers=[sandbox.router()])) as sandbox_base, \
            live_server(create_app()) as base:
        context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())

        await page.goto(f"{base}/login?next=/channels")
        await page.fill("#f-email", admin["email"])
        await page.fill("#f-password", admin["password"])
        await page.click("button[type=submit].btn-primary")
        await page.wait_for_url(f"{base}/channels")

        # add a Shopify channel: pick the platform, its form arrives through htmx
        await page.click("text=Add a channel")
        await page.wait_for_url(f"{base}/channels/new")
        await page.click("a.platform-card[data-platform=shopify]")
        await page.wait_for_selector("#f-cfg_shop_domain")
        assert await page.get_attribute("#f-cfg_access_token", "type") == "password"
        await page.fill("#f-name", "Shopify Global")
        await page.fill("#f-cfg_shop_domain", sandbox.credentials["shop_domain"])
        await page.fill("#f-cfg_access_token", sandbox.credentials["access_token"])
        await page.fill("#f-cfg_client_secret", sandbox.credentials["client_secret"])
        await page.fill("#f-cfg_api_base_url", sandbox_base + "/sandbox/shopify")
        await page.evaluate("window.scrollTo(0, 0)")
        await page.screenshot(path=str(shots / "ch-01-new-channel.png"), full_page=True)
        await page.click("#channel-form button[type=submit]")
        await page.wait_for_selector("h2:has-text('Sync health')")
        channel_id = int(page.url.rsplit("/", 1)[1])
        assert sandbox.credentials["access_token"] not in await page.content()

        # test the connection, then pull the orders placed on the platform
        await page.click("#test-connection")
        await page.wait_for_selector("#test-result .alert-success")
        sandbox.set_now(clock.now() - timedelta(minutes=6))
        made = sandbox.generate(12)
        sandbox.set_now(None)
        await page.click("#sync-now")
        await page.wait_for_selector("#sync-result .alert-success")
        assert f"{len(made)} created" in await page.inner_text("#sync-result")
        await page.reload()
        await page.wait_for_selector("#sync-runs >> text=OK")
        await page.screenshot(path=str(shots / "ch-02-channel-detail.png"), full_page=True)

        await page.goto(f"{base}/channels")
        await page.wait_for_selector("tr.row-failing >> text=京东自营店")
        await page.screenshot(path=str(shots / "ch-03-channels.png"), full_page=True)

        # listings: match an unmatched platform SKU by code
        await page.goto(f"{base}/listings?unmatched=1")
        row = page.locator("#listing-rows tr").first
        await row.locator("input[name=sku]").fill("GIFT-BOX-01")
        await row.locator("button", has_text="Match").click()
        await page.wait_for_selector("#listing-rows tr.row-flash >> text=GIFT-BOX-01")
        await page.goto(f"{base}/listings")
        await page.screenshot(path=str(shots / "ch-04-listings.png"), full_page=True)

        # catalog: list with bulk selection, a SKU, the import preview with bad rows
        await page.goto(f"{base}/catalog")
        await page.check("[data-select-all=sku-bulk]")
        assert int(await page.inner_text("[data-selected-count=sku-bulk]")) >= 2
        await page.screenshot(path=str(shots / "ch-05-catalog.png"), full_page=True)
        await page.click("#sku-rows >> text=GIFT-BOX-01")
        await page.wait_for_selector("#f-code")
        await page.screenshot(path=str(shots / "ch-06-sku.png"), full_page=True)
        await page.goto(f"{base}/catalog/import")
        await page.set_input_files("#f-file", files=[{
            "name": "skus.csv", "mimeType": "text/csv",
            "buffer": "编码,名称,成本,售价\nNEW-1,新品,10,20\nBAD CODE,x,1,1\nNEW-2,,1,abc\n".encode()}])
        await page.click("#import-form button[type=submit]")
        await page.wait_for_selector("#import-errors")
        await page.screenshot(path=str(shots / "ch-07-import-preview.png"), full_page=True)

        # the dashboard: today's orders per channel, waiting orders, sync health
        await page.goto(f"{base}/")
        await page.wait_for_selector("#today-chart svg")
        assert await page.locator(f"#today-chart g[data-channel='{channel_id}']").count() == 1
        await page.screenshot(path=str(shots / "ch-08-dashboard.png"), full_page=True)
        await db.execute("UPDATE app_user SET language = 'zh' WHERE id = $1", admin["id"])
        await page.goto(f"{base}/")
        await page.wait_for_selector("text=今日各渠道")
        await page.screenshot(path=str(shots / "ch-09-dashboard-zh.png"), full_page=True)
        await page.goto(f"{base}/channels/{channel_id}")
        await page.screenshot(path=str(shots / "ch-10-channel-detail-zh.png"), full_page=True)
        await context.close()
        assert not errors, errors
