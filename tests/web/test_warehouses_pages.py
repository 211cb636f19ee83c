"""Warehouse pages with real requests: list (full page vs fragment, filters, keyset, CSV), create and
edit with the parsed region and coordinates, channels served, validation errors as 422, permissions
and tenant isolation."""
from __future__ import annotations

import csv
import io
import re

import pytest

from server.channels import service as channels
from server.core import db
from server.core.actor import system
from server.inventory import service as inventory
from tests.web.conftest import form, hx, rows_text, sign_in, text_of

SHENZHEN = {"country_code": "CN", "province": "广东省", "city": "深圳市", "district": "南山区",
            "address": "科技园路1号", "postcode": "518000"}


@pytest.fixture
async def shop(users, merchant):
    actor = system(merchant["id"], "test")
    await inventory.create_warehouse(actor, {"code": "SZ", "name": "Shenzhen", "priority": 10, "address": SHENZHEN})
    await inventory.create_warehouse(actor, {"code": "HZ", "name": "Hangzhou", "priority": 5,
                                             "address": {"province": "浙江省", "city": "杭州市", "district": "西湖区"}})
    await inventory.create_warehouse(actor, {"code": "OLD", "name": "Old depot", "priority": 1, "active": False})
    web = await channels.create_channel(actor, platform="website", name="Tea website")
    shopify = await channels.create_channel(actor, platform="website", name="Shopify US")
    admin = await users.make("admin", merchant=merchant, email="boss@tea.example")
    return {"actor": actor, "admin": admin, "web": web, "shopify": shopify}


def new_warehouse(**over) -> dict:
    return {"code": "BJ-01", "name": "Beijing", "priority": "7", "active": "1", "country_code": "CN",
            "province": "北京市", "city": "北京市", "district": "朝阳区", "address": "建国路88号",
            "postcode": "100022", "serves": "all", **over}


async def test_list_full_page_fragment_and_filters(client, shop):
    await sign_in(client, shop["admin"])
    page = await client.get("/warehouses")
    assert page.status_code == 200 and "<html" in page.text
    rows = rows_text(page.text, "warehouse-rows")
    assert rows.index("SZ") < rows.index("HZ") < rows.index("OLD")
    assert "广东省 深圳市 南山区" in rows and "440305" in rows and "All channels" in rows
    assert 'href="/warehouses/new"' in page.text
    frag = await client.get("/warehouses?active=0", headers=hx(client))
    assert frag.status_code == 200 and "<html" not in frag.text
    assert "OLD" in rows_text(frag.text, "warehouse-rows") and "SZ" not in rows_text(frag.text, "warehouse-rows")
    search = rows_text((await client.get("/warehouses?q=杭州", headers=hx(client))).text, "warehouse-rows")
    assert "HZ" in search and "SZ" not in search


async def test_keyset_and_export(client, shop):
    for i in range(27):
        await inventory.create_warehouse(shop["actor"], {"code": f"W{i:02d}", "name": f"Depot {i}", "priority": 2})
    await sign_in(client, shop["admin"])
    first = await client.get("/warehouses")
    assert "Load more" in first.text and "OLD" not in rows_text(first.text, "warehouse-rows")
    url = re.search(r'hx-get="(/warehouses\?after=[^"]+)"', first.text).group(1).replace("&amp;", "&")
    more = await client.get(url, headers=hx(client))
    assert "OLD" in more.text and "Shenzhen" not in more.text
    export = await client.get("/warehouses/export.csv?active=1")
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["code", "name", "priority", "active"] and len(rows) == 1 + 29
    sz = next(r for r in rows if r[0] == "SZ")
    assert "440305" in sz and sz[rows[0].index("channels")] == "all"
    wh_id = await db.fetchval("SELECT id FROM warehouse WHERE code = 'HZ'")
    picked = list(csv.reader(io.StringIO((await client.get(f"/warehouses/export.csv?ids={wh_id}")).text.lstrip("\ufeff"))))
    assert [r[0] for r in picked[1:]] == ["HZ"]


async def test_create_shows_region_and_coordinates(client, shop):
    await sign_in(client, shop["admin"])
    assert (await client.get("/warehouses/new")).status_code == 200
    response = await client.post("/warehouses/new", data=form(client, **new_warehouse(
        serves="some", channels=str(shop["web"]["id"]))))
    assert response.status_code == 303
    row = await db.fetchrow("SELECT * FROM warehouse WHERE code = 'BJ-01'")
    assert response.headers["location"] == f"/warehouses/{row['id']}"
    assert (row["priority"], row["active"], row["serves_all_channels"]) == (7, True, False)
    assert row["region_code"] == "110105" and row["latitude"] is not None
    served = await db.fetch("SELECT channel_id FROM warehouse_channel WHERE warehouse_id = $1", row["id"])
    assert [r["channel_id"] for r in served] == [shop["web"]["id"]]
    page = await client.get(f"/warehouses/{row['id']}")
    text = text_of(page.text)
    assert "Warehouse BJ-01 created." in text and "110105" in text
    assert f"{row['latitude']:.4f}" in text
    assert re.search(rf'value="{shop["web"]["id"]}" checked', page.text)


