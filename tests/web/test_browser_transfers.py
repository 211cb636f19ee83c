"""Transfers in a real Chromium: create a draft with the form (adding a line), ship it, receive part of
it and then the rest, and accept a suggestion with one click. Screenshots go to test-artifacts/browser/."""
from __future__ import annotations

import pytest

from server.app import create_app
from server.catalog import service as catalog
from server.channels import service as channels
from server.core.actor import system
from server.inventory import service as inventory
from server.orders.service import LineInput, OrderInput, ReceiverInput, create_order
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser


async def seed(merchant: dict):
    actor = system(merchant["id"], "seed")
    for code, name in (("TEA-LJ-250", "西湖龙井 250g"), ("CUP-CER-01", "Ceramic tea cup")):
        await catalog.create_sku(actor, {"code": code, "name": name})
    await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen DC", "priority": 10})
    await inventory.create_warehouse(actor, {"code": "HZ", "name": "Hangzhou", "priority": 20})
    await inventory.receive(actor, "SZ", "TEA-LJ-250", 40, "PO-1001")
    await inventory.receive(actor, "SZ", "CUP-CER-01", 12, "PO-1001")
    return actor


async def test_transfer_flow_in_a_real_browser(browser, users, shots):  # noqa: F811
    admin = await users.make("admin", email="wang.wu@example.com")
    actor = await seed(admin["merchant"])

    async with live_server(create_app()) as base:
        context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        await page.goto(f"{base}/login?next=/transfers/new")
        await page.fill("#f-email", admin["email"])
        await page.fill("#f-password", admin["password"])
        await page.click("button[type=submit].btn-primary")
        await page.wait_for_url(f"{base}/transfers/new")

        await page.select_option("#f-from_warehouse", "SZ")
        await page.select_option("#f-to_warehouse", "HZ")
        for _ in range(2):      # two more line rows through htmx
            await page.click("text=Add a line")
        await page.wait_for_function("() => document.querySelectorAll('#transfer-form-lines tr').length === 7")
        skus = page.locator("#transfer-form-lines input[name=sku]")
        qtys = page.locator("#transfer-form-lines input[name=quantity]")
        await skus.nth(0).fill("TEA-LJ-250")
        await qtys.nth(0).fill("10")
        await skus.nth(6).fill("CUP-CER-01")
        await qtys.nth(6).fill("4")
        await page.screenshot(path=str(shots / "tr-01-form.png"), full_page=True)
        await page.click("#transfer-form button[type=submit]")
        await page.wait_for_url(f"{base}/transfers/*")
        assert "Draft" in await page.inner_text("#transfer-detail h1")

        await page.click("text=Ship now")
        await page.wait_for_selector("#transfer-lines input[name='qty-TEA-LJ-250']")
        assert "Shipped" in await page.inner_text("#transfer-detail h1")
        assert (await inventory.get_level(actor, "HZ", "TEA-LJ-250"))["incoming"] == 10
        await page.fill("#transfer-lines input[name='qty-TEA-LJ-250']", "6")
        await page.fill("#transfer-lines input[name='qty-CUP-CER-01']", "0")
        await page.click("text=Record receipt")
        await page.wait_for_function(
            "() => document.querySelector('#transfer-detail h1').innerText.includes('Partially received')")
        await page.screenshot(path=str(shots / "tr-02-partial.png"), full_page=True)
        await page.click("text=Record receipt")          # the rest, as prefilled
        await page.wait_for_function(
            "() => document.querySelector('#transfer-detail h1').innerText.includes('Received')"
            " && !document.querySelector('#transfer-lines input')")
        level = await inventory.get_level(actor, "HZ", "TEA-LJ-250")
        assert (level["on_hand"], level["incoming"]) == (10, 0)

        # demand at HZ beyond its stock: a suggestion, created with one click
        await channels.create_channel(actor, platform="website", name="Web")
        for i in range(14):
            await create_order(actor, OrderInput(channel="Web", external_id=f"B{i}",
                                                 lines=[LineInput(sku="TEA-LJ-250", quantity=1)],
                                                 receiver=ReceiverInput(name="买家")))
        await page.goto(f"{base}/transfers/suggestions")
        card = page.locator(".suggestion[data-from='SZ'][data-to='HZ']")
        assert "TEA-LJ-250" in await card.inner_text()
        await page.screenshot(path=str(shots / "tr-03-suggestions.png"), full_page=True)
        await card.locator("text=Create this transfer").click()
        await page.wait_for_url(f"{base}/transfers/*")
        assert "created as a draft from the suggestion" in await page.inner_text("body")

        await page.goto(f"{base}/transfers")
        assert await page.locator("#transfer-rows tr").count() == 2
        await page.screenshot(path=str(shots / "tr-04-list.png"), full_page=True)
        assert errors == []
        await context.close()
