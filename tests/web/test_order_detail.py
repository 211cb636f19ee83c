"""The order page against the real app and database: what it shows, who sees the phone, and the
actions on it (address, cancel, note, mark shipped, matching an unmatched line), tenancy and CSRF."""
from __future__ import annotations

import re

from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db
from server.inventory import service as inventory
from server.orders import ingest
from server.orders import service as orders
from server.orders.service import LineInput, OrderInput, ReceiverInput
from tests.support.orders import fetched, line, order
from tests.web.conftest import form, hx, sign_in, text_of


async def shop(users, role: str = "admin", *, stock: int = 0):
    """A merchant with two SKUs, a warehouse (optionally stocked), a website channel and a signed-in user."""
    user = await users.make(role)
    from server.core.actor import system

    actor = system(user["merchant"]["id"], "test")
    await catalog.create_sku(actor, {"code": "TEA-LJ-250", "name": "Longjing 250g", "list_price": "168.00"})
    await catalog.create_sku(actor, {"code": "CUP-CER-01", "name": "Ceramic cup", "list_price": "45.50"})
    await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
    if stock:
        for code in ("TEA-LJ-250", "CUP-CER-01"):
            await inventory.receive(actor, "SZ", code, stock, "initial")
    web = await channels.create_channel(actor, platform="website", name="Web")
    return user, actor, web


async def place(actor, web, ext: str = "W-1", phone: str = "13900001111") -> dict:
    created, _ = await orders.create_order(actor, OrderInput(
        channel=str(web["id"]), external_id=ext, shipping_fee="10", buyer_note="leave at the door",
        lines=[LineInput(sku="TEA-LJ-250", quantity=2), LineInput(sku="CUP-CER-01", quantity=1, unit_price="40.00",
                                                                  discount="5.00")],
        receiver=ReceiverInput(name="李四", phone=phone, province="浙江省", city="杭州市", district="西湖区",
                               address="文三路 1 号")))
    return created


async def test_detail_shows_lines_amounts_receiver_timeline_notes_and_raw(client, users):
    user, actor, web = await shop(users, stock=5)
    o = await place(actor, web)
    await orders.add_note(actor, o["id"], "call before delivery")
    await sign_in(client, user)
    page = await client.get(f"/orders/{o['id']}")
    assert page.status_code == 200 and "<!doctype html>" in page.text
    text = text_of(page.text)
    assert f"Order {o['order_number']}" in text and "Awaiting review" in text and "Web" in text
    for shown in ("TEA-LJ-250", "CUP-CER-01", "Longjing 250g", "CN¥168.00", "CN¥336.00", "−CN¥5.00", "CN¥35.00"):
        assert shown in text, shown
    amounts = text_of(re.search(r'<section class="card" id="order-amounts">(.*?)</section>', page.text, re.S)[1])
    assert "Items CN¥376.00" in amounts and "Shipping CN¥10.00" in amounts and "Discount −CN¥5.00" in amounts
    assert "Total CN¥381.00" in amounts and "Paid CN¥381.00" in amounts
    assert "+8613900001111" in text and "文三路 1 号" in text  # admin sees the full phone
    assert "Order created" in text and "call before delivery" in text and "leave at the door" in text
    assert 'class="raw-payload"' in page.text and "&#34;idempotency_key&#34;" in page.text  # pretty JSON
    assert "Stock reserved" in text
    reservations = re.search(r'id="order-reservations">(.*?)</section>', page.text, re.S)[1]
    assert "SZ" in reservations and "Reserved" in reservations
    fragment = await client.get(f"/orders/{o['id']}", headers=hx(client))
    assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="order-detail"' in fragment.text


async def test_buyer_other_orders_listed(client, users):
    user, actor, web = await shop(users)
    first = await place(actor, web, "W-1")
    second = await place(actor, web, "W-2")
    await sign_in(client, user)
    page = await client.get(f"/orders/{second['id']}")
    buyer = re.search(r'id="buyer-orders">(.*?)</ul>', page.text, re.S)[1]
    assert f'href="/orders/{first["id"]}"' in buyer and first["order_number"] in buyer
    assert second["order_number"] not in buyer


