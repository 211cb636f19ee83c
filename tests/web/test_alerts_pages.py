"""Alert pages with real requests: the alerts list (full page vs fragment, status filter, keyset,
bulk acknowledge, CSV of the selection or the filter), rule create/edit/delete with 422 errors, the
dev mailbox (admins only, captured mail), roles, tenants, Chinese."""
from __future__ import annotations

import csv
import io

import pytest

from server.core import db
from server.inventory import alerts
from tests.service.test_stock_alerts import world
from tests.web.conftest import form, hx, rows_text, sign_in, text_of


@pytest.fixture
async def shop(users, merchant):
    actor = await world(merchant)
    admin = await users.make("admin", merchant=merchant, email="boss@tea.example")
    return {"actor": actor, "admin": admin}


async def alert_ids(merchant_id: int) -> list[int]:
    return [r["id"] for r in await db.fetch("SELECT id FROM stock_alert WHERE merchant_id = $1 ORDER BY id",
                                            merchant_id)]


async def test_alerts_list_filter_keyset_acknowledge_and_export(client, shop, merchant):
    await alerts.create_rule(shop["actor"], {"category": "tea", "kind": "threshold", "threshold": 100,
                                             "name": "All tea"})
    await alerts.create_rule(shop["actor"], {"category": "tea", "warehouse": "HZ", "kind": "threshold",
                                             "threshold": 100})
    await alerts.create_rule(shop["actor"], {"sku": "CUP", "kind": "threshold", "threshold": 100})
    ids = await alert_ids(merchant["id"])
    assert len(ids) == 5
    await sign_in(client, shop["admin"])
    page = await client.get("/alerts")
    assert page.status_code == 200 and "<html" in page.text and 'aria-current' in page.text
    rows = rows_text(page.text, "alert-rows")
    assert "OOLONG" in rows and "CUP" in rows and "All tea" in rows and "All warehouses" in rows
    assert "available at or below 100" in rows

    frag = await client.get("/alerts?q=cup", headers=hx(client))
    assert frag.status_code == 200 and "<html" not in frag.text
    assert "CUP" in rows_text(frag.text, "alert-rows") and "OOLONG" not in rows_text(frag.text, "alert-rows")

    ack = await client.post("/alerts/acknowledge", data=form(client, ids=[str(ids[0]), str(ids[1])],
                                                             status="active", q=""), headers=hx(client))
    assert ack.status_code == 200 and "2 alerts acknowledged." in text_of(ack.text)
    statuses = [r["status"] for r in await db.fetch("SELECT status FROM stock_alert ORDER BY id")]
    assert statuses == ["acknowledged", "acknowledged", "open", "open", "open"]
    only_open = await client.get("/alerts?status=open", headers=hx(client))
    assert f'id="alert-{ids[0]}"' not in only_open.text and f'id="alert-{ids[2]}"' in only_open.text
    nothing = await client.post("/alerts/acknowledge", data=form(client, status="open"), headers=hx(client))
    assert nothing.status_code == 422 and "Select the alerts to acknowledge first." in text_of(nothing.text)
    plain = await client.post("/alerts/acknowledge", data=form(client, ids=str(ids[2]), status="open"))
    assert plain.status_code == 303 and plain.headers["location"] == "/alerts?status=open"

    export = await client.get("/alerts/export.csv?status=all")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert len(table) == 5 and {r["status"] for r in table} == {"open", "acknowledged"}
    assert {r["warehouse"] for r in table} == {"*", "HZ"}
    assert all(r["available"] == r["available_now"] for r in table)
    picked = await client.get(f"/alerts/export.csv?status=all&ids={ids[3]}&ids={ids[4]}")
    assert [int(r["id"]) for r in csv.DictReader(io.StringIO(picked.text.lstrip("\ufeff")))] == [ids[4], ids[3]]


async def test_keyset_pages(client, shop, merchant):
    actor = shop["actor"]
    from server.catalog import service as catalog

    for i in range(27):
        await catalog.create_sku(actor, {"code": f"BULK-{i:02d}", "name": f"Bulk {i}", "category": "bulk"})
    await alerts.create_rule(actor, {"category": "bulk", "kind": "threshold", "threshold": 0})
    await sign_in(client, shop["admin"])
    first = await client.get("/alerts")
    assert first.text.count('<tr id="alert-') == 25 and "Load more" in first.text
    href = first.text.split('class="load-more-row"')[1].split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
    more = await client.get(href, headers=hx(client))
    assert more.text.count('<tr id="alert-') == 2 and "Load more" not in more.text


