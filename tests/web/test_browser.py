"""The main staff flows in a real Chromium (Playwright) against the real app served over HTTP.

Screenshots go to test-artifacts/browser/ (ignored by git) for people to look at.
"""
from __future__ import annotations

import pytest

from server.app import create_app
from server.core import db
from tests.support.live_server import live_server

pytestmark = pytest.mark.browser


async def test_staff_flow_in_a_real_browser(browser, client, users, shots):
    admin = await users.make("admin", email="mei.lin@example.com")
    await users.make("warehouse", merchant=admin["merchant"], email="wang.wei@example.com")
    pool_before = db.DB.pool

    async with live_server(create_app()) as base:
        context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())

        # anonymous -> the sign-in page, which brings us back afterwards
        await page.goto(f"{base}/users")
        assert "/login?next=%2Fusers" in page.url
        await page.screenshot(path=str(shots / "01-login.png"))
        await page.fill("#f-email", admin["email"])
        await page.fill("#f-password", "wrong-password-1")
        await page.click("button[type=submit].btn-primary")
        await page.wait_for_selector("#login-error")
        assert "Wrong email or password." in await page.inner_text("#login-error")
        await page.screenshot(path=str(shots / "02-login-error.png"))
        await page.fill("#f-password", admin["password"])
        await page.click("button[type=submit].btn-primary")
        await page.wait_for_url(f"{base}/users")
        assert await page.is_visible("text=Roles and permissions")

        # create a user; the generated password is shown once, the list refreshes through htmx
        await page.click("#user-create summary")
        await page.fill("#user-create #f-email", "zhao.min@example.com")
        await page.fill("#user-create #f-name", "Zhao Min")
        await page.select_option("#user-create #f-role", "customer_service")
        await page.click("#user-create button[type=submit]")
        await page.wait_for_selector("#user-created")
        password = (await page.inner_text("#user-created [data-secret]")).strip()
        assert len(password) >= 12
        await page.wait_for_selector("#user-list >> text=zhao.min@example.com")
        await page.screenshot(path=str(shots / "03-user-created.png"), full_page=True)

        # change a role inline (htmx swaps the row)
        row = page.locator("tr", has_text="wang.wei@example.com")
        await row.locator("select[name=role]").select_option("operations")
        await page.wait_for_selector("tr.row-flash >> text=wang.wei@example.com")
        assert await db.fetchval("SELECT role FROM app_user WHERE email = 'wang.wei@example.com'") == "operations"
        await page.locator("tr", has_text="wang.wei@example.com").locator("a", has_text="Open").click()
        await page.wait_for_selector("h2:has-text('Recent changes')")
        await page.screenshot(path=str(shots / "04-user-detail.png"), full_page=True)

        # an API key: full key once, then revoke it
        await page.click("nav >> text=API keys")
        await page.wait_for_url(f"{base}/api-keys")
        assert await page.get_attribute("#key-create", "open") is not None  # no keys yet: the form is open
        await page.fill("#key-create #f-name", "Website checkout")
        await page.click("#key-create button[type=submit]")
        await page.wait_for_selector("#key-created")
        full_key = (await page.inner_text("#key-created [data-secret]")).strip()
        assert full_key.startswith("oms_")
        await page.wait_for_selector("#key-list >> text=Website checkout")
        await page.screenshot(path=str(shots / "05-api-key-created.png"), full_page=True)
        await page.locator("#key-rows tr", has_text="Website checkout").locator("button", has_text="Revoke").click()
        await page.wait_for_selector("#key-rows >> text=Revoked")

        # the audit log shows what we did
        await page.click("nav >> text=Audit log")
        await page.wait_for_url(f"{base}/audit")
        assert await page.locator("#audit-rows", has_text="Revoked an API key").is_visible()
        await page.screenshot(path=str(shots / "06-audit.png"), full_page=True)

        # switch to Chinese from the header
        await page.click(".topbar .lang-switch button[value=zh]")
        await page.wait_for_selector("text=审计日志")
        assert await page.get_attribute("html", "lang") == "zh-CN"
        await page.screenshot(path=str(shots / "07-audit-zh.png"), full_page=True)
        await page.goto(f"{base}/")
        assert await page.is_visible("text=你的角色拥有的权限")
        await page.screenshot(path=str(shots / "08-dashboard-zh.png"), full_page=True)
        await page.goto(f"{base}/users")
        await page.screenshot(path=str(shots / "09-users-zh.png"), full_page=True)
        await page.goto(f"{base}/profile")
        await page.screenshot(path=str(shots / "10-profile-zh.png"), full_page=True)

        # a narrow screen keeps working
        await page.set_viewport_size({"width": 390, "height": 844})
        await page.goto(f"{base}/")
        await page.screenshot(path=str(shots / "11-dashboard-mobile.png"), full_page=True)
        await page.click(".nav-toggle-btn")
        await page.wait_for_timeout(300)
        await page.screenshot(path=str(shots / "12-menu-mobile.png"))
        await page.set_viewport_size({"width": 1366, "height": 900})

        # sign out; the sign-in page stays in Chinese
        await page.goto(f"{base}/")
        await page.click(".topbar button[title='退出登录']")
        await page.wait_for_url(f"{base}/login")
        assert await page.is_visible("text=你已退出登录。")
        assert await page.is_visible("h1:has-text('登录')")
        await page.screenshot(path=str(shots / "13-signed-out-zh.png"))
        await page.goto(f"{base}/users")
        assert "/login" in page.url

        # the new user signs in with the password shown once
        await page.fill("#f-email", "zhao.min@example.com")
        await page.fill("#f-password", password)
        await page.click("button[type=submit].btn-primary")
        await page.wait_for_url(f"{base}/users")
        assert await page.is_visible("text=Access denied") or await page.is_visible("text=无权访问")
        await page.screenshot(path=str(shots / "14-denied.png"))
        await context.close()
        assert not errors, errors

    # the live server shared this process's pool and left it open for the in-process app
    assert db.DB.pool is pool_before and pool_before is not None
    assert await db.fetchval("SELECT 1") == 1
    assert (await client.get("/login")).status_code == 200