async def test_phone_masked_and_raw_hidden_for_a_role_without_pii(client, users):
    user, actor, web = await shop(users, role="finance")  # finance lacks orders.view_pii
    o = await place(actor, web)
    await sign_in(client, user)
    page = await client.get(f"/orders/{o['id']}")
    assert page.status_code == 200
    assert "13900001111" not in page.text and "+86*******1111" in page.text
    assert "文三路" not in page.text  # the street is PII too, and raw payloads would show it
    assert "raw-payload" not in page.text and "which your role may not see" in page.text
    assert f'action="/orders/{o["id"]}/address"' not in page.text  # finance cannot manage orders
    assert f'action="/orders/{o["id"]}/cancel"' not in page.text


async def test_address_change_before_fulfilment_is_audited_and_refused_after(client, users):
    user, actor, web = await shop(users, role="operations", stock=5)
    o = await place(actor, web)
    await sign_in(client, user)
    fields = {"name": "王五", "phone": "13700002222", "country_code": "CN", "province": "北京市", "city": "北京市",
              "district": "海淀区", "address": "中关村大街 1 号", "postcode": "100080"}
    saved = await client.post(f"/orders/{o['id']}/address", headers=hx(client, **{"HX-Target": "order-receiver"}),
                              data=fields)
    assert saved.status_code == 200 and saved.headers["hx-retarget"] == "#order-detail"
    assert "Receiver address changed." in saved.text and "中关村大街 1 号" in saved.text
    row = await db.fetchrow("SELECT receiver_name, address, receiver_edited FROM sales_order WHERE id = $1", o["id"])
    assert (row["receiver_name"], row["address"], row["receiver_edited"]) == ("王五", "中关村大街 1 号", True)
    audit = await db.fetchrow("SELECT actor_label, before, after FROM audit_entry WHERE action = 'order.address_changed'")
    assert audit["actor_label"] == user["email"] and "中关村大街 1 号" in audit["after"] and "文三路 1 号" in audit["before"]
    assert "Receiver address changed" in text_of((await client.get(f"/orders/{o['id']}")).text)  # timeline

    nameless = await client.post(f"/orders/{o['id']}/address", headers=hx(client), data={**fields, "name": " "})
    assert nameless.status_code == 422 and 'id="order-receiver"' in nameless.text
    assert "This field is required." in nameless.text and "<html" not in nameless.text

    await inventory.mark_shipped(actor, o["id"], "SF Express", "SF100")
    refused = await client.post(f"/orders/{o['id']}/address", headers=hx(client), data={**fields, "name": "赵六"})
    assert refused.status_code == 422 and 'id="order-receiver"' in refused.text
    assert "cannot change once an order is shipped" in refused.text
    assert await db.fetchval("SELECT receiver_name FROM sales_order WHERE id = $1", o["id"]) == "王五"
    page = await client.get(f"/orders/{o['id']}")
    assert "The address can no longer change" in page.text and f'action="/orders/{o["id"]}/address"' not in page.text


async def test_cancel_with_reason_releases_and_shows_in_timeline(client, users):
    user, actor, web = await shop(users, stock=5)
    o = await place(actor, web)
    await sign_in(client, user)
    page = await client.get(f"/orders/{o['id']}")
    assert 'hx-confirm="Cancel order' in page.text  # asks first
    cancelled = await client.post(f"/orders/{o['id']}/cancel", data=form(client, reason="buyer changed their mind"))
    assert cancelled.status_code == 303 and cancelled.headers["location"] == f"/orders/{o['id']}"
    assert await db.fetchval("SELECT status FROM sales_order WHERE id = $1", o["id"]) == "cancelled"
    assert await db.fetchval("SELECT count(*) FROM reservation WHERE order_id = $1 AND status = 'reserved'", o["id"]) == 0
    after = await client.get(f"/orders/{o['id']}")
    text = text_of(after.text)
    assert "Order cancelled." in text and "buyer changed their mind" in text and "Cancelled" in text
    assert f'action="/orders/{o["id"]}/cancel"' not in after.text  # nothing left to cancel


