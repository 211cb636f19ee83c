"""Transfer pages doing their work over real requests: the list (filters, keyset pages, bulk export),
the create form with its errors, ship / partial receipt / cancel on the detail page (htmx fragments
and plain forms), suggestions with one-click create, the stock count CSV import, roles and tenants."""
from __future__ import annotations

import csv
import io
import re

from server.catalog import service as catalog
from server.channels import service as channels
from server.core import db
from server.core.actor import system
from server.inventory import service as inventory
from server.inventory import transfers
from server.orders.service import LineInput, OrderInput, ReceiverInput, create_order
from tests.web.conftest import form, hx, rows_text, sign_in, text_of


async def stocked(merchant):
    actor = system(merchant["id"], "test")
    for code in ("TEA", "CUP"):
        await catalog.create_sku(actor, {"code": code, "name": f"{code} name"})
    await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10})
    await inventory.create_warehouse(actor, {"code": "HZ", "name": "Hangzhou", "priority": 20})
    await inventory.receive(actor, "SZ", "TEA", 20)
    await inventory.receive(actor, "SZ", "CUP", 3)
    return actor


async def signed_in(client, users, role="warehouse"):
    user = await users.make(role)
    await sign_in(client, user)
    return user, await stocked(user["merchant"])


def transfer_id(response) -> int:
    location = response.headers.get("location") or response.headers.get("hx-redirect")
    match = re.fullmatch(r"/transfers/(\d+)", location or "")
    assert match, (response.status_code, response.headers, response.text[:500])
    return int(match.group(1))


async def test_create_ship_receive_in_parts_and_timeline(client, users):
    _, actor = await signed_in(client, users)
    page = await client.get("/transfers")
    assert page.status_code == 200 and 'href="/transfers"' in page.text and "New transfer" in page.text
    new = await client.get("/transfers/new")
    assert new.status_code == 200 and 'name="_csrf"' in new.text and new.text.count('name="sku"') == 5

    bad = await client.post("/transfers", headers=hx(client), data={
        "from_warehouse": "SZ", "to_warehouse": "SZ", "sku": ["NOPE", "TEA"], "quantity": ["1", "0"]})
    assert bad.status_code == 422 and "<html" not in bad.text and 'id="transfer-form"' in bad.text
    assert "Choose two different warehouses." in bad.text and "No SKU with this code." in bad.text
    assert await db.fetchval("SELECT count(*) FROM transfer_order") == 0

    made = await client.post("/transfers", data=form(client, from_warehouse="SZ", to_warehouse="HZ", reference="WK49",
                                                     sku=["TEA", "", "CUP"], quantity=["8", "", "2"]))
    assert made.status_code == 303
    tid = transfer_id(made)
    detail = await client.get(f"/transfers/{tid}")
    body = text_of(detail.text)
    assert detail.status_code == 200 and f"TR-{tid:06d}" in body and "Draft" in body and "Ship now" in body
    assert "Record receipt" not in body

    shipped = await client.post(f"/transfers/{tid}/ship", headers=hx(client))
    assert shipped.status_code == 200 and "<html" not in shipped.text and 'id="transfer-detail"' in shipped.text
    assert "Shipped" in text_of(shipped.text) and 'name="qty-TEA"' in shipped.text
    assert (await inventory.get_level(actor, "HZ", "TEA"))["incoming"] == 8

    part = await client.post(f"/transfers/{tid}/receive", headers=hx(client), data={"qty-TEA": "5", "qty-CUP": "0"})
    assert part.status_code == 200 and "Partially received" in text_of(part.text)
    too_many = await client.post(f"/transfers/{tid}/receive", headers=hx(client), data={"qty-TEA": "9"})
    assert too_many.status_code == 422 and "More than is still in transit." in too_many.text
    rest = await client.post(f"/transfers/{tid}/receive", data=form(client, **{"qty-TEA": "3", "qty-CUP": "2"}))
    assert rest.status_code == 303 and rest.headers["location"] == f"/transfers/{tid}"
    final = text_of((await client.get(f"/transfers/{tid}")).text)
    assert "Receipt recorded." in final and "Received" in final and "Cancel transfer" not in final
    kinds = re.findall(r'data-kind="([a-z_]+)"', (await client.get(f"/transfers/{tid}")).text)
    assert kinds == ["received", "received_part", "shipped", "created"]