async def test_rule_create_edit_delete_with_errors(client, shop, merchant):
    await sign_in(client, shop["admin"])
    page = await client.get("/alerts/rules")
    assert page.status_code == 200 and "No rules yet" in page.text and 'name="cover_days"' in page.text
    bad = await client.post("/alerts/rules", data=form(client, target="sku", sku="NOPE", kind="threshold",
                                                       threshold="-2", recipients="x@", active="1"),
                            headers=hx(client))
    assert bad.status_code == 422
    shown = text_of(bad.text)
    assert "There is no SKU with this code." in shown and "Enter a whole number of units, 0 or more." in shown
    assert "Enter email addresses separated by commas." in shown and 'value="NOPE"' in bad.text
    assert await db.fetchval("SELECT count(*) FROM stock_alert_rule") == 0

    ok = await client.post("/alerts/rules", data=form(client, target="category", sku="ignored", category="tea",
                                                      warehouse="HZ", kind="days_of_cover", cover_days="3",
                                                      demand_days="7", name="HZ tea", recipients="", active="1"),
                           headers=hx(client))
    assert ok.status_code == 200 and ok.headers.get("hx-trigger") == "rules-changed"
    assert "Rule created." in text_of(ok.text)
    rule = await db.fetchrow("SELECT * FROM stock_alert_rule")
    assert (rule["category"], rule["sku_id"], rule["kind"], rule["cover_days"], rule["demand_days"]) == (
        "tea", None, "days_of_cover", 3.0, 7)
    listed = await client.get("/alerts/rules", headers=hx(client))
    assert "HZ tea" in rows_text(listed.text, "rule-rows") and "3.0 days of cover or less" in listed.text

    edit = await client.get(f"/alerts/rules/{rule['id']}")
    assert edit.status_code == 200 and 'value="HZ tea"' in edit.text
    wrong = await client.post(f"/alerts/rules/{rule['id']}", data=form(
        client, target="category", category="tea", warehouse="HZ", kind="days_of_cover", cover_days="0",
        demand_days="7", name="HZ tea", active="1"), headers=hx(client))
    assert wrong.status_code == 422 and "Enter a number of days greater than 0." in text_of(wrong.text)
    saved = await client.post(f"/alerts/rules/{rule['id']}", data=form(
        client, target="sku", sku="CUP", warehouse="", kind="threshold", threshold="3", demand_days="14",
        name="Cups", active="0"))
    assert saved.status_code == 303
    rule = await db.fetchrow("SELECT * FROM stock_alert_rule")
    assert (rule["name"], rule["category"], rule["threshold"], rule["warehouse_id"], rule["active"]) == (
        "Cups", None, 3, None, False)

    gone = await client.post(f"/alerts/rules/{rule['id']}/delete", data=form(client),
                             headers=hx(client, **{"HX-Target": f"rule-{rule['id']}"}))
    assert gone.status_code == 200 and gone.text == ""
    assert await db.fetchval("SELECT count(*) FROM stock_alert_rule") == 0


async def test_roles_see_but_do_not_change(client, shop, users, merchant):
    await alerts.create_rule(shop["actor"], {"sku": "CUP", "kind": "threshold", "threshold": 5})
    rule_id = await db.fetchval("SELECT id FROM stock_alert_rule")
    alert_id = (await alert_ids(merchant["id"]))[0]
    finance = await users.make("finance", merchant=merchant)
    await sign_in(client, finance)
    page = await client.get("/alerts")
    assert page.status_code == 200 and "Acknowledge selected" not in page.text and "CUP" in page.text
    assert (await client.post("/alerts/acknowledge", data=form(client, ids=str(alert_id)))).status_code == 403
    assert (await client.post("/alerts/rules", data=form(client, sku="CUP", kind="threshold",
                                                         threshold="1"))).status_code == 403
    assert (await client.post(f"/alerts/rules/{rule_id}/delete", data=form(client))).status_code == 403
    rules = await client.get("/alerts/rules")
    assert rules.status_code == 200 and "Add a rule" not in rules.text
    assert (await client.get("/dev/mail")).status_code == 403
    assert await db.fetchval("SELECT status FROM stock_alert") == "open"


