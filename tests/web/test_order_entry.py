"""Other ways in, through the pages: the staff order form (field errors, idempotent double submit,
htmx line rows) and the order CSV import (template, preview with bad rows by line, both commit modes,
the upload kept on the server between preview and import)."""
from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest

from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db
from server.core.actor import system
from server.settings import get_settings
from tests.web.conftest import form, hx, sign_in, text_of


async def shop(users, role: str = "customer_service"):
    user = await users.make(role)
    actor = system(user["merchant"]["id"], "test")
    await catalog.create_sku(actor, {"code": "TEA-LJ-250", "name": "Longjing 250g", "list_price": "168.00"})
    await catalog.create_sku(actor, {"code": "CUP-CER-01", "name": "Ceramic cup", "list_price": "45.50"})
    await channels.create_channel(actor, platform="shopify", name="Shopify US",
                                  config={"shop_domain": "x.myshopify.com", "access_token": "t",
                                          "client_secret": "s"})
    store = await channels.create_channel(actor, platform="pos", name="门店 Store")
    web = await channels.create_channel(actor, platform="website", name="Web")
    return user, actor, store, web


def order_fields(client, channel_id: int, key: str = "k-123456789012", **over) -> list[tuple[str, str]]:
    fields = {"_csrf": client.cookies.get("oms_csrf", ""), "channel": str(channel_id), "external_id": "",
              "receiver_name": "李四", "receiver_phone": "13900001111", "country_code": "CN", "province": "浙江省",
              "city": "杭州市", "district": "西湖区", "address": "文三路 1 号", "postcode": "310000",
              "shipping_fee": "10.00", "paid": "1", "buyer_note": "门店自提", "idempotency_key": key, **over}
    lines = over.pop("_lines", None) or [("TEA-LJ-250", "2", ""), ("CUP-CER-01", "1", "40.00"), ("", "", "")]
    out = [(k, v) for k, v in fields.items() if k != "_lines"]
    for sku, qty, price in lines:
        out += [("sku", sku), ("quantity", qty), ("unit_price", price)]
    return out


def encoded(pairs: list[tuple[str, str]], headers: dict | None = None) -> dict:
    """A form post with repeated fields (the line rows), as a browser sends it."""
    return {"content": "&".join(f"{k}={v}" for k, v in _quote(pairs)),
            "headers": {"content-type": "application/x-www-form-urlencoded", **(headers or {})}}


def _quote(pairs):
    from urllib.parse import quote_plus

    return [(quote_plus(k), quote_plus(v)) for k, v in pairs]


# -- the staff order form ----------------------------------------------------------------------

async def test_form_lists_staff_channels_first_and_adds_line_rows(client, users):
    user, _, store, _ = await shop(users)
    await sign_in(client, user)
    page = await client.get("/orders/new")
    assert page.status_code == 200 and "New order" in page.text
    options = re.findall(r'<option value="(\d+)"', page.text)
    assert options[0] == str(store["id"])  # POS and website channels before platform shops
    key = re.search(r'name="idempotency_key" value="([0-9a-f]{24})"', page.text)
    assert key, "a hidden idempotency key"
    assert key.group(1) not in (await client.get("/orders/new")).text  # a new key for each new form
    row = await client.get("/orders/new/line", headers=hx(client))
    assert row.status_code == 200 and row.text.lstrip().startswith('<tr class="line-row">')
    assert 'name="sku"' in row.text and 'name="quantity"' in row.text and 'name="unit_price"' in row.text
    options = await client.get("/orders/new/sku-options?sku=Long", headers=hx(client))
    assert '<option value="TEA-LJ-250">' in options.text