async def test_refused_ship_names_sku_and_warehouse_and_cancel_returns_stock(client, users):
    _, actor = await signed_in(client, users)
    await channels.create_channel(actor, platform="website", name="Web")
    await inventory.update_warehouse(actor, "HZ", {"active": False})
    await create_order(actor, OrderInput(channel="Web", external_id="R1", lines=[LineInput(sku="CUP", quantity=2)],
                                         receiver=ReceiverInput(name="买家")))
    t = await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "CUP", "quantity": 2}])
    refused = await client.post(f"/transfers/{t['id']}/ship", headers=hx(client))
    assert refused.status_code == 422 and 'id="transfer-errors"' in refused.text
    assert "Not enough CUP at SZ: only 1 available" in text_of(refused.text)

    t = await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "TEA", "quantity": 6}])
    await client.post(f"/transfers/{t['id']}/ship", headers=hx(client))
    cancelled = await client.post(f"/transfers/{t['id']}/cancel", headers=hx(client), data={"reason": "wrong truck"})
    assert cancelled.status_code == 200 and "Transfer cancelled." in cancelled.text
    assert (await inventory.get_level(actor, "SZ", "TEA"))["on_hand"] == 20
    assert "wrong truck" in cancelled.text


async def test_list_filters_pages_and_bulk_export(client, users):
    _, actor = await signed_in(client, users)
    await inventory.create_warehouse(actor, {"code": "BJ", "name": "Beijing"})
    made = [await transfers.create_transfer(actor, "SZ", "HZ" if i % 2 else "BJ", [{"sku": "TEA", "quantity": 1}],
                                            reference=f"REF-{i}") for i in range(30)]
    await transfers.ship_transfer(actor, made[1]["id"])
    page = await client.get("/transfers")
    rows = rows_text(page.text, "transfer-rows")
    assert "REF-29" in rows and "REF-4" not in rows and "Load more" in page.text
    more = re.search(r'hx-get="(/transfers\?after=[^"]+)"', page.text).group(1).replace("&amp;", "&")
    rest = await client.get(more, headers=hx(client))
    assert "<html" not in rest.text and "REF-4" in rest.text and "REF-0" in rest.text
    shipped = await client.get("/transfers?status=shipped", headers=hx(client))
    assert 'id="transfer-list"' in shipped.text and "REF-1<" in shipped.text and "REF-3<" not in shipped.text
    to_bj = rows_text((await client.get("/transfers?warehouse=BJ")).text, "transfer-rows")
    assert "REF-28" in to_bj and "REF-29" not in to_bj

    export = await client.get("/transfers/export.csv", params={"ids": [made[3]["id"], made[5]["id"]]})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert table[0][:4] == ["number", "status", "from_warehouse", "to_warehouse"]
    assert [r[0] for r in table[1:]] == [made[5]["number"], made[3]["number"]]
    everything = await client.get("/transfers/export.csv?status=shipped")
    assert len(list(csv.reader(io.StringIO(everything.text.lstrip("\ufeff"))))) == 2


async def test_suggestions_one_click_create(client, users):
    _, actor = await signed_in(client, users)
    await channels.create_channel(actor, platform="website", name="Web")
    await inventory.receive(actor, "HZ", "TEA", 1)
    for i in range(3):     # 1 reserves at HZ (higher priority), 2 at SZ
        await create_order(actor, OrderInput(channel="Web", external_id=f"S{i}", lines=[LineInput(sku="TEA", quantity=1)],
                                             receiver=ReceiverInput(name="买家")))
    page = await client.get("/transfers/suggestions")
    assert page.status_code == 200 and 'data-from="SZ" data-to="HZ"' in page.text
    assert "Create this transfer" in page.text
    created = await client.post("/transfers/suggestions/accept", data=form(client, from_warehouse="SZ",
                                                                           to_warehouse="HZ"))
    tid = transfer_id(created)
    t = await transfers.get_transfer(actor, tid)
    assert t["suggested"] and [(ln["sku_code"], ln["quantity"]) for ln in t["lines"]] == [("TEA", 1)]
    assert "No transfers to suggest" in (await client.get("/transfers/suggestions")).text
    again = await client.post("/transfers/suggestions/accept", data=form(client, from_warehouse="SZ",
                                                                         to_warehouse="HZ"))
    assert again.status_code == 303 and again.headers["location"] == "/transfers/suggestions"