async def test_create_validation_errors_are_422(client, shop):
    await sign_in(client, shop["admin"])
    missing = await client.post("/warehouses/new", headers=hx(client), data=new_warehouse(code="", name=""))
    assert missing.status_code == 422 and "<html" not in missing.text
    assert 'id="f-code-error"' in missing.text and 'id="f-name-error"' in missing.text
    assert 'value="建国路88号"' in missing.text                      # nothing typed is lost
    dup = await client.post("/warehouses/new", headers=hx(client), data=new_warehouse(code="SZ"))
    assert dup.status_code == 422 and "A warehouse with this code already exists." in text_of(dup.text)
    spaces = await client.post("/warehouses/new", headers=hx(client), data=new_warehouse(code="B J"))
    assert spaces.status_code == 422 and "Use up to 32 characters, without spaces." in text_of(spaces.text)
    country = await client.post("/warehouses/new", headers=hx(client), data=new_warehouse(country_code="ZZZ"))
    assert country.status_code == 422 and 'id="f-country_code-error"' in country.text
    assert "Unknown country" in text_of(country.text)
    plain = await client.post("/warehouses/new", data=form(client, **new_warehouse(priority="high")))
    assert plain.status_code == 422 and "<html" in plain.text and 'id="f-priority-error"' in plain.text
    assert "Enter a whole number." in text_of(plain.text)
    assert await db.fetchval("SELECT count(*) FROM warehouse") == 3


async def test_edit_changes_fields_and_channels(client, shop):
    await sign_in(client, shop["admin"])
    hz = await db.fetchval("SELECT id FROM warehouse WHERE code = 'HZ'")
    page = await client.get(f"/warehouses/{hz}")
    assert page.status_code == 200 and "330106" in text_of(page.text)
    response = await client.post(f"/warehouses/{hz}", data=form(client, code="HZ", name="Hangzhou East", priority="20",
                                                                active="1", country_code="CN", province="浙江省",
                                                                city="杭州市", district="余杭区", address="",
                                                                postcode="", serves="some",
                                                                channels=str(shop["shopify"]["id"])))
    assert response.status_code == 303
    row = await db.fetchrow("SELECT * FROM warehouse WHERE id = $1", hz)
    assert (row["name"], row["priority"], row["region_code"], row["serves_all_channels"]) == (
        "Hangzhou East", 20, "330110", False)
    assert "Changes saved." in text_of((await client.get(f"/warehouses/{hz}")).text)
    # deactivate and serve all channels again (an unticked checkbox is sent as nothing)
    await client.post(f"/warehouses/{hz}", data=form(client, code="HZ", name="Hangzhou East", priority="20",
                                                     serves="all", province="浙江省", city="杭州市"))
    row = await db.fetchrow("SELECT * FROM warehouse WHERE id = $1", hz)
    assert (row["active"], row["serves_all_channels"]) == (False, True)
    assert await db.fetchval("SELECT count(*) FROM warehouse_channel WHERE warehouse_id = $1", hz) == 0
    bad = await client.post(f"/warehouses/{hz}", headers=hx(client), data={"code": "SZ", "name": "x", "priority": "1"})
    assert bad.status_code == 422 and "A warehouse with this code already exists." in text_of(bad.text)
    audit = await db.fetchval("SELECT count(*) FROM audit_entry WHERE action = 'warehouse.update'")
    assert audit == 2


async def test_permissions(client, users, shop):
    ops = await users.make("operations", merchant=shop["admin"]["merchant"])       # no inventory.manage
    await sign_in(client, ops)
    assert (await client.get("/warehouses")).status_code == 200
    page = (await client.get("/")).text
    assert 'href="/warehouses"' not in page                       # not in the sidebar
    assert "/warehouses/new" not in (await client.get("/warehouses")).text
    assert (await client.get("/warehouses/new")).status_code == 403
    assert (await client.post("/warehouses/new", data=form(client, **new_warehouse()))).status_code == 403
    hz = await db.fetchval("SELECT id FROM warehouse WHERE code = 'HZ'")
    detail = await client.get(f"/warehouses/{hz}")
    assert detail.status_code == 200 and 'id="warehouse-form"' not in detail.text
    assert (await client.post(f"/warehouses/{hz}", data=form(client, name="Nope"))).status_code == 403
    # the warehouse role manages warehouses but cannot see channels: the channel choice is read-only
    keeper = await users.make("warehouse", merchant=shop["admin"]["merchant"])
    await sign_in(client, keeper)
    edit = await client.get(f"/warehouses/{hz}")
    assert 'id="warehouse-form"' in edit.text and 'name="serves"' not in edit.text
    ok = await client.post(f"/warehouses/{hz}", data=form(client, code="HZ", name="Hangzhou 2", priority="5",
                                                          active="1", province="浙江省", city="杭州市"))
    assert ok.status_code == 303
    assert await db.fetchval("SELECT name FROM warehouse WHERE id = $1", hz) == "Hangzhou 2"


async def test_other_merchants_warehouse_is_404(client, users, shop, other_merchant):
    other = system(other_merchant["id"], "test")
    theirs = await inventory.create_warehouse(other, {"code": "THEIRS", "name": "Their depot"})
    await sign_in(client, shop["admin"])
    assert (await client.get(f"/warehouses/{theirs['id']}")).status_code == 404
    response = await client.post(f"/warehouses/{theirs['id']}", data=form(client, code="THEIRS", name="Mine now"))
    assert response.status_code == 404
    assert "THEIRS" not in (await client.get("/warehouses")).text
    assert await db.fetchval("SELECT name FROM warehouse WHERE id = $1", theirs["id"]) == "Their depot"
    export = (await client.get(f"/warehouses/export.csv?ids={theirs['id']}")).text
    assert "THEIRS" not in export