async def test_tenants_and_signed_out(client, shop, merchant, other_merchant, users):
    theirs = await world(other_merchant)
    await alerts.create_rule(theirs, {"sku": "CUP", "kind": "threshold", "threshold": 5, "name": "Theirs"})
    their_rule = await db.fetchval("SELECT id FROM stock_alert_rule")
    their_alert = await db.fetchval("SELECT id FROM stock_alert")
    assert (await client.get("/alerts")).status_code == 303
    await sign_in(client, shop["admin"])
    assert "Theirs" not in (await client.get("/alerts?status=all")).text
    assert (await client.get(f"/alerts/rules/{their_rule}")).status_code == 404
    assert (await client.post(f"/alerts/rules/{their_rule}/delete", data=form(client))).status_code == 404
    ack = await client.post("/alerts/acknowledge", data=form(client, ids=str(their_alert)), headers=hx(client))
    assert ack.status_code == 422
    assert await db.fetchval("SELECT status FROM stock_alert WHERE id = $1", their_alert) == "open"
    export = await client.get(f"/alerts/export.csv?status=all&ids={their_alert}")
    assert len(list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))) == 0


async def test_dev_mailbox_shows_captured_alert_mail_to_admins(client, shop, merchant, other_merchant):
    await alerts.create_rule(shop["actor"], {"sku": "CUP", "kind": "threshold", "threshold": 5})
    await alerts.notify(await db.fetchval("SELECT id FROM stock_alert"))
    theirs = await world(other_merchant)
    await alerts.create_rule(theirs, {"sku": "TEA", "kind": "threshold", "threshold": 99,
                                      "recipients": "them@other.example"})
    await alerts.notify(await db.fetchval("SELECT id FROM stock_alert WHERE merchant_id = $1", other_merchant["id"]))
    await sign_in(client, shop["admin"])
    box = await client.get("/dev/mail")
    assert box.status_code == 200
    rows = rows_text(box.text, "mail-rows")
    assert "boss@tea.example" in rows and "[OMS] Low stock: CUP has 3 available" in rows
    assert "them@other.example" not in rows
    mine = await db.fetchval("SELECT id FROM mail_message WHERE to_address = 'boss@tea.example'")
    other = await db.fetchval("SELECT id FROM mail_message WHERE to_address = 'them@other.example'")
    one = await client.get(f"/dev/mail/{mine}")
    assert one.status_code == 200 and "Available: 3" in one.text and "srcdoc=" in one.text
    assert (await client.get(f"/dev/mail/{other}")).status_code == 404


async def test_pages_in_chinese(client, shop):
    await db.execute("UPDATE app_user SET language = 'zh' WHERE id = $1", shop["admin"]["id"])
    await alerts.create_rule(shop["actor"], {"sku": "CUP", "kind": "threshold", "threshold": 5})
    await sign_in(client, shop["admin"])
    page = text_of((await client.get("/alerts")).text)
    assert "库存预警" in page and "全部仓库" in page
    rules = text_of((await client.get("/alerts/rules")).text)
    assert "预警规则" in rules


async def test_dashboard_badge_counts_open_alerts(client, shop, merchant, other_merchant):
    await sign_in(client, shop["admin"])
    page = await client.get("/")
    assert page.status_code == 200 and "No open stock alerts" in text_of(page.text)
    await alerts.create_rule(shop["actor"], {"category": "tea", "kind": "threshold", "threshold": 100})
    theirs = await world(other_merchant)
    await alerts.create_rule(theirs, {"sku": "CUP", "kind": "threshold", "threshold": 100})
    page = await client.get("/")
    assert "2 open stock alerts" in text_of(page.text) and 'href="/alerts?status=open"' in page.text
    await alerts.acknowledge(shop["actor"], [(await alerts.list_alerts(shop["actor"])).items[0]["id"]])
    assert "1 open stock alert" in text_of((await client.get("/")).text)