async def test_form_creates_an_order_and_opens_it(client, users):
    user, _, store, _ = await shop(users)
    await sign_in(client, user)
    response = await client.post("/orders/new", **encoded(order_fields(client, store["id"])))
    assert response.status_code == 303, response.text
    order = await db.fetchrow("SELECT * FROM sales_order")
    assert response.headers["location"] == f"/orders/{order['id']}"
    assert order["channel_id"] == store["id"] and order["source"] == "staff" and order["payment_status"] == "paid"
    assert order["total"] == 168_00 * 2 + 40_00 + 10_00 and order["buyer_note"] == "门店自提"
    assert order["external_id"].startswith("STAFF-")
    lines = await db.fetch("SELECT sku_code, quantity, unit_price FROM order_line ORDER BY line_no")
    assert [tuple(r) for r in lines] == [("TEA-LJ-250", 2, 168_00), ("CUP-CER-01", 1, 40_00)]  # the empty row left out
    page = await client.get(response.headers["location"])
    assert f"Order {order['order_number']} created." in page.text
    assert await db.fetchval("SELECT count(*) FROM audit_entry WHERE action = 'order.create'") == 1


async def test_form_reports_errors_per_field_and_keeps_what_was_typed(client, users):
    user, _, store, _ = await shop(users)
    await sign_in(client, user)
    fields = order_fields(client, store["id"], receiver_name="", shipping_fee="ten",
                          _lines=[("TEA-LJ-250", "2", ""), ("NOPE-9", "1", ""), ("CUP-CER-01", "0", "")])
    response = await client.post("/orders/new", **encoded(fields, hx(client)))
    assert response.status_code == 422 and "<html" not in response.text
    assert response.text.lstrip().startswith('<form id="order-new-form"')
    assert "The order was not created" in response.text
    assert re.search(r'id="f-receiver_name"[^>]*aria-invalid="true"', response.text)
    assert re.search(r'f-receiver_name-error">This field is required.', response.text)
    assert re.search(r'f-shipping_fee-error">ShippingFee must be an amount like 10.00', response.text)
    rows = re.findall(r'<tr class="line-row">(.*?)</tr>', response.text, re.S)
    assert len(rows) == 3
    assert "field-error" not in rows[0]
    assert "No SKU &#39;NOPE-9&#39;" in rows[1] and 'value="NOPE-9"' in rows[1]
    assert "Quantity must be a positive whole number" in rows[2]
    assert 'value="k-123456789012"' in response.text  # the same key: fixing and resending is still one order
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 0

    nothing = await client.post("/orders/new", **encoded(order_fields(client, store["id"], _lines=[("", "", "")])))
    assert nothing.status_code == 422 and "<!doctype html>" in nothing.text
    assert "Add at least one line with a SKU code and a quantity." in text_of(nothing.text)


async def test_double_submit_makes_one_order(client, users):
    user, _, store, _ = await shop(users)
    await sign_in(client, user)
    fields = order_fields(client, store["id"], key="double-submit-key-1")
    first, second = await asyncio.gather(client.post("/orders/new", **encoded(fields)),
                                         client.post("/orders/new", **encoded(fields)))
    assert {first.status_code, second.status_code} == {303}
    assert first.headers["location"] == second.headers["location"]
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 1
    third = await client.post("/orders/new", **encoded(fields, hx(client)))
    assert third.status_code == 204 and third.headers["hx-redirect"] == first.headers["location"]
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 1
    assert "was already created by this form" in (await client.get(first.headers["location"])).text


async def test_form_needs_create_permission_and_csrf(client, users):
    user, _, store, _ = await shop(users, role="finance")
    await sign_in(client, user)
    assert (await client.get("/orders/new")).status_code == 403
    assert (await client.post("/orders/new", **encoded(order_fields(client, store["id"])))).status_code == 403
    staff, _, store2, _ = await shop(users)
    await client.post("/logout", data=form(client))
    await sign_in(client, staff)
    no_csrf = [(k, v) for k, v in order_fields(client, store2["id"]) if k != "_csrf"]
    response = await client.post("/orders/new", **encoded(no_csrf))
    assert response.status_code == 403 and "The form expired" in response.text
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 0


async def test_form_refuses_another_merchants_channel(client, users):
    user, _, _, _ = await shop(users)
    _, _, their_store, _ = await shop(users)
    await sign_in(client, user)
    response = await client.post("/orders/new", **encoded(order_fields(client, their_store["id"]), hx(client)))
    assert response.status_code == 422 and "Choose one of your channels." in response.text
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 0