async def test_stock_count_import_preview_then_good_rows(client, users):
    _, actor = await signed_in(client, users)
    page = await client.get("/inventory/counts/import")
    assert page.status_code == 200 and 'name="file"' in page.text and "sheet.csv?warehouse=SZ" in page.text
    data = b"warehouse,sku,counted_quantity,reason\nSZ,TEA,18,damaged\nBJ,TEA,1,\nSZ,CUP,x,\nSZ,TEA,3,\n"
    preview = await client.post("/inventory/counts/import", data=form(client, step="preview"),
                                files={"file": ("count.csv", data, "text/csv")}, headers=hx(client))
    assert preview.status_code == 200 and "<html" not in preview.text
    errors = preview.text.split('id="count-import-errors"')[1].split("</table>")[0]
    assert [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', errors)] == [3, 4, 5]
    data_b64 = re.search(r'name="data_b64" value="([^"]+)"', preview.text).group(1)
    refused = await client.post("/inventory/counts/import", headers=hx(client),
                                data=form(client, step="apply", mode="all_or_nothing", data_b64=data_b64))
    assert "Nothing was imported" in refused.text
    assert (await inventory.get_level(actor, "SZ", "TEA"))["on_hand"] == 20
    done = await client.post("/inventory/counts/import", headers=hx(client),
                             data=form(client, step="apply", mode="good_rows", data_b64=data_b64))
    assert "1 adjusted" in text_of(done.text)
    assert (await inventory.get_level(actor, "SZ", "TEA"))["on_hand"] == 18
    sheet = await client.get("/inventory/counts/sheet.csv?warehouse=SZ")
    assert sheet.text.lstrip("\ufeff").splitlines() == ["warehouse,sku,counted_quantity,reason", "SZ,CUP,3,",
                                                        "SZ,TEA,18,"]
    empty = await client.post("/inventory/counts/import", data=form(client, step="preview"),
                              files={"file": ("x.csv", b"", "text/csv")})
    assert empty.status_code == 422 and "<html" in empty.text and 'id="import-file-error"' in empty.text


async def test_roles_and_tenants(client, users, second_client):
    owner, actor = await signed_in(client, users)
    t = await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "TEA", "quantity": 1}])
    viewer = await users.make("customer_service", owner["merchant"])
    await sign_in(second_client, viewer)
    page = await second_client.get("/transfers")
    assert page.status_code == 200 and "New transfer" not in page.text and "Import stock counts" not in page.text
    detail = await second_client.get(f"/transfers/{t['id']}")
    assert detail.status_code == 200 and "Ship now" not in detail.text
    assert (await second_client.post(f"/transfers/{t['id']}/ship", headers=hx(second_client))).status_code == 403
    assert (await second_client.get("/transfers/new")).status_code == 403
    assert (await second_client.get("/inventory/counts/import")).status_code == 403

    stranger = await users.make("admin")        # another merchant
    await second_client.post("/logout", data=form(second_client))
    second_client.cookies.clear()
    await sign_in(second_client, stranger)
    assert (await second_client.get(f"/transfers/{t['id']}")).status_code == 404
    assert (await second_client.post(f"/transfers/{t['id']}/cancel", data=form(second_client))).status_code == 404
    assert rows_text((await second_client.get("/transfers")).text, "transfer-rows").count("TR-") == 0
    assert (await transfers.get_transfer(actor, t["id"]))["status"] == "draft"


async def test_chinese_pages(client, users):
    user = await users.make("warehouse")
    actor = await stocked(user["merchant"])
    await db.execute("UPDATE app_user SET language = 'zh' WHERE id = $1", user["id"])
    await sign_in(client, user)
    page = await client.get("/transfers")
    assert "新建调拨单" in page.text and "导入盘点" in page.text and "调拨建议" in page.text
    t = await transfers.create_transfer(actor, "SZ", "HZ", [{"sku": "TEA", "quantity": 50}])
    refused = await client.post(f"/transfers/{t['id']}/ship", headers=hx(client))
    assert refused.status_code == 422 and "SZ 的 TEA 库存不足：仅 20 件可用" in refused.text
    assert "草稿" in refused.text and "取消调拨" in refused.text
    counts = await client.get("/inventory/counts/import")
    assert "盘点表" in counts.text