async def test_add_note_as_fragment_and_empty_note_is_422(client, users):
    user, actor, web = await shop(users, role="customer_service")
    o = await place(actor, web)
    await sign_in(client, user)
    added = await client.post(f"/orders/{o['id']}/notes", headers=hx(client), data={"body": "买家来电，改周六送"})
    assert added.status_code == 200 and added.text.lstrip().startswith('<section class="card" id="order-notes">')
    assert "买家来电，改周六送" in added.text and user["email"] in added.text
    assert await db.fetchval("SELECT body FROM order_note WHERE order_id = $1", o["id"]) == "买家来电，改周六送"
    assert await db.fetchval("SELECT count(*) FROM audit_entry WHERE action = 'order.note_added'") == 1
    empty = await client.post(f"/orders/{o['id']}/notes", headers=hx(client), data={"body": "  "})
    assert empty.status_code == 422 and "This field is required." in empty.text
    assert await db.fetchval("SELECT count(*) FROM order_note") == 1


async def test_mark_shipped_with_carrier_and_tracking_number(client, users):
    user, actor, web = await shop(users, role="warehouse", stock=5)
    o = await place(actor, web)
    await sign_in(client, user)
    missing = await client.post(f"/orders/{o['id']}/ship", headers=hx(client), data={"carrier": "SF Express"})
    assert missing.status_code == 422 and 'id="order-actions"' in missing.text and "field-error" in missing.text
    shipped = await client.post(f"/orders/{o['id']}/ship", headers=hx(client),
                                data={"carrier": "SF Express", "tracking_number": "SF1234567890"})
    assert shipped.status_code == 200 and shipped.headers["hx-retarget"] == "#order-detail"
    assert "Order marked shipped." in shipped.text and "SF1234567890" in shipped.text
    assert await db.fetchval("SELECT status FROM sales_order WHERE id = $1", o["id"]) == "shipped"
    on_hand = await db.fetchval("SELECT sum(on_hand) FROM stock_level")
    assert on_hand == 10 - 3  # two teas and a cup left the warehouse
    again = await client.post(f"/orders/{o['id']}/ship", headers=hx(client),
                              data={"carrier": "SF Express", "tracking_number": "SF1234567890"})
    assert again.status_code == 422 and "already shipped" in again.text


async def test_matching_an_unmatched_line_releases_every_order_waiting_on_it(client, users):
    user, _, web = await shop(users, role="operations", stock=5)
    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", web["id"]))
    waiting = [order(f"P-{i}", lines=[line("PLATFORM-ONLY-1", 1, pid="900", sid="901")]) for i in range(3)]
    await ingest.ingest(ch, [fetched(o) for o in waiting], source="pull")
    ids = [r["id"] for r in await db.fetch("SELECT id FROM sales_order ORDER BY id")]
    assert [r["status"] for r in await db.fetch("SELECT status FROM sales_order")] == ["on_hold"] * 3
    await sign_in(client, user)
    page = await client.get(f"/orders/{ids[0]}")
    assert "A line matches no SKU" in page.text and "Unmatched" in page.text
    line_id = await db.fetchval("SELECT id FROM order_line WHERE order_id = $1", ids[0])
    match_url = f"/orders/{ids[0]}/lines/{line_id}/match"
    assert f'action="{match_url}"' in page.text and "3 orders wait on this platform SKU" in page.text
    options = await client.get(f"/orders/{ids[0]}/sku-options?sku=CUP", headers=hx(client))
    assert '<option value="CUP-CER-01">' in options.text and "TEA-LJ-250" not in options.text

    unknown = await client.post(match_url, headers=hx(client), data={"sku": "NOPE"})
    assert unknown.status_code == 422 and 'id="order-lines"' in unknown.text and "NOPE" in unknown.text
    matched = await client.post(match_url, headers=hx(client), data={"sku": "CUP-CER-01"})
    assert matched.status_code == 200, matched.text
    assert "3 orders waiting on this platform SKU were updated" in text_of(matched.text)
    rows = await db.fetch("SELECT status, hold_reasons, sku_codes FROM sales_order ORDER BY id")
    assert [(r["status"], list(r["hold_reasons"]), list(r["sku_codes"])) for r in rows] == [
        ("awaiting_review", [], ["CUP-CER-01"])] * 3
    assert await db.fetchval("SELECT count(*) FROM audit_entry WHERE action = 'listing.match'") == 1
    other = text_of((await client.get(f"/orders/{ids[2]}")).text)
    assert "Hold released" in other and "Unmatched" not in other