# -- the CSV import ----------------------------------------------------------------------------

HEADER = "external_id,receiver_name,sku,quantity,placed_at,unit_price\n"
BAD = (HEADER +
       "G-1,张三,TEA-LJ-250,1,2024-05-07 09:20,\n"   # 2 good
       "X-1,张三,NOPE-1,1,,\n"                       # 3 unknown SKU
       "X-2,张三,TEA-LJ-250,two,,\n"                 # 4 bad quantity
       "G-2,李四,CUP-CER-01,2,2024/5/7 9:05,\n"      # 5 good
       "G-2,李四,TEA-LJ-250,1,,150\n"                # 6 good (second line of G-2)
       "X-3,,CUP-CER-01,1,,\n")                      # 7 missing receiver


def upload_files(text: str, name: str = "orders.csv") -> dict:
    return {"file": (name, text.encode(), "text/csv")}


def upload_root() -> Path:
    return get_settings().data_dir / "uploads" / "order-import"


def kept_uploads() -> list[Path]:
    return sorted(upload_root().glob("*.csv")) if upload_root().exists() else []


@pytest.fixture(autouse=True)
def no_kept_uploads():
    shutil.rmtree(upload_root(), ignore_errors=True)
    yield
    shutil.rmtree(upload_root(), ignore_errors=True)


async def preview(client, text: str, channel: str = "", **headers) -> tuple:
    response = await client.post("/orders/import", headers=hx(client, **headers), files=upload_files(text),
                                  data={"channel": channel})
    token = re.search(r'name="token" value="([^"]+)"', response.text)
    return response, token.group(1) if token else None


async def test_template_has_the_expected_header(client, users):
    user, *_ = await shop(users)
    await sign_in(client, user)
    page = await client.get("/orders/import")
    assert page.status_code == 200 and 'href="/orders/import/template.csv"' in page.text
    template = await client.get("/orders/import/template.csv")
    assert template.status_code == 200 and template.headers["content-type"].startswith("text/csv")
    assert "attachment" in template.headers["content-disposition"]
    header = template.content.decode("utf-8-sig").splitlines()[0]
    assert header == ("external_id,channel,placed_at,paid,currency,receiver_name,receiver_phone,country_code,"
                      "province,city,district,address,postcode,sku,quantity,unit_price,shipping_fee,buyer_note")


async def test_preview_lists_every_bad_row_by_line_and_writes_nothing(client, users):
    user, _, _, web = await shop(users)
    await sign_in(client, user)
    response, token = await preview(client, BAD, str(web["id"]))
    assert response.status_code == 200 and token and "<html" not in response.text
    assert response.text.lstrip().startswith('<div id="import-area"')
    errors = re.findall(r'<tr data-line="(\d+)"><td class="num">\d+</td><td>(?:<code>)?([^<]*)', response.text)
    assert errors == [("3", "sku"), ("4", "quantity"), ("7", "receiver_name")]
    assert "no SKU &#39;NOPE-1&#39;" in response.text
    assert re.search(r'id="count-good">2<', response.text) and re.search(r'id="count-bad">3<', response.text)
    assert "G-1" in response.text and "Will be created" in response.text and "Has errors" in response.text
    assert re.search(r'value="good_rows" checked', response.text)  # bad rows: "only the good ones" offered first
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 0
    assert len(kept_uploads()) == 1 and kept_uploads()[0].read_bytes() == BAD.encode()  # kept as it arrived


