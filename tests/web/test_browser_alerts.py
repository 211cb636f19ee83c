"""Stock alerts in a real Chromium: create a rule with a validation error first, see the alert it
opens, acknowledge it in bulk, and read the captured mail in the dev mailbox. Screenshots go to
test-artifacts/browser/."""
from __future__ import annotations

import pytest

from server.app import create_app
from server.core import db
from tests.service.test_stock_alerts import world
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser


async def test_rule_alert_acknowledge_and_mailbox_in_a_real_browser(browser, users, shots):  # noqa: F811
    admin = await users.make("admin", email="wang.wei@example.com")
    await world(admin["merchant"])

    async with live_server(create_app()) as base:
        context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{base}/login?next=/alerts/rules")
        await page.fill("#f-email", admin["email"])
        await page.fill("#f-password", admin["password"])
        await page.click("button[type=submit].btn-primary")
        await page.wait_for_url(f"{base}/alerts/rules")

        # a rule with a bad threshold is refused in place, what was typed kept
        await page.click("#rule-create summary")
        await page.fill("#rule-create input[name=sku]", "CUP")
        await page.fill("#rule-create input[name=threshold]", "-1")
        await page.click("#rule-create button[type=submit]")
        await page.wait_for_selector("#rule-create .field-error")
        assert "0 or more" in await page.inner_text("#rule-create .field-error")
        await page.screenshot(path=str(shots / "alerts-01-rule-error.png"), full_page=True)
        await page.fill("#rule-create input[name=threshold]", "5")
        await page.fill("#rule-create input[name=name]", "Cups running out")
        await page.click("#rule-create button[type=submit]")
        await page.wait_for_selector("#rule-created")
        await page.wait_for_function("() => document.querySelector('#rule-rows').innerText.includes('Cups running out')")
        await page.screenshot(path=str(shots / "alerts-02-rules.png"), full_page=True)

        # the alert it opened (3 cups <= 5), acknowledged in bulk
        await page.goto(f"{base}/alerts")
        row = page.locator("#alert-rows tr", has_text="CUP")
        assert "Open" in await row.inner_text()
        await page.check("#alert-rows input[name=ids]")
        await page.screenshot(path=str(shots / "alerts-03-list.png"), full_page=True)
        await page.click("#alert-bulk button[hx-post]")
        await page.wait_for_selector("#alert-notice")
        assert "1 alerts acknowledged." in await page.inner_text("#alert-notice")
        assert "Acknowledged" in await page.locator("#alert-rows tr", has_text="CUP").inner_text()
        assert await db.fetchval("SELECT status FROM stock_alert") == "acknowledged"

        # the alert's mail, captured in dev
        from server.inventory import alerts

        await alerts.notify(await db.fetchval("SELECT id FROM stock_alert"))
        await page.goto(f"{base}/dev/mail")
        await page.click("#mail-rows a")
        await page.wait_for_selector(".mail-text")
        assert "Available: 3" in await page.inner_text(".mail-text")
        await page.screenshot(path=str(shots / "alerts-04-mail.png"), full_page=True)
        assert errors == []
        await context.close()