async def test_matching_needs_catalog_permission(client, users):
    user, _, web = await shop(users, role="customer_service")  # catalog.view only
    ch = dict(await db.fetchrow("SELECT * FROM channel WHERE id = $1", web["id"]))
    await ingest.ingest(ch, [fetched(order("P-1", lines=[line("PLATFORM-ONLY-1", 1)]))], source="pull")
    oid = await db.fetchval("SELECT id FROM sales_order")
    line_id = await db.fetchval("SELECT id FROM order_line")
    await sign_in(client, user)
    page = await client.get(f"/orders/{oid}")
    assert "Unmatched" in page.text and "/match" not in page.text
    denied = await client.post(f"/orders/{oid}/lines/{line_id}/match", headers=hx(client), data={"sku": "CUP-CER-01"})
    assert denied.status_code == 403
    assert await db.fetchval("SELECT status FROM sales_order") == "on_hold"


async def test_another_merchants_order_is_404_for_every_route(client, users):
    _, actor, web = await shop(users, stock=5)
    o = await place(actor, web)
    intruder = await users.make("admin")
    await sign_in(client, intruder)
    assert (await client.get(f"/orders/{o['id']}")).status_code == 404
    assert (await client.get(f"/orders/{o['id']}", headers=hx(client))).status_code == 404
    for path, data in ((f"/orders/{o['id']}/cancel", {"reason": "x"}), (f"/orders/{o['id']}/notes", {"body": "x"}),
                       (f"/orders/{o['id']}/address", {"name": "x"}),
                       (f"/orders/{o['id']}/ship", {"carrier": "SF", "tracking_number": "1"}),
                       (f"/orders/{o['id']}/lines/{o['lines'][0]['id']}/match", {"sku": "CUP-CER-01"})):
        response = await client.post(path, data=form(client, **data))
        assert response.status_code == 404, path
    row = await db.fetchrow("SELECT status, receiver_name FROM sales_order WHERE id = $1", o["id"])
    assert (row["status"], row["receiver_name"]) == ("awaiting_review", "李四")
    assert await db.fetchval("SELECT count(*) FROM order_note") == 0


async def test_actions_need_the_csrf_token(client, users):
    user, actor, web = await shop(users, stock=5)
    o = await place(actor, web)
    await sign_in(client, user)
    for path, data in ((f"/orders/{o['id']}/cancel", {"reason": "x"}), (f"/orders/{o['id']}/notes", {"body": "x"}),
                       (f"/orders/{o['id']}/address", {"name": "x"})):
        response = await client.post(path, data=data)  # no _csrf field, no header
        assert response.status_code == 403, path
        assert "The form expired or came from another site" in response.text
    assert await db.fetchval("SELECT status FROM sales_order WHERE id = $1", o["id"]) == "awaiting_review"
    assert await db.fetchval("SELECT count(*) FROM order_note") == 0


async def test_signed_out_visitor_goes_to_login(client, users):
    _, actor, web = await shop(users)
    o = await place(actor, web)
    response = await client.get(f"/orders/{o['id']}")
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")


async def test_detail_in_simplified_chinese(client, users):
    user, actor, web = await shop(users, stock=5)
    o = await place(actor, web)
    await db.execute("UPDATE app_user SET language = 'zh' WHERE id = $1", user["id"])
    await sign_in(client, user)
    text = text_of((await client.get(f"/orders/{o['id']}")).text)
    for shown in (f"订单 {o['order_number']}", "金额", "时间线", "内部备注", "收件人", "标记为已发货", "取消订单"):
        assert shown in text, shown
    assert "Timeline" not in text and "Mark shipped" not in text


async def test_refusals_without_htmx_render_the_page_with_the_error(client, users):
    user, actor, web = await shop(users, stock=5)
    o = await place(actor, web)
    await inventory.mark_shipped(actor, o["id"], "SF Express", "SF100")
    await sign_in(client, user)
    address = await client.post(f"/orders/{o['id']}/address", data=form(client, name="赵六", address="x"))
    assert address.status_code == 422 and "<!doctype html>" in address.text
    assert "cannot change once an order is shipped" in address.text and 'value="赵六"' in address.text
    cancel = await client.post(f"/orders/{o['id']}/cancel", headers=hx(client), data={"reason": "too late"})
    assert cancel.status_code == 422 and 'id="order-actions"' in cancel.text and 'value="too late"' in cancel.text
    assert await db.fetchval("SELECT status FROM sales_order WHERE id = $1", o["id"]) == "shipped"