async def test_all_or_nothing_imports_nothing_then_good_rows_imports_the_good_orders(client, users):
    user, _, _, web = await shop(users)
    await sign_in(client, user)
    _, token = await preview(client, BAD, str(web["id"]))
    nothing = await client.post("/orders/import/commit", headers=hx(client),
                                data={"token": token, "mode": "all_or_nothing"})
    assert nothing.status_code == 200 and "Nothing was imported" in nothing.text
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 0
    assert re.search(r'name="mode" value="good_rows"', nothing.text)  # a second chance with the same upload
    good = await client.post("/orders/import/commit", headers=hx(client), data={"token": token, "mode": "good_rows"})
    assert good.status_code == 200 and "2 orders created." in text_of(good.text)
    assert "1 order" not in text_of(good.text) and "3 orders with problems were left out." in text_of(good.text)
    rows = await db.fetch("SELECT id, external_id, source, channel_id FROM sales_order ORDER BY external_id")
    assert [(r["external_id"], r["source"], r["channel_id"]) for r in rows] == [("G-1", "csv", web["id"]),
                                                                               ("G-2", "csv", web["id"])]
    assert f'href="/orders/{rows[0]["id"]}"' in good.text
    assert await db.fetchval("SELECT count(*) FROM order_line") == 3
    assert kept_uploads() == []  # imported: the kept file is gone
    gone = await client.post("/orders/import/commit", headers=hx(client), data={"token": token, "mode": "good_rows"})
    assert gone.status_code == 422 and "upload has expired" in gone.text.lower()
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 2


async def test_clean_file_all_or_nothing_imports_everything_and_again_creates_nothing(client, users):
    user, _, store, _ = await shop(users)
    await sign_in(client, user)
    good = HEADER + "G-1,张三,TEA-LJ-250,1,,\nG-2,李四,CUP-CER-01,2,,\n"
    response, token = await preview(client, good, store["name"])
    assert re.search(r'value="all_or_nothing" checked', response.text) and "Rows with problems" not in response.text
    done = await client.post("/orders/import/commit", data=form(client, token=token, mode="all_or_nothing"))
    assert done.status_code == 200 and "<!doctype html>" in done.text and "2 orders created." in text_of(done.text)
    assert await db.fetchval("SELECT count(*) FROM sales_order WHERE channel_id = $1", store["id"]) == 2
    _, again = await preview(client, good, store["name"])
    repeat = await client.post("/orders/import/commit", headers=hx(client), data={"token": again, "mode": "good_rows"})
    assert "2 were imported before." in text_of(repeat.text) and "Already imported" in repeat.text
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 2


async def test_file_level_problems_and_missing_file(client, users):
    user, *_ = await shop(users)
    await sign_in(client, user)
    no_channel, _ = await preview(client, HEADER + "G-1,张三,TEA-LJ-250,1,,\n")
    assert no_channel.status_code == 422 and "add a channel column or choose the channel" in no_channel.text.lower()
    missing_column, token = await preview(client, "external_id,sku\nA,B\n", "Web")
    assert missing_column.status_code == 422 and token is None
    assert "missing required column" in missing_column.text.lower() and 'id="import-area"' in missing_column.text
    no_file = await client.post("/orders/import", headers=hx(client), data={"channel": ""})
    assert no_file.status_code == 422 and "Choose a CSV file to upload." in no_file.text
    assert kept_uploads() == []


async def test_upload_belongs_to_its_uploader(client, second_client, users):
    user, _, _, web = await shop(users)
    await sign_in(client, user)
    _, token = await preview(client, BAD, str(web["id"]))
    colleague = await users.make("customer_service", merchant=user["merchant"])
    await sign_in(second_client, colleague)
    stolen = await second_client.post("/orders/import/commit", headers=hx(second_client),
                                      data={"token": token, "mode": "good_rows"})
    assert stolen.status_code == 422 and "upload has expired" in stolen.text.lower()
    forged = await second_client.post("/orders/import/commit", headers=hx(second_client),
                                      data={"token": "../../secret_key", "mode": "good_rows"})
    assert forged.status_code == 422
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 0


async def test_import_needs_create_permission_and_csrf(client, users):
    user, _, _, web = await shop(users, role="finance")
    await sign_in(client, user)
    assert (await client.get("/orders/import")).status_code == 403
    denied = await client.post("/orders/import", headers=hx(client), files=upload_files(BAD), data={"channel": ""})
    assert denied.status_code == 403
    no_csrf = await client.post("/orders/import", files=upload_files(BAD), data={"channel": str(web["id"])})
    assert no_csrf.status_code == 403 and "The form expired" in no_csrf.text
    assert kept_uploads() == []


# -- in a real browser --------------------------------------------------------------------------

@pytest.mark.browser
async def test_staff_form_detail_and_import_in_a_real_browser(browser, client, users, shots):  # noqa: F811 - fixtures
    from server.app import create_app
    from tests.support.live_server import live_server

    user, actor, _, web = await shop(users, role="operations")
    from server.inventory import service as inventory

    await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
    await inventory.receive(actor, "SZ", "TEA-LJ-250", 10, "initial")
    await inventory.receive(actor, "SZ", "CUP-CER-01", 10, "initial")
    async with live_server(create_app()) as base:
        context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())
        await page.goto(f"{base}/login?next=/orders/new")
        await page.fill("#f-email", user["email"])
        await page.fill("#f-password", user["password"])
        await page.click("button[type=submit].btn-primary")
        await page.wait_for_url(f"{base}/orders/new")

        # two line rows added through htmx, one removed again; a bad quantity comes back marked
        await page.click("text=Add a line")
        await page.click("text=Add a line")
        await page.wait_for_function("document.querySelectorAll('#new-lines tr').length === 3")
        await page.locator("#new-lines tr").nth(2).locator("button").click()
        assert await page.locator("#new-lines tr").count() == 2
        await page.fill("#f-receiver_name", "李四")
        await page.fill("#f-receiver_phone", "13900001111")
        await page.fill("#f-address", "文三路 1 号")
        rows = page.locator("#new-lines tr")
        await rows.nth(0).locator("input[name=sku]").fill("TEA-LJ-250")
        await rows.nth(0).locator("input[name=quantity]").fill("2")
        await rows.nth(1).locator("input[name=sku]").fill("CUP-CER-01")
        await rows.nth(1).locator("input[name=quantity]").fill("zero")
        await page.click("button:has-text('Create order')")
        await page.wait_for_selector("#new-lines .field-error")
        assert "Quantity must be a positive whole number" in await page.inner_text("#new-lines")
        await page.screenshot(path=str(shots / "orders-new-errors.png"), full_page=True)
        await page.locator("#new-lines tr").nth(1).locator("input[name=quantity]").fill("1")
        await page.click("button:has-text('Create order')")
        await page.wait_for_url(re.compile(r".*/orders/\d+$"))
        assert "created." in await page.inner_text("#flashes")
        assert await db.fetchval("SELECT count(*) FROM sales_order") == 1

        # the order page: a note and an address change swap in place
        await page.fill("#f-note-body", "customer picks up on Saturday")
        await page.click("button:has-text('Add note')")
        await page.wait_for_selector("#order-notes >> text=customer picks up on Saturday")
        await page.click("#order-receiver summary")
        await page.fill("#order-receiver #f-address", "中关村大街 1 号")
        await page.click("button:has-text('Save address')")
        await page.wait_for_selector("text=Receiver address changed.")
        await page.screenshot(path=str(shots / "orders-detail.png"), full_page=True)
        wide = await page.evaluate("""() => [...document.querySelectorAll('#order-detail *')]
            .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 5)""")
        assert wide == [], wide  # nothing sticks out of the window

        # the CSV import: preview with the bad rows, then only the good orders
        await page.goto(f"{base}/orders/import")
        await page.set_input_files("#f-file", files=[{"name": "orders.csv", "mimeType": "text/csv",
                                                      "buffer": BAD.encode()}])
        await page.select_option("#f-channel", str(web["id"]))
        await page.click("button:has-text('Check the file')")
        await page.wait_for_selector("#import-errors")
        assert await page.locator("#import-error-rows tr").count() == 3
        await page.screenshot(path=str(shots / "orders-import-preview.png"), full_page=True)
        await page.click("button:has-text('Import')")
        await page.wait_for_selector("#import-outcome")
        assert "2 orders created." in await page.inner_text("#import-outcome")
        await page.screenshot(path=str(shots / "orders-import-result.png"), full_page=True)
        assert errors == []
        await context.close()
    assert await db.fetchval("SELECT count(*) FROM sales_order") == 3
